package worker

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// A Lua rule file's callbacks run in a Lua state of this worker process:
// one luarules.Worker, made from the file as loaded, as an nginx worker
// had one VM. A reload of a changed file makes a new state, and every
// rule of the file is a new definition (see rulefile.Lua), so Replace
// swaps them all; the old state is closed once the runs it still owes
// are done. A reload of an unchanged file keeps the state, as Replace
// keeps the rules.

// luaState is one Lua state and the runs going on in it.
type luaState struct {
	digest string
	lw     *luarules.Worker
	rules  map[string]ngxtasks.Rule // the state's callbacks, by identifier
	keys   ngxtasks.KeyGenerator    // the file's tasks.keys, nil for none

	mu      sync.Mutex
	runs    int
	retired bool // a newer state took over: close when runs end
	closed  bool
}

// retireDelay is how long a replaced state stays open with no run going:
// a slot its rules took just before the reload (its claim in flight) may
// still start in it. A variable for the tests.
var retireDelay = 5 * time.Second

// newLuaState makes this worker's state for f.
func (w *worker) newLuaState(f *rulefile.File) (*luaState, error) {
	lw, err := f.Lua.Worker(luarules.WorkerConfig{
		ID:        w.hello.Index,
		PID:       os.Getpid(),
		Count:     w.hello.Count,
		Dict:      w.m.Dict, // ngx.shared: the worker's dictionary, under the file's namespace
		Namespace: w.m.Namespace,
		Clock:     w.m.Clock,
		Logger:    w.log.With("worker", w.hello.Worker),
	})
	if err != nil {
		return nil, err
	}
	st := &luaState{digest: f.LuaDigest, lw: lw, keys: lw.Keys(), rules: make(map[string]ngxtasks.Rule)}
	for _, r := range lw.Rules() {
		st.rules[r.Identifier] = r
	}
	return st, nil
}

// luaFor returns the state f's rules run in: the current one when f is
// the file it was made from, else a new one, which becomes current.
func (w *worker) luaFor(f *rulefile.File) (st *luaState, fresh bool, err error) {
	w.luaMu.Lock()
	cur := w.lua
	w.luaMu.Unlock()
	if cur != nil && cur.digest == f.LuaDigest {
		return cur, false, nil
	}
	st, err = w.newLuaState(f)
	if err != nil {
		return nil, false, err
	}
	return st, true, nil
}

// setLua makes st the current state, before its rules go to the manager
// (whose Keys, luaKeys, follows the current state), and returns the one
// before.
func (w *worker) setLua(st *luaState) (old *luaState) {
	w.luaMu.Lock()
	defer w.luaMu.Unlock()
	old, w.lua = w.lua, st
	return old
}

// retireLater retires a state that is no longer current, once the slots
// its rules took before the swap had time to start.
func retireLater(old *luaState) {
	if old != nil {
		time.AfterFunc(retireDelay, old.retire)
	}
}

// currentLua is the state the latest file's rules run in.
func (w *worker) currentLua() *luaState {
	w.luaMu.Lock()
	defer w.luaMu.Unlock()
	return w.lua
}

// closeLua closes the current state, at the worker's end.
func (w *worker) closeLua() {
	if st := w.currentLua(); st != nil {
		st.retire()
	}
}

// acquire counts a run in the state; false when it is closed.
func (st *luaState) acquire() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return false
	}
	st.runs++
	return true
}

// release ends a run counted by acquire.
func (st *luaState) release() {
	st.mu.Lock()
	st.runs--
	done := st.retired && st.runs == 0 && !st.closed
	if done {
		st.closed = true
	}
	st.mu.Unlock()
	if done {
		_ = st.lw.Close()
	}
}

// retire closes the state now if no run goes on in it, else when the last
// one ends.
func (st *luaState) retire() {
	st.mu.Lock()
	st.retired = true
	done := st.runs == 0 && !st.closed
	if done {
		st.closed = true
	}
	st.mu.Unlock()
	if done {
		_ = st.lw.Close()
	}
}

// enter finds the state a run of rule id made in st runs in: st, or, when
// st was closed meanwhile (a slot taken just before a reload, started
// after its grace), the current one. release must be called after.
func (w *worker) enter(st *luaState, id string) (*luaState, ngxtasks.Rule, error) {
	if !st.acquire() {
		st = w.currentLua()
		if st == nil || !st.acquire() {
			return nil, ngxtasks.Rule{}, fmt.Errorf("rule %q: its Lua state is closed", id)
		}
	}
	r, ok := st.rules[id]
	if !ok {
		st.release()
		return nil, ngxtasks.Rule{}, fmt.Errorf("rule %q is not in the reloaded Lua file", id)
	}
	return st, r, nil
}

// luaCall runs the rule's Lua callback in st.
func (w *worker) luaCall(ctx context.Context, st *luaState, id string, f ngxtasks.Firing) error {
	st, r, err := w.enter(st, id)
	if err != nil {
		return err
	}
	defer st.release()
	return r.Callback(ctx, f)
}

// luaFilter is the rule's Lua filter, or nil when its table has none.
func (w *worker) luaFilter(st *luaState, id string) func(context.Context, ngxtasks.Firing) bool {
	if st.rules[id].Filter == nil {
		return nil
	}
	return func(ctx context.Context, f ngxtasks.Firing) bool {
		st, r, err := w.enter(st, id)
		if err != nil || r.Filter == nil {
			return false
		}
		defer st.release()
		return r.Filter(ctx, f)
	}
}

// luaKeys is the manager's KeyGenerator in a worker of a Lua file: the
// current state's tasks.keys, or EpochKeys when the file sets none. It is
// set for every Lua file, since a Manager's Keys cannot change after its
// first use and a reload may add or drop tasks.keys.
type luaKeys struct{ w *worker }

func (k luaKeys) gen() ngxtasks.KeyGenerator {
	if st := k.w.currentLua(); st != nil && st.keys != nil {
		return st.keys
	}
	return ngxtasks.EpochKeys{}
}

// Slot implements ngxtasks.KeyGenerator.
func (k luaKeys) Slot(r *ngxtasks.Rule, t time.Time) ngxtasks.Slot { return k.gen().Slot(r, t) }

// Name implements ngxtasks.KeyGenerator.
func (k luaKeys) Name(r *ngxtasks.Rule, s ngxtasks.Slot) string { return k.gen().Name(r, s) }
