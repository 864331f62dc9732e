package ngxtasks_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// blocking returns a callback that counts the runs going on at once and
// waits for release.
func blocking(log *runLog, release <-chan struct{}, now, most *atomic.Int32) ngxtasks.Func {
	return func(ctx context.Context, f ngxtasks.Firing) error {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		return log.callback(ctx, f)
	}
}

// hogs pushes a rule "hog" whose callback (cb) holds its place until the
// test releases it, and waits until it does.
func hogs(t *testing.T, m *ngxtasks.Manager, cb ngxtasks.Func, now *atomic.Int32) {
	t.Helper()
	if err := m.Push(ngxtasks.Rule{Identifier: "hog", Interval: time.Hour, Type: ngxtasks.Normal, Background: true, Callback: cb}); err != nil {
		t.Fatal(err)
	}
	_ = m.Run(context.Background())
	waitFor(t, func() bool { return now.Load() == 1 })
}

// TestMaxRunningBoundsCallbacks: six rules due at once under MaxRunning 2
// run two at a time, all of them within their slot.
func TestMaxRunningBoundsCallbacks(t *testing.T) {
	clock := newFakeClock(t0)
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, MaxRunning: 2, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	release := make(chan struct{})
	var now, most atomic.Int32
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := m.Push(ngxtasks.Rule{Identifier: id, Interval: time.Minute, Type: ngxtasks.Normal, Background: true,
			Callback: blocking(log, release, &now, &most)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = m.Run(context.Background())
	waitFor(t, func() bool { return now.Load() == 2 })
	time.Sleep(20 * time.Millisecond) // room for a third, were the bound broken
	close(release)
	waitFor(t, func() bool { return log.total() == 6 })
	if most.Load() != 2 {
		t.Fatalf("%d callbacks at once under MaxRunning 2", most.Load())
	}
	if skips := log.kinds(ngxtasks.EventSkipped); len(skips) != 0 {
		t.Fatalf("skipped %+v", skips)
	}
}

// TestMaxRunningSkipsWhatCannotStart: a slot that finds no room by its
// latest start (a tenth of the interval before its end) is skipped as busy,
// and said so by Stats and Explain; a rule allowed more runs gets in.
func TestMaxRunningSkipsWhatCannotStart(t *testing.T) {
	clock := newFakeClock(t0.Add(850 * time.Millisecond)) // 50 ms before the latest start of a 1 s slot
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, MaxRunning: 1, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	release := make(chan struct{})
	var now, most atomic.Int32
	hogs(t, m, blocking(log, release, &now, &most), &now)
	for _, r := range []ngxtasks.Rule{
		{Identifier: "waits", Interval: time.Second, Type: ngxtasks.Normal, Background: true, Callback: log.callback},
		{Identifier: "vip", Interval: time.Second, Type: ngxtasks.Normal, Background: true, MaxRunning: 2, Callback: log.callback},
	} {
		if err := m.Push(r); err != nil {
			t.Fatal(err)
		}
	}
	_ = m.Run(context.Background())
	waitFor(t, func() bool { return len(log.kinds(ngxtasks.EventSkipped)) == 1 })
	skip := log.kinds(ngxtasks.EventSkipped)[0]
	if skip.Rule.Identifier != "waits" || skip.Reason != ngxtasks.SkipBusy {
		t.Fatalf("skipped %s for %v; want waits for busy", skip.Rule.Identifier, skip.Reason)
	}
	waitFor(t, func() bool { return log.count("vip", skip.Slot.N) == 1 })
	close(release)
	waitFor(t, func() bool { return idle(m) })
	for _, st := range m.Stats() {
		if st.Identifier == "waits" && st.SkipsBy[ngxtasks.SkipBusy] != 1 {
			t.Fatalf("waits' skips: %v", st.SkipsBy)
		}
	}
	ex, err := m.Explain(context.Background(), "waits", skip.Slot.Start)
	if err != nil || !strings.Contains(ex.Why, "MaxRunning") {
		t.Fatalf("Explain: %v %v", ex, err)
	}
}

// TestWaitingSlotIsNotRunning: a slot waiting for room is not in the way
// of the rule's next slot (no overlap), and the two go in the order their
// slots end: the first, past its latest start, is skipped as busy; the
// second runs once there is room.
func TestWaitingSlotIsNotRunning(t *testing.T) {
	// tick's first slot [t0, t0+10s) has its latest start (t0+9s) half a
	// second away; its second is taken at its start, nine seconds before
	// its own.
	clock := newFakeClock(t0.Add(8500 * time.Millisecond))
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, MaxRunning: 1, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	release := make(chan struct{})
	var now, most atomic.Int32
	hogs(t, m, blocking(log, release, &now, &most), &now)
	if err := m.Push(ngxtasks.Rule{Identifier: "tick", Interval: 10 * time.Second, Type: ngxtasks.Normal, Background: true, Callback: log.callback}); err != nil {
		t.Fatal(err)
	}
	_ = m.Run(context.Background()) // tick's first slot waits
	clock.Set(t0.Add(10 * time.Second))
	_ = m.Run(context.Background()) // its second slot: not an overlap, it waits too
	waitFor(t, func() bool { return len(log.kinds(ngxtasks.EventSkipped)) >= 1 })
	close(release)
	waitFor(t, func() bool { return idle(m) && log.total() == 2 }) // hog and tick's second slot
	skips := log.kinds(ngxtasks.EventSkipped)
	if len(skips) != 1 || skips[0].Reason != ngxtasks.SkipBusy || skips[0].Rule.Identifier != "tick" {
		t.Fatalf("skips %+v; want tick's first slot, busy", skips)
	}
	first := skips[0].Slot.N
	if log.count("tick", first) != 0 || log.count("tick", first+1) != 1 {
		t.Fatalf("tick ran slot %d %d times and slot %d %d times; want 0 and 1",
			first, log.count("tick", first), first+1, log.count("tick", first+1))
	}
}

func TestMaxRunningRefusedNegative(t *testing.T) {
	m := &ngxtasks.Manager{MaxRunning: -1}
	if err := m.Push(); err == nil || !strings.Contains(err.Error(), "MaxRunning") {
		t.Fatalf("Manager.MaxRunning -1: %v", err)
	}
	r := ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, MaxRunning: -1,
		Callback: func(context.Context, ngxtasks.Firing) error { return nil }}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "MaxRunning") {
		t.Fatalf("Rule.MaxRunning -1: %v", err)
	}
}
