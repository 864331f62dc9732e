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

// TestNgxOutsideRequests: print logs at NOTICE; ngx's clock functions read WorkerConfig.Clock,
// ngx.worker tells the worker, the constants are nginx's; ngx.exit ends a
// timer's callback without error; ngx.var without a request is an error
// saying so.
func TestNgxOutsideRequests(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 456_000_000, time.UTC)
	log := &logged{}
	_, w := loadWorker(t, "testdata/ngx.lua", luarules.WorkerConfig{ID: 2, PID: 4242, Count: 4, Clock: newFakeClock(at), Logger: log.logger()})
	ctx := context.Background()
	if err := ruleOf(t, w, "clock").Callback(ctx, ngxtasks.Firing{}); err != nil {
		t.Fatal(err)
	}
	if recs := log.all(); len(recs) != 1 || recs[0].msg != "printed 1 line" || recs[0].attrs["ngx_level"] != "notice" || recs[0].attrs["lua"] != "testdata/ngx.lua:8" {
		t.Errorf("print logged %+v", recs)
	}
	seen := luarules.Inspect(w, "clock", "seen")
	local := at.Local()
	want := map[string]any{
		"now": 1796691723.456, "time": 1796691723.0,
		"today": local.Format("2006-01-02"), "localtime": local.Format("2006-01-02 15:04:05"),
		"utctime": "2026-12-08 01:02:03", "id": 2.0, "pid": 4242.0, "count": 4.0,
		"ok": 0.0, "http_ok": 200.0, "err": 4.0, "debug": 8.0,
	}
	if at.Unix() != 1796691723 {
		t.Fatalf("test clock %d", at.Unix())
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, seen[k], seen[k], v)
		}
	}

	if err := ruleOf(t, w, "exits").Callback(ctx, ngxtasks.Firing{}); err != nil {
		t.Fatalf("ngx.exit in a timer's callback: %v", err)
	}

	err := ruleOf(t, w, "wants-request").Callback(ctx, ngxtasks.Firing{})
	var le *luarules.Error
	if !errors.As(err, &le) || !strings.Contains(err.Error(), `ngx.var.uri needs a request, and rule "wants-request" ran without one`) {
		t.Errorf("ngx.var without a request: %v", err)
	}
}

// TestRuleFields: the seed's fields, fractions of a second included, and
// ngxtasks's own (timeout, drive, offset, spread, background) reach the
// ngxtasks.Rule; Options.Timeout is the default timeout.
func TestRuleFields(t *testing.T) {
	f, err := luarules.Load("testdata/ngx.lua", luarules.Options{Timeout: 3 * time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Worker(luarules.WorkerConfig{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d := ruleOf(t, w, "defaults")
	if d.Interval != 250*time.Millisecond || d.Type != ngxtasks.Preemption || d.Timeout != 3*time.Second || d.Drive != ngxtasks.DriveAny || d.Callback == nil || d.Filter != nil {
		t.Errorf("defaults: %+v", d)
	}
	o := ruleOf(t, w, "ours")
	if o.Interval != 2*time.Second || o.Timeout != 1500*time.Millisecond || o.Drive != ngxtasks.DriveTimer || o.Offset != 500*time.Millisecond || o.Spread || !o.Background {
		t.Errorf("ours: %+v", o)
	}
	for _, info := range f.Rules() {
		if info.Identifier == "ours" && (info.Timeout != 1500*time.Millisecond || info.Drive != ngxtasks.DriveTimer || info.Line != 43 ||
			info.Offset != 500*time.Millisecond || info.Spread || !info.Background) {
			t.Errorf("info %+v", info)
		}
	}
}

// TestConcurrentCallbacks: one worker's callbacks called from 8
// goroutines at once (as the manager's timer loop does) run one at a time
// in its Lua state, ngx.sleep letting the others in: no run is lost and
// the race detector finds nothing.
func TestConcurrentCallbacks(t *testing.T) {
	_, w := loadWorker(t, "testdata/concurrent.lua", luarules.WorkerConfig{Logger: quiet()})
	var wg sync.WaitGroup
	const goroutines, each = 8, 50
	for g := range goroutines {
		id := "a"
		if g%2 == 1 {
			id = "b"
		}
		cb := ruleOf(t, w, id).Callback
		wg.Go(func() {
			for range each {
				if err := cb(context.Background(), ngxtasks.Firing{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := luarules.Inspect(w, "a", "counts")
	if got["a"] != float64(goroutines/2*each) || got["b"] != float64(goroutines/2*each) || got["max_inside"] != 1.0 {
		t.Errorf("counts %v", got)
	}
}

// TestCoroutinesAndOsExit: ngx works inside a coroutine of a callback
// (ngx.sleep included); os.exit is an error, not the end of the process.
func TestCoroutinesAndOsExit(t *testing.T) {
	_, w := loadWorker(t, "testdata/ngx.lua", luarules.WorkerConfig{ID: 5, Logger: quiet()})
	ctx := context.Background()
	if err := ruleOf(t, w, "coroutines").Callback(ctx, ngxtasks.Firing{}); err != nil {
		t.Fatal(err)
	}
	if seen := luarules.Inspect(w, "coroutines", "seen"); seen["first"] != 5.0 || seen["second"] != "done" {
		t.Errorf("seen %v", seen)
	}
	err := ruleOf(t, w, "quits").Callback(ctx, ngxtasks.Firing{})
	if err == nil || !strings.Contains(err.Error(), "os.exit is refused") {
		t.Fatalf("os.exit: %v", err)
	}
}
