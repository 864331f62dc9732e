package luarules

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ngxtasks/ngxtasks"
	lua "github.com/yuin/gopher-lua"
)

// WorkerConfig is what a worker's Lua state knows of its worker.
type WorkerConfig struct {
	ID    int // ngx.worker.id()
	PID   int // ngx.worker.pid(); zero is this process's
	Count int // ngx.worker.count(); zero is 1
	// Dict backs ngx.shared.*: give it the Manager's Dict, so that every
	// worker sharing claims shares these values too. Nil makes ngx.shared
	// an error.
	Dict ngxtasks.Dict
	// Namespace prefixes ngx.shared's keys (<Namespace>:shared:<DICT>:<key>);
	// empty is "ngxtasks".
	Namespace string
	// Logger receives ngx.log; nil is the Options.Logger of Load.
	Logger *slog.Logger
	// Clock is ngx.now and friends' time; nil is the system clock. Give it
	// the Manager's Clock.
	Clock ngxtasks.Clock
}

// A Worker is a rule file loaded in a Lua state of its own, for one
// worker (one Manager). The file runs again in it, so each worker has its
// own globals and rule tables, as each nginx worker has its own Lua VM.
//
// One lock guards the state: a worker's callbacks and filters run one at a
// time, as on an nginx worker's single thread, each in a Lua thread (a
// coroutine's stack) of its own. ngx.sleep lets go of the lock while it
// waits, as it yields in nginx, so a sleeping callback does not hold up
// the others. The trade-off: a callback busy computing holds up the
// worker's other Lua callbacks (not its Go ones, nor its timer loop, which
// starts runs on goroutines of their own) until it returns or its timeout
// stops it; run CPU-heavy rules in a worker of
// their own, or give them a timeout. Concurrent Managers each need their
// own Worker.
type Worker struct {
	file  *File
	env   *env
	mu    sync.Mutex
	state *lua.LState   // the main state; runs happen in its threads
	idle  []*lua.LState // threads free for a run
	rules []ngxtasks.Rule
	defs  []*ruleDef
	keys  *luaKeys
	// closed is set under mu by Close.
	closed bool
}

// maxIdleThreads is how many Lua threads a worker keeps for reuse.
const maxIdleThreads = 8

// Worker makes a fresh Lua state for one worker and loads the file in it
// again. It fails if the file then defines other rules than Load saw (a
// file whose rules depend on the worker).
func (f *File) Worker(cfg WorkerConfig) (*Worker, error) {
	e := f.newEnv(cfg)
	w := &Worker{file: f, env: e}
	e.mu = &w.mu
	w.state = newState(e)
	defs, errs := e.load(w.state)
	if len(errs) > 0 {
		w.state.Close()
		return nil, joinErrors(errs)
	}
	if len(defs) != len(f.rules) {
		w.state.Close()
		return nil, &Error{File: f.path, Msg: fmt.Sprintf("defined %d rules in worker %d, and %d when it was loaded", len(defs), cfg.ID, len(f.rules))}
	}
	for i, d := range defs {
		if d.info.Identifier != f.rules[i].Identifier {
			w.state.Close()
			return nil, &Error{File: d.info.File, Line: d.info.Line, Rule: d.info.Identifier,
				Msg: fmt.Sprintf("defined in worker %d where %q was when the file was loaded", cfg.ID, f.rules[i].Identifier)}
		}
		r := d.rule
		r.Callback = w.callback(d)
		if d.filter != nil {
			r.Filter = w.filter(d)
		}
		w.rules = append(w.rules, r)
	}
	w.defs = defs
	if f.keys {
		k, err := newLuaKeys(f, cfg)
		if err != nil {
			w.state.Close()
			return nil, err
		}
		w.keys = k
	}
	return w, nil
}

// Rules are the file's rules, whose callbacks and filters run in this
// worker's Lua state: push them into this worker's Manager only.
func (w *Worker) Rules() []ngxtasks.Rule { return append([]ngxtasks.Rule(nil), w.rules...) }

// Keys is the file's tasks.keys generator, or nil when it set none: give
// it to the Manager (Manager.Keys). Its Lua function runs in a Lua state
// of its own, so that slot arithmetic never waits for a callback.
func (w *Worker) Keys() ngxtasks.KeyGenerator {
	if w.keys == nil {
		return nil
	}
	return w.keys
}

// Close releases the Lua states. Callbacks called afterwards return
// ErrClosed; a callback running holds Close up until it returns.
func (w *Worker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.env.closed = true
	w.state.Close()
	w.idle = nil
	if w.keys != nil {
		w.keys.close()
	}
	return nil
}

func (w *Worker) callback(d *ruleDef) ngxtasks.Func {
	return func(ctx context.Context, f ngxtasks.Firing) error {
		_, err := w.call(ctx, d, d.callback, f.Exchange, "callback")
		return err
	}
}

// filter is a Lua filter(self): a truthy result lets the rule run. A
// filter that fails vetoes the run, and is logged.
func (w *Worker) filter(d *ruleDef) ngxtasks.Filter {
	return func(ctx context.Context, f ngxtasks.Firing) bool {
		v, err := w.call(ctx, d, d.filter, f.Exchange, "filter")
		if err != nil {
			w.env.logger.Error("luarules: filter failed; the rule does not run", "rule", d.info.Identifier, "error", err)
			return false
		}
		return lua.LVAsBool(v)
	}
}

// call runs fn(self) in a thread of the worker's state, under ctx: its end
// stops the Lua code at its next instruction.
func (w *Worker) call(ctx context.Context, d *ruleDef, fn *lua.LFunction, ex *ngxtasks.Exchange, what string) (ret lua.LValue, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return lua.LNil, ErrClosed
	}
	th, tr := w.thread()
	tr.run = run{ctx: ctx, def: d, ex: ex}
	tr.active = true
	r := &tr.run
	ok := false
	defer func() {
		tr.active = false
		tr.run = run{}
		th.RemoveContext()
		if p := recover(); p != nil {
			err = &Error{File: d.info.File, Line: d.info.Line, Rule: d.info.Identifier, Field: what, Msg: fmt.Sprintf("panic: %v", p)}
			ok = false
		}
		if ok && len(w.idle) < maxIdleThreads {
			th.SetTop(0)
			w.idle = append(w.idle, th)
		} else {
			delete(w.env.runs, th) // a thread whose run failed is not reused
		}
	}()
	th.SetContext(ctx)
	th.Push(fn)
	th.Push(d.table)
	if perr := th.PCall(1, 1, nil); perr != nil {
		if ae, isAPI := perr.(*lua.ApiError); isAPI && ae.Object == w.env.exitMarker {
			ok = true
			r.finish()
			return lua.LNil, nil
		}
		le := luaError(d.info.File, perr, ctx)
		return lua.LNil, &Error{File: d.info.File, Line: d.info.Line, Rule: d.info.Identifier, Field: what, Msg: le.located(), Err: le.Err}
	}
	ret = th.Get(-1)
	th.Pop(1)
	ok = true
	if what == "callback" {
		r.finish()
	}
	return ret, nil
}

// thread returns an idle Lua thread, or a new one, and its run. Called
// under mu.
func (w *Worker) thread() (*lua.LState, *threadRun) {
	if n := len(w.idle); n > 0 {
		th := w.idle[n-1]
		w.idle = w.idle[:n-1]
		return th, w.env.runs[th]
	}
	th, _ := w.state.NewThread() // the main state has no context: no cancel func
	tr := &threadRun{}
	w.env.runs[th] = tr
	return th, tr
}

// threadRun is the run a thread of the worker's state is in, if active;
// kept with the thread so that a run costs no allocation of its own.
type threadRun struct {
	run    run
	active bool
}
