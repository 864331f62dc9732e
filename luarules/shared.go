package luarules

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ngxtasks/ngxtasks"
	lua "github.com/yuin/gopher-lua"
)

// ngx.shared.DICT, backed by the ngxtasks.Dict of WorkerConfig: the store
// the workers already share for their claims (in process, SQLite, Redis…),
// so that what one worker stores another reads, as with nginx's
// lua_shared_dict across its workers. Every dictionary name is accepted
// (nginx.conf declared them; here there is nothing to declare); keys are
// kept apart by it: <namespace>:shared:<DICT>:<key>.
//
// Differences with nginx, from what a Dict offers: set and delete need a
// Dict that is an ngxtasks.Setter (every backend of this repository is);
// delete stores an empty entry that lives a millisecond; incr is atomic
// among the workers made from one File (one process) by a lock, and across
// processes by a lease on <key>:incr where the Dict is an ngxtasks.Leaser
// (every backend of this repository is), held while the increment is read
// and written: an increment that takes longer than incrLease may be lost. Values keep their
// Lua type (string, number, boolean). An exptime of 0 keeps an entry for
// ten years.

// sharedMethods are the methods of ngx.shared.DICT the shim has.
var sharedMethods = map[string]bool{"get": true, "set": true, "add": true, "incr": true, "delete": true}

// forever is the lifetime of an entry stored with exptime 0.
const forever = 10 * 365 * 24 * time.Hour

// sharedTimeout bounds a dictionary call made outside a run (at load).
const sharedTimeout = 5 * time.Second

func (e *env) sharedTable(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	methods := L.NewTable()
	for name, fn := range map[string]lua.LGFunction{
		"get": e.sharedGet, "set": e.sharedSet, "add": e.sharedAdd,
		"incr": e.sharedIncr, "delete": e.sharedDelete,
	} {
		if !sharedMethods[name] {
			panic("luarules: sharedMethods lacks " + name)
		}
		methods.RawSetString(name, L.NewFunction(fn))
	}
	methods.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if v := methods.RawGetString(L.CheckString(2)); v != lua.LNil {
			L.Push(v)
			return 1
		}
		L.RaiseError("%s", missing("shared.DICT:"+L.CheckString(2)))
		return 0
	}))
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(2)
		d := L.NewTable()
		d.RawSetString("__name", lua.LString(name))
		L.SetMetatable(d, methods)
		L.RawSet(t, lua.LString(name), d)
		L.Push(d)
		return 1
	}))
	L.SetMetatable(t, mt)
	return t
}

// dictCall is the dictionary, the full key and a context for a method
// call dict:m(key, ...).
func (e *env) dictCall(L *lua.LState, method string) (ngxtasks.Dict, string, context.Context, context.CancelFunc) {
	self, ok := L.Get(1).(*lua.LTable)
	if !ok {
		L.RaiseError("ngx.shared.DICT.%s: call it with a colon, ngx.shared.DICT:%s(key, …)", method, method)
	}
	if e.cfg.Dict == nil {
		L.RaiseError("ngx.shared is not available: no dictionary was given (WorkerConfig.Dict)")
	}
	ns := e.cfg.Namespace
	if ns == "" {
		ns = "ngxtasks"
	}
	key := ns + ":shared:" + self.RawGetString("__name").String() + ":" + L.CheckString(2)
	ctx, cancel := context.WithTimeout(e.baseCtx(L), sharedTimeout)
	return e.cfg.Dict, key, ctx, cancel
}

// baseCtx is the run's context, or Background outside a run.
func (e *env) baseCtx(L *lua.LState) context.Context {
	if r := e.runOf(L); r != nil {
		return r.ctx
	}
	return context.Background()
}

func encodeValue(L *lua.LState, v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return "s:" + string(v)
	case lua.LNumber:
		return "n:" + strconv.FormatFloat(float64(v), 'g', -1, 64)
	case lua.LBool:
		if v {
			return "b:1"
		}
		return "b:0"
	}
	L.RaiseError("ngx.shared: bad value type %s (want a string, number or boolean)", v.Type())
	return ""
}

func decodeValue(s string) lua.LValue {
	if len(s) < 2 || s[1] != ':' {
		return lua.LNil
	}
	switch s[0] {
	case 's':
		return lua.LString(s[2:])
	case 'n':
		f, err := strconv.ParseFloat(s[2:], 64)
		if err != nil {
			return lua.LNil
		}
		return lua.LNumber(f)
	case 'b':
		return lua.LBool(s[2:] == "1")
	}
	return lua.LNil
}

func exptime(L *lua.LState, n int) time.Duration {
	secs := float64(L.OptNumber(n, 0))
	if secs <= 0 {
		return forever
	}
	return max(time.Duration(secs*float64(time.Second)), time.Millisecond)
}

// fail returns nil/false and the error, as ngx.shared's methods do.
func fail(L *lua.LState, first lua.LValue, err error) int {
	L.Push(first)
	L.Push(lua.LString(err.Error()))
	return 2
}

func (e *env) sharedGet(L *lua.LState) int {
	d, key, ctx, cancel := e.dictCall(L, "get")
	defer cancel()
	v, ok, err := d.Get(ctx, key)
	if err != nil {
		return fail(L, lua.LNil, err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(decodeValue(v))
	return 1
}

func (e *env) setter(L *lua.LState, d ngxtasks.Dict, method string) ngxtasks.Setter {
	s, ok := d.(ngxtasks.Setter)
	if !ok {
		L.RaiseError("ngx.shared.DICT:%s needs a dictionary that can overwrite (ngxtasks.Setter); %T cannot", method, d)
	}
	return s
}

func (e *env) sharedSet(L *lua.LState) int {
	d, key, ctx, cancel := e.dictCall(L, "set")
	defer cancel()
	val := encodeValue(L, L.Get(3))
	if err := e.setter(L, d, "set").Set(ctx, key, val, exptime(L, 4)); err != nil {
		return fail(L, lua.LFalse, err)
	}
	L.Push(lua.LTrue)
	L.Push(lua.LNil)
	L.Push(lua.LFalse)
	return 3
}

func (e *env) sharedAdd(L *lua.LState) int {
	d, key, ctx, cancel := e.dictCall(L, "add")
	defer cancel()
	added, err := d.Add(ctx, key, encodeValue(L, L.Get(3)), exptime(L, 4))
	if err != nil {
		return fail(L, lua.LFalse, err)
	}
	if !added {
		L.Push(lua.LFalse)
		L.Push(lua.LString("exists"))
		L.Push(lua.LFalse)
		return 3
	}
	L.Push(lua.LTrue)
	L.Push(lua.LNil)
	L.Push(lua.LFalse)
	return 3
}

func (e *env) sharedIncr(L *lua.LState) int {
	d, key, ctx, cancel := e.dictCall(L, "incr")
	defer cancel()
	by := L.CheckNumber(3)
	s := e.setter(L, d, "incr")
	e.incr.Lock()
	defer e.incr.Unlock()
	unlock, err := lockAcross(ctx, d, key, e.holder)
	if err != nil {
		return fail(L, lua.LNil, err)
	}
	defer unlock()
	v, ok, err := d.Get(ctx, key)
	if err != nil {
		return fail(L, lua.LNil, err)
	}
	var cur lua.LNumber
	switch old := decodeValue(v).(type) {
	case lua.LNumber:
		cur = old
	default:
		if ok && old != lua.LNil {
			L.Push(lua.LNil)
			L.Push(lua.LString("not a number"))
			return 2
		}
		init, isNum := L.Get(4).(lua.LNumber)
		if !isNum {
			L.Push(lua.LNil)
			L.Push(lua.LString("not found"))
			return 2
		}
		cur = init
	}
	cur += by
	if err := s.Set(ctx, key, encodeValue(L, cur), forever); err != nil {
		return fail(L, lua.LNil, err)
	}
	L.Push(cur)
	L.Push(lua.LNil)
	return 2
}

func (e *env) sharedDelete(L *lua.LState) int {
	d, key, ctx, cancel := e.dictCall(L, "delete")
	defer cancel()
	if err := e.setter(L, d, "delete").Set(ctx, key, "", time.Millisecond); err != nil {
		return fail(L, lua.LNil, err)
	}
	return 0
}

// incrLease bounds how long an increment holds its key's lock across
// processes: a process that dies holding it holds up the others that long.
const incrLease = 5 * time.Second

// lockAcross takes the lease that makes an increment of key atomic across
// processes, waiting for it (1 to 16 ms between tries) while ctx lasts,
// and returns the function that lets it go. A Dict that cannot lease gives
// no lock across processes.
func lockAcross(ctx context.Context, d ngxtasks.Dict, key, holder string) (func(), error) {
	l, ok := d.(ngxtasks.Leaser)
	if !ok {
		return func() {}, nil
	}
	lock := key + ":incr"
	for wait := time.Millisecond; ; wait = min(2*wait, 16*time.Millisecond) {
		r := ngxtasks.LeaseRequest{Key: lock, Holder: holder, TTL: incrLease}
		if err := l.Lease(ctx, &r); err != nil {
			return nil, err
		}
		if r.Acquired {
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
				defer cancel()
				_, _ = l.Release(ctx, lock, r.Token) // else it expires
			}, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("incr: the key is locked by %s: %w", r.HeldBy, ctx.Err())
		case <-t.C:
		}
	}
}
