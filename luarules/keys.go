package luarules

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
	lua "github.com/yuin/gopher-lua"
)

// The seed's replaceable key generator, keys(self, task, now) returning
// (slot, key), as an ngxtasks.KeyGenerator. The seed's generator only
// numbers slots; a KeyGenerator also says when a slot begins and ends, so
// the Lua function is asked where its number changes: from the instant
// asked about, back and forth by the rule's interval, then halving to the
// millisecond. Every worker asks the same function the same questions, so
// every worker finds the same boundaries. That costs about thirty calls
// of the Lua function when a rule enters a new slot, and none while it
// stays in it.
//
// now is passed in seconds with milliseconds, as ngx.now() gives it (the
// seed passed whole seconds, which is why its slots could not be shorter
// than one). The generator must number slots so that each number holds
// one stretch of time: a step function of now. The boundaries are where
// the function's own arithmetic puts them: a division of now (about 1.8e9
// seconds) by 0.3 may put one a millisecond off the exact instant, the
// same in every worker.

// keysTimeout bounds one call of the Lua generator.
const keysTimeout = time.Second

// keysSearchSteps bounds how far a boundary is looked for: the interval
// doubled this many times.
const keysSearchSteps = 24

// luaKeys runs a file's keys function in a Lua state of its own.
type luaKeys struct {
	mu     sync.Mutex
	L      *lua.LState
	fn     *lua.LFunction
	self   *lua.LTable
	tasks  map[string]*lua.LTable // the rule tables of this state, by identifier
	last   map[string]keySlot     // the latest slot found, by identifier
	warned map[string]bool
	logger *slog.Logger
	closed bool
}

type keySlot struct {
	slot ngxtasks.Slot
	name string
}

func newLuaKeys(f *File, cfg WorkerConfig) (*luaKeys, error) {
	e := f.newEnv(cfg)
	L := newState(e)
	defs, errs := e.load(L)
	if len(errs) > 0 {
		L.Close()
		return nil, joinErrors(errs)
	}
	if e.keysFn == nil {
		L.Close()
		return nil, &Error{File: f.path, Field: "keys", Msg: "was set when the file was loaded, and not in this worker"}
	}
	k := &luaKeys{L: L, fn: e.keysFn, self: e.keysSelf, tasks: map[string]*lua.LTable{},
		last: map[string]keySlot{}, warned: map[string]bool{}, logger: e.logger}
	for _, d := range defs {
		k.tasks[d.info.Identifier] = d.table
	}
	return k, nil
}

func (k *luaKeys) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	k.L.Close()
}

// evalKeys calls keys(self, task, ms/1000) and returns the slot number
// (floored) and the key.
func evalKeys(L *lua.LState, fn *lua.LFunction, self, task *lua.LTable, ms int64) (int64, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), keysTimeout)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	L.Push(fn)
	L.Push(self)
	L.Push(task)
	L.Push(lua.LNumber(float64(ms) / 1000))
	if err := L.PCall(3, 2, nil); err != nil {
		return 0, "", luaError("", err, ctx)
	}
	nv, kv := L.Get(-2), L.Get(-1)
	L.Pop(2)
	n, ok := nv.(lua.LNumber)
	if !ok || math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return 0, "", fmt.Errorf("returned %s as the slot, not a finite number", L.ToStringMeta(nv).String())
	}
	var key string
	switch kv := kv.(type) {
	case lua.LString:
		key = string(kv)
	case lua.LNumber:
		key = kv.String()
	default:
		return 0, "", fmt.Errorf("returned a %s as the key, not a string", kv.Type())
	}
	if key == "" {
		return 0, "", fmt.Errorf("returned an empty key")
	}
	return int64(math.Floor(float64(n))), key, nil
}

// checkKeys calls the generator once for every rule, at load, so that a
// generator that fails (base_time unset, say) is reported then.
func (e *env) checkKeys(L *lua.LState, defs []*ruleDef) []*Error {
	var errs []*Error
	now := e.now().UnixMilli()
	for _, d := range defs {
		if _, _, err := evalKeys(L, e.keysFn, e.keysSelf, d.table, now); err != nil {
			out := &Error{File: e.path, Rule: d.info.Identifier, Field: "keys", Msg: err.Error()}
			if le, ok := err.(*Error); ok {
				out.File, out.Line, out.Msg = le.File, le.Line, le.Msg
				if out.File == "" {
					out.File = e.path
				}
			} else if fi := e.keysFn.Proto; fi != nil {
				out.File, out.Line = fi.SourceName, fi.LineDefined
			}
			errs = append(errs, out)
		}
	}
	return errs
}

// Slot implements ngxtasks.KeyGenerator.
func (k *luaKeys) Slot(r *ngxtasks.Rule, t time.Time) ngxtasks.Slot {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.last[r.Identifier]; ok && !t.Before(c.slot.Start) && t.Before(c.slot.End) {
		return c.slot
	}
	s, name, err := k.find(r, t.UnixMilli())
	if err != nil {
		if !k.warned[r.Identifier] {
			k.warned[r.Identifier] = true
			k.logger.Error("luarules: the keys generator failed; the rule's slots are counted from the epoch meanwhile", "rule", r.Identifier, "error", err)
		}
		return ngxtasks.EpochKeys{}.Slot(r, t)
	}
	k.last[r.Identifier] = keySlot{slot: s, name: name}
	return s
}

// Name implements ngxtasks.KeyGenerator.
func (k *luaKeys) Name(r *ngxtasks.Rule, s ngxtasks.Slot) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.last[r.Identifier]; ok && c.slot.N == s.N && c.slot.Start.Equal(s.Start) {
		return c.name
	}
	task := k.tasks[r.Identifier]
	if task == nil || k.closed {
		return r.Identifier
	}
	_, name, err := evalKeys(k.L, k.fn, k.self, task, s.Start.UnixMilli())
	if err != nil {
		return r.Identifier
	}
	return name
}

// find locates the slot holding ms: its number, its boundaries to the
// millisecond, and its key. Called under mu.
func (k *luaKeys) find(r *ngxtasks.Rule, ms int64) (ngxtasks.Slot, string, error) {
	task := k.tasks[r.Identifier]
	if task == nil {
		return ngxtasks.Slot{}, "", fmt.Errorf("rule %q is not in the keys state", r.Identifier)
	}
	if k.closed {
		return ngxtasks.Slot{}, "", ErrClosed
	}
	n, name, err := evalKeys(k.L, k.fn, k.self, task, ms)
	if err != nil {
		return ngxtasks.Slot{}, "", err
	}
	slotAt := func(at int64) (int64, error) {
		m, _, err := evalKeys(k.L, k.fn, k.self, task, at)
		return m, err
	}
	iv := max(r.Interval.Milliseconds(), 1)
	// The start: the first millisecond numbered n, after one that is not.
	out, in := ms, ms
	for i := 0; ; i++ {
		if i == keysSearchSteps {
			return ngxtasks.Slot{}, "", fmt.Errorf("slot %d has no start within %v before %v", n, time.Duration(iv<<i)*time.Millisecond, time.UnixMilli(ms))
		}
		out = ms - iv<<i
		m, err := slotAt(out)
		if err != nil {
			return ngxtasks.Slot{}, "", err
		}
		if m != n {
			break
		}
		in = out
	}
	for in-out > 1 {
		mid := out + (in-out)/2
		m, err := slotAt(mid)
		if err != nil {
			return ngxtasks.Slot{}, "", err
		}
		if m == n {
			in = mid
		} else {
			out = mid
		}
	}
	start := in
	// The end: the first millisecond after ms not numbered n.
	in, out = ms, ms
	for i := 0; ; i++ {
		if i == keysSearchSteps {
			return ngxtasks.Slot{}, "", fmt.Errorf("slot %d has no end within %v after %v", n, time.Duration(iv<<i)*time.Millisecond, time.UnixMilli(ms))
		}
		out = ms + iv<<i
		m, err := slotAt(out)
		if err != nil {
			return ngxtasks.Slot{}, "", err
		}
		if m != n {
			break
		}
		in = out
	}
	for out-in > 1 {
		mid := in + (out-in)/2
		m, err := slotAt(mid)
		if err != nil {
			return ngxtasks.Slot{}, "", err
		}
		if m == n {
			in = mid
		} else {
			out = mid
		}
	}
	return ngxtasks.Slot{N: n, Start: time.UnixMilli(start), End: time.UnixMilli(out)}, name, nil
}
