package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// skewedFleetRuns drives 6 workers whose clocks are off by up to ±maxSkew
// (one of them right) through 200 slots of 10 Preemption rules and returns
// the runs and events.
func skewedFleetRuns(t *testing.T, maxSkew time.Duration, useStoreClock bool) *runLog {
	truth := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: truth}
	rnd := rand.New(rand.NewPCG(3, 4))
	log := newRunLog()
	ms := fleet(6, d, func(i int) ngxtasks.Clock {
		skew := time.Duration(rnd.Int64N(int64(2*maxSkew))) - maxSkew
		switch i {
		case 0:
			skew = maxSkew // make sure the extremes are there
		case 1:
			skew = -maxSkew
		case 2:
			skew = 0
		}
		return truth.Offset(skew)
	}, 0, log.observe)
	rs := preemptionRules(10, func(int) time.Duration { return time.Second }, log.callback)
	for _, m := range ms {
		m.UseStoreClock = useStoreClock
		shutdown(t, m)
		if err := m.Push(rs...); err != nil {
			t.Fatal(err)
		}
	}
	if useStoreClock {
		waitFor(t, func() bool {
			for _, m := range ms {
				if _, ok := m.ClockOffset(); !ok {
					return false
				}
			}
			return true
		})
	}
	for range 800 { // 200 s of fake time in 250 ms steps
		var wg sync.WaitGroup
		for _, m := range ms {
			wg.Go(func() { _ = m.Run(context.Background()) })
		}
		wg.Wait()
		truth.Add(250 * time.Millisecond)
	}
	return log
}

// TestP1_StoreClockToleratesAnySkew: workers whose clocks are a minute
// apart still run each slot once when slots follow the store's clock; and
// without the option, by default, too: the workers whose clocks are beyond
// SkewTolerance/2 from the store's skip their Preemption slots ("clock
// skewed") and the one whose clock is right runs them all. (Before the
// skip, the same fleet ran slots twice.)
func TestP1_StoreClockToleratesAnySkew(t *testing.T) {
	for _, storeClock := range []bool{true, false} {
		log := skewedFleetRuns(t, time.Minute, storeClock)
		if log.total() < 10*150 {
			t.Fatalf("store clock %v: only %d runs", storeClock, log.total())
		}
		for k, n := range log.runs {
			if n > 1 {
				t.Fatalf("store clock %v: %v ran %d times", storeClock, k, n)
			}
		}
		skewed := map[string]int{}
		for _, ev := range log.kinds(ngxtasks.EventSkipped) {
			if ev.Reason == ngxtasks.SkipClockSkewed {
				skewed[ev.Worker]++
			}
		}
		if want := 5; !storeClock && len(skewed) != want || storeClock && len(skewed) != 0 {
			t.Fatalf("store clock %v: slots skipped for the clock by %d workers: %v", storeClock, len(skewed), skewed)
		}
		t.Logf("store clock %v: %d runs, none twice; skipped for the clock, by worker: %v", storeClock, log.total(), skewed)
	}
}

func TestStoreClockNeedsAClockDict(t *testing.T) {
	m := &ngxtasks.Manager{Dict: &faultyDict{}, UseStoreClock: true}
	err := m.Push(ngxtasks.Rule{Identifier: "a", Interval: time.Second, Type: ngxtasks.Preemption, Callback: noop})
	if !errors.Is(err, ngxtasks.ErrInvalidConfig) {
		t.Fatalf("UseStoreClock with a dictionary without a clock: %v", err)
	}
}

// batchCounter counts how claims reach the dictionary.
type batchCounter struct {
	*ngxtasks.MemoryDict
	adds, batches, batched atomic.Int64
}

func (b *batchCounter) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	b.adds.Add(1)
	return b.MemoryDict.Add(ctx, key, value, ttl)
}

func (b *batchCounter) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	b.batches.Add(1)
	b.batched.Add(int64(len(adds)))
	return b.MemoryDict.AddBatch(ctx, adds)
}

// TestTimerLoopBatchesClaims: 1,000 Preemption rules due in one tick reach
// the dictionary in a few batches, not 1,000 round trips; filters are still
// asked before claims, and every winner runs once.
func TestTimerLoopBatchesClaims(t *testing.T) {
	d := &batchCounter{MemoryDict: ngxtasks.NewMemoryDict()}
	log := newRunLog()
	veto := func(_ context.Context, f ngxtasks.Firing) bool { return f.Rule.Identifier != "r007" }
	m := &ngxtasks.Manager{Dict: d, Observer: log.observe}
	// Slots on one grid a day long, not spread: a spread rule's slot in
	// progress could end during the test, and its next slot's run would
	// make the count pass 999 (about one run in 30 did, shuffled).
	rs := preemptionRules(1000, func(int) time.Duration { return 24 * time.Hour }, log.callback)
	for i := range rs {
		rs[i].Filter, rs[i].Spread = veto, false
	}
	if err := m.Push(rs...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = m.Start(ctx) }()
	waitFor(t, func() bool { return log.total() == 999 })
	cancel()
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.adds.Load() != 0 || d.batches.Load() > 8 || d.batched.Load() != 999 {
		t.Fatalf("single adds %d, batches %d holding %d claims; want 0 single, a few batches, 999 claims",
			d.adds.Load(), d.batches.Load(), d.batched.Load())
	}
	if n := len(log.kinds(ngxtasks.EventWon)); n != 999 {
		t.Fatalf("%d won events", n)
	}
	for _, ev := range log.kinds(ngxtasks.EventSkipped) {
		if ev.Rule.Identifier != "r007" || ev.Reason != ngxtasks.SkipFiltered {
			t.Fatalf("unexpected skip %+v", ev)
		}
	}
}

// gatedClockDict answers Now only once released, so a test can choose the
// moment a manager learns the store's clock; with noClock it then says it
// has none, as a wrapper of a store opened late does.
type gatedClockDict struct {
	*ngxtasks.MemoryDict
	release chan struct{}
	noClock bool
}

func (g gatedClockDict) Now(ctx context.Context) (time.Time, error) {
	select {
	case <-g.release:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	if g.noClock {
		return time.Time{}, fmt.Errorf("opened a store without a clock: %w", ngxtasks.ErrNoStoreClock)
	}
	return g.MemoryDict.Now(ctx)
}

// TestStoreClockFirst: a worker 12 s ahead, with UseStoreClock, takes no
// slot of any rule before it has read the store's clock (a slot taken by
// its own clock would lie 12 s in the future, and a Normal rule would run
// it and then nothing for 12 s); once it has, it runs the store's current
// slot of each rule, and no slot is reported missed.
func TestStoreClockFirst(t *testing.T) {
	for _, mode := range []string{"Run", "Start"} {
		t.Run(mode, func(t *testing.T) {
			truth := newFakeClock(t0.Add(500 * time.Millisecond))
			mem := &ngxtasks.MemoryDict{Clock: truth}
			d := gatedClockDict{MemoryDict: mem, release: make(chan struct{})}
			log := newRunLog()
			m := &ngxtasks.Manager{Dict: d, Worker: "ahead", Clock: truth.Offset(12 * time.Second), UseStoreClock: true, Observer: log.observe, Logger: quiet()}
			shutdown(t, m)
			err := m.Push(
				ngxtasks.Rule{Identifier: "p", Interval: time.Second, Type: ngxtasks.Preemption, Callback: log.callback},
				ngxtasks.Rule{Identifier: "n", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			drive := func() { _ = m.Run(ctx) }
			if mode == "Start" {
				go func() { _ = m.Start(ctx) }()
				drive = func() { time.Sleep(20 * time.Millisecond) }
			}
			drive()
			drive()
			log.mu.Lock()
			before := len(log.events)
			log.mu.Unlock()
			if log.total() != 0 || before != 0 {
				t.Fatalf("before the store's clock was read: %d runs, %d events", log.total(), before)
			}
			close(d.release)
			waitFor(t, func() bool { _, ok := m.ClockOffset(); return ok })
			want := (ngxtasks.EpochKeys{}).Slot(&ngxtasks.Rule{Interval: time.Second}, truth.Now()).N
			waitFor(t, func() bool { drive(); return log.total() == 2 })
			for _, id := range []string{"p", "n"} {
				if log.count(id, want) != 1 {
					t.Fatalf("%s: slot %d (the store's) did not run once: %v", id, want, log.runs)
				}
			}
			if skips := log.kinds(ngxtasks.EventSkipped); len(skips) != 0 {
				t.Fatalf("skips %+v", skips)
			}
		})
	}
}

// realOffset is the real clock off by d; its readings keep their
// monotonic part, as the real clock's do.
type realOffset time.Duration

func (o realOffset) Now() time.Time { return time.Now().Add(time.Duration(o)) }

// TestP1_FirstClaimsWaitForTheClock: before the store's clock has been
// read, a worker's first Preemption claims wait for it (a worker 8 s ahead
// would otherwise claim slots 8 s early, their claims expiring before the
// others reach them), and then a skewed worker skips, one within the
// tolerance claims and runs. Normal rules do not wait. A dictionary that
// finds it has no clock (ErrNoStoreClock) leaves claims to the worker's
// own clock.
func TestP1_FirstClaimsWaitForTheClock(t *testing.T) {
	for _, tc := range []struct {
		name    string
		skew    time.Duration
		noClock bool
		runs    bool
	}{{"ahead 8s", 8 * time.Second, false, false}, {"behind 3s", -3 * time.Second, false, false}, {"right", 0, false, true}, {"no clock", 8 * time.Second, true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			d := gatedClockDict{MemoryDict: ngxtasks.NewMemoryDict(), release: make(chan struct{}), noClock: tc.noClock}
			log := newRunLog()
			m := &ngxtasks.Manager{Dict: d, Clock: realOffset(tc.skew), Logger: quiet(), Observer: log.observe}
			shutdown(t, m)
			var normal atomic.Int64
			if err := m.Push(ngxtasks.Rule{Identifier: "p", Interval: time.Hour, Type: ngxtasks.Preemption, Callback: log.callback},
				ngxtasks.Rule{Identifier: "n", Interval: time.Hour, Type: ngxtasks.Normal, Callback: func(context.Context, ngxtasks.Firing) error { normal.Add(1); return nil }}); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- m.Run(context.Background()) }()
			waitFor(t, func() bool { return normal.Load() == 1 }) // Normal rules run meanwhile
			time.Sleep(50 * time.Millisecond)
			if n := len(log.kinds(ngxtasks.EventWon)) + len(log.kinds(ngxtasks.EventLost)) + len(log.kinds(ngxtasks.EventSkipped)); n != 0 || log.total() != 0 {
				t.Fatalf("a claim was settled (%d events, %d runs) before the store's clock was read", n, log.total())
			}
			close(d.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			skipped := log.kinds(ngxtasks.EventSkipped)
			if ran := log.total() == 1; ran != tc.runs || !tc.runs && (len(skipped) != 1 || skipped[0].Reason != ngxtasks.SkipClockSkewed) {
				t.Fatalf("clock %v off: ran %v (want %v), skipped %v", tc.skew, ran, tc.runs, skipped)
			}
			if !tc.runs {
				x, err := m.Explain(context.Background(), "p", time.Now().Add(tc.skew))
				if err != nil || !strings.Contains(x.Why, "not known to be within SkewTolerance/2") {
					t.Fatalf("Explain: %+v, %v", x, err)
				}
				if st := m.Stats()[0]; st.SkipsBy[ngxtasks.SkipClockSkewed] != 1 {
					t.Fatalf("stats: %+v", st)
				}
			}
		})
	}
}

// TestP1_SteppedClockStopsClaimsAtOnce: a worker whose clock is stepped
// beyond the tolerance after its last reading skips its next Preemption
// slot at once (its last measurement, carried to the present by the
// monotonic clock, shows the step), not at the next reading 10 s later.
func TestP1_SteppedClockStopsClaimsAtOnce(t *testing.T) {
	d := ngxtasks.NewMemoryDict()
	log := newRunLog()
	clock := &steppable{}
	m := &ngxtasks.Manager{Dict: d, Clock: clock, Logger: quiet(), Observer: log.observe}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "p", Interval: 200 * time.Millisecond, Type: ngxtasks.Preemption, Callback: log.callback}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok := m.ClockOffset(); return ok })
	_ = m.Run(context.Background())
	if log.total() != 1 {
		t.Fatalf("%d runs before the step, want 1", log.total())
	}
	clock.off.Store(int64(4 * time.Second))
	_ = m.Run(context.Background())
	skipped := log.kinds(ngxtasks.EventSkipped)
	if log.total() != 1 || len(skipped) != 1 || skipped[0].Reason != ngxtasks.SkipClockSkewed {
		t.Fatalf("after a 4 s step: %d runs, skips %v; want the slot skipped for the clock", log.total(), skipped)
	}
}

// steppable is the real clock, off by an amount a test may step.
type steppable struct{ off atomic.Int64 }

func (s *steppable) Now() time.Time { return time.Now().Add(time.Duration(s.off.Load())) }
