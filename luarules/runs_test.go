package luarules_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

func loadWorker(t *testing.T, path string, cfg luarules.WorkerConfig) (*luarules.File, *luarules.Worker) {
	t.Helper()
	f, err := luarules.Load(path, luarules.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Worker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return f, w
}

// ruleOf is the rule with that identifier.
func ruleOf(t *testing.T, w *luarules.Worker, id string) ngxtasks.Rule {
	t.Helper()
	for _, r := range w.Rules() {
		if r.Identifier == id {
			return r
		}
	}
	t.Fatalf("no rule %q", id)
	return ngxtasks.Rule{}
}

// TestRunawayCallbackStoppedByTimeout: `while true do end` with timeout =
// 0.2 is stopped by the manager's run context; the run's error names the
// rule, its file and line and where it was stopped, and matches
// context.DeadlineExceeded and ngxtasks.ErrTimeout. The worker's state works afterwards.
func TestRunawayCallbackStoppedByTimeout(t *testing.T) {
	_, w := loadWorker(t, "testdata/runs.lua", luarules.WorkerConfig{Logger: quiet()})
	m := &ngxtasks.Manager{Logger: quiet()}
	shutdown(t, m)
	rs := newRuns()
	m.Observer = rs.observe
	if err := m.Push(ruleOf(t, w, "runaway"), ruleOf(t, w, "counter")); err != nil {
		t.Fatal(err)
	}
	if r := ruleOf(t, w, "runaway"); r.Timeout != 200*time.Millisecond {
		t.Fatalf("timeout %v", r.Timeout)
	}
	began := time.Now()
	err := m.Run(context.Background())
	took := time.Since(began)
	if err == nil {
		t.Fatal("the runaway callback returned no error")
	}
	if took > 5*time.Second {
		t.Fatalf("stopped after %v", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ngxtasks.ErrTimeout) {
		t.Errorf("error %v does not match both context.DeadlineExceeded and ngxtasks.ErrTimeout", err)
	}
	for _, want := range []string{`testdata/runs.lua:4: rule "runaway": callback: testdata/runs.lua:9: stopped: ngxtasks: rule timeout: context deadline exceeded`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// The state still runs Lua: counter ran in the same step, and runs again.
	if n := rs.count("counter", rs.slotOfAny("counter"), ""); n != 1 {
		t.Errorf("counter ran %d times", n)
	}
	cb := ruleOf(t, w, "counter").Callback
	if err := cb(context.Background(), ngxtasks.Firing{}); err != nil {
		t.Fatal(err)
	}
}

// TestLuaErrorsReported: a Lua error, raised or from a bad index, and an
// ngx field the shim lacks read where the scan cannot see it, are the
// run's error, naming the rule, its file and line and those of the error.
func TestLuaErrorsReported(t *testing.T) {
	_, w := loadWorker(t, "testdata/runs.lua", luarules.WorkerConfig{Logger: quiet()})
	for _, tc := range []struct{ id, want string }{
		{"fails", `testdata/runs.lua:13: rule "fails": callback: testdata/runs.lua:18: attempt to index a non-table object(nil) with key 'field'`},
		{"raises", `testdata/runs.lua:22: rule "raises": callback: testdata/runs.lua:26: boom from raises`},
		{"sneaky", `testdata/runs.lua:30: rule "sneaky": callback: testdata/runs.lua:35: ngx.timer is not provided by ngxtasks's ngx shim`},
	} {
		err := ruleOf(t, w, tc.id).Callback(context.Background(), ngxtasks.Firing{})
		var le *luarules.Error
		if !errors.As(err, &le) || le.Rule != tc.id || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.id, err, tc.want)
		}
	}
}

// TestSleepReturnsWhenContextEnds: ngx.sleep(30) returns when its run's
// context ends, by its timeout (0.2 s) or cancelled, and the callback
// stops there; while it sleeps, the worker's other callbacks run (it
// lets go of the state).
func TestSleepReturnsWhenContextEnds(t *testing.T) {
	log := &logged{}
	_, w := loadWorker(t, "testdata/runs.lua", luarules.WorkerConfig{Logger: log.logger()})
	sleeper := ruleOf(t, w, "sleeper")

	// By its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), sleeper.Timeout)
	defer cancel()
	began := time.Now()
	err := sleeper.Callback(ctx, ngxtasks.Firing{})
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("ngx.sleep(30) under a 0.2 s timeout returned after %v", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sleeper: %v, want context.DeadlineExceeded", err)
	}

	// Cancelled, after another callback ran while it slept.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sleeper.Callback(ctx, ngxtasks.Firing{}) }()
	for end := time.Now().Add(10 * time.Second); luarules.Inspect(w, "sleeper", "state")["asleep"] != true; {
		if time.Now().After(end) {
			t.Fatal("the sleeper never slept")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := ruleOf(t, w, "counter").Callback(context.Background(), ngxtasks.Firing{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("the sleeper returned (%v) before it was cancelled", err)
	default: // still asleep: the counter ran beside it
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("sleeper: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ngx.sleep(30) did not return when its context was cancelled")
	}
	if st := luarules.Inspect(w, "sleeper", "state"); st["woke"] == true {
		t.Error("the callback went on after its context ended")
	}
	recs := log.all()
	if len(recs) != 1 || recs[0].msg != "run 1 of counter" || recs[0].level != 0 || recs[0].attrs["rule"] != "counter" || recs[0].attrs["ngx_level"] != "notice" {
		t.Errorf("logged %+v", recs)
	}
}

// TestClosedWorker: a callback after Close returns ErrClosed.
func TestClosedWorker(t *testing.T) {
	_, w := loadWorker(t, "testdata/runs.lua", luarules.WorkerConfig{Logger: quiet()})
	cb := ruleOf(t, w, "counter").Callback
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cb(context.Background(), ngxtasks.Firing{}); !errors.Is(err, luarules.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestWorkersMadeConcurrently: a File makes Workers from several
// goroutines at once, each with its own state.
func TestWorkersMadeConcurrently(t *testing.T) {
	f, err := luarules.Load("testdata/seed/dingdong_keys.lua", luarules.Options{Logger: quiet(), Globals: map[string]any{"global_start_time": t0}})
	if err != nil {
		t.Fatal(err)
	}
	ws := make([]*luarules.Worker, 8)
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i := range ws {
		wg.Go(func() { ws[i], errs[i] = f.Worker(luarules.WorkerConfig{ID: i, Logger: quiet()}) })
	}
	wg.Wait()
	for i, w := range ws {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer w.Close()
		if len(w.Rules()) != 2 || w.Keys() == nil {
			t.Fatalf("worker %d: %d rules, keys %v", i, len(w.Rules()), w.Keys())
		}
	}
}

// TestShimShadowsOriginalModule: require('ngx_tasks') is the shim even
// with a copy of the original module in the rule file's folder.
func TestShimShadowsOriginalModule(t *testing.T) {
	f, err := luarules.Load("testdata/shadow/main.lua", luarules.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if rs := f.Rules(); len(rs) != 1 || rs[0].Identifier != "kept" {
		t.Fatalf("rules %+v", rs)
	}
}

// TestPushAndRemove: tasks:push and tasks.push add rules, tasks:remove
// and tasks.remove take them out again, in the file's order.
func TestPushAndRemove(t *testing.T) {
	f, err := luarules.Load("testdata/push_remove.lua", luarules.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range f.Rules() {
		ids = append(ids, r.Identifier)
	}
	if strings.Join(ids, ",") != "one,three" {
		t.Fatalf("rules %v", ids)
	}
}
