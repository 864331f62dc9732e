package ngxtasks_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// A rule keyed by MidnightKeys fires again after midnight, when its slot
// numbers start over from 0.
func TestMidnightKeysFireAfterMidnight(t *testing.T) {
	zone := time.FixedZone("UTC+9", 9*3600)
	clock := newFakeClock(time.Date(2026, 3, 1, 23, 59, 51, 0, zone))
	log := newRunLog()
	m := &ngxtasks.Manager{Keys: ngxtasks.MidnightKeys{Location: zone}, Clock: clock, Logger: quiet()}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: 10 * time.Second, Type: ngxtasks.Normal, Callback: log.callback}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, step := range []struct {
		at   time.Time
		runs int
	}{
		{time.Date(2026, 3, 1, 23, 59, 51, 0, zone), 1}, // slot 8639 of the day
		{time.Date(2026, 3, 1, 23, 59, 59, 0, zone), 1}, // still slot 8639
		{time.Date(2026, 3, 2, 0, 0, 1, 0, zone), 2},    // slot 0 of the next day
		{time.Date(2026, 3, 2, 0, 0, 11, 0, zone), 3},   // slot 1
	} {
		clock.Set(step.at)
		if err := m.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if got := log.total(); got != step.runs {
			t.Fatalf("at %v: %d runs, want %d", step.at, got, step.runs)
		}
	}
}

// jumpClock is the real clock plus an offset that a test can step forward,
// as a process that was paused sees it.
type jumpClock struct{ offset atomic.Int64 }

func (c *jumpClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// TestTimerLoopReportsMissedSlots: slots that pass while the timer loop
// cannot run (here, the clock jumps 1 s) are reported as SkipBehind with
// their count, not dropped silently.
func TestTimerLoopReportsMissedSlots(t *testing.T) {
	clock := &jumpClock{}
	var (
		mu     sync.Mutex
		behind []ngxtasks.Event
	)
	got := make(chan struct{}, 1)
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet(), Observer: func(ev ngxtasks.Event) {
		if ev.Kind == ngxtasks.EventSkipped && ev.Reason == ngxtasks.SkipBehind {
			mu.Lock()
			behind = append(behind, ev)
			mu.Unlock()
			select {
			case got <- struct{}{}:
			default:
			}
		}
	}}
	noop := func(context.Context, ngxtasks.Firing) error { return nil }
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: 100 * time.Millisecond, Type: ngxtasks.Normal, Callback: noop}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	defer func() {
		cancel()
		<-done
		shutdown(t, m)
	}()
	time.Sleep(250 * time.Millisecond)
	mu.Lock()
	if len(behind) > 0 {
		t.Errorf("slots reported missed before the jump: %+v", behind)
	}
	mu.Unlock()
	clock.offset.Add(int64(time.Second))
	select {
	case <-got:
	case <-time.After(3 * time.Second):
		t.Fatal("no SkipBehind event after the clock jumped 1 s")
	}
	mu.Lock()
	ev := behind[0]
	mu.Unlock()
	if ev.Missed < 9 || ev.Missed > 11 {
		t.Errorf("Missed = %d, want about 10", ev.Missed)
	}
	if ev.Slot.End.Sub(ev.Slot.Start) != 100*time.Millisecond || ev.Slot.Start.After(clock.Now()) {
		t.Errorf("first missed slot %+v", ev.Slot)
	}
	if s := m.Stats()[0]; s.Skips < ev.Missed {
		t.Errorf("Skips = %d, want at least %d", s.Skips, ev.Missed)
	}
	if ev.Reason.String() != "behind" {
		t.Errorf("reason %q", ev.Reason)
	}
}

// slowFirstAdd delays the first Add it sees.
type slowFirstAdd struct {
	ngxtasks.MemoryDict
	delay time.Duration
	once  sync.Once
}

func (d *slowFirstAdd) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	d.once.Do(func() {
		select {
		case <-time.After(d.delay):
		case <-ctx.Done():
		}
	})
	return d.MemoryDict.Add(ctx, key, value, ttl)
}

// TestSlowClaimDoesNotSkipNextSlot: a claim still unanswered when the next
// slot begins loses its own slot (late), but the next slot is claimed and
// runs: a claim in flight is not a run in progress. No slot is skipped as
// an overlap; every later slot runs, unless the library reports it skipped
// with another reason (a loaded machine may answer a claim late, or starve
// the timer loop).
func TestSlowClaimDoesNotSkipNextSlot(t *testing.T) {
	log := newRunLog()
	d := &slowFirstAdd{delay: 250 * time.Millisecond}
	m := &ngxtasks.Manager{Dict: d, Logger: quiet(), Observer: log.observe}
	r := ngxtasks.Rule{Identifier: "p", Interval: 100 * time.Millisecond, Type: ngxtasks.Preemption, Callback: log.callback}
	if err := m.Push(r); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	_ = m.Start(ctx)
	stop := time.Now()
	shutdown(t, m)
	for _, ev := range log.kinds(ngxtasks.EventSkipped) {
		if ev.Reason == ngxtasks.SkipOverlap {
			t.Errorf("slot %d skipped as overlap while a claim was in flight", ev.Slot.N)
		}
	}
	first := ngxtasks.EpochKeys{}.Slot(&r, start).N
	skipped := log.skipped()
	if log.count("p", first) != 0 || len(skipped[runKey{"p", first}]) != 1 {
		t.Errorf("the slow claim's slot %d: ran %d times, skips %v; want it skipped, late", first, log.count("p", first), skipped[runKey{"p", first}])
	}
	last := ngxtasks.EpochKeys{}.Slot(&r, stop).N // in progress at the stop
	for s := first + 1; s < last; s++ {
		if n := log.count("p", s); n > 1 || n == 0 && len(skipped[runKey{"p", s}]) == 0 {
			t.Errorf("slot %d after the slow claim's ran %d times, skips %v; want once, or skipped with a reason", s, n, skipped[runKey{"p", s}])
		}
	}
}
