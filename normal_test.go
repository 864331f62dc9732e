package ngxtasks_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// TestN1_AtMostOncePerWorkerPerSlot races 64 drive steps per instant, over
// many slots, against one worker: each slot runs exactly once.
func TestN1_AtMostOncePerWorkerPerSlot(t *testing.T) {
	clock := newFakeClock(t0)
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	rules := []ngxtasks.Rule{
		{Identifier: "a", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback},
		{Identifier: "b", Interval: 3 * time.Second, Type: ngxtasks.Normal, Callback: log.callback, Spread: true},
		{Identifier: "bg", Interval: 2 * time.Second, Type: ngxtasks.Normal, Callback: log.callback, Background: true},
	}
	if err := m.Push(rules...); err != nil {
		t.Fatal(err)
	}
	const steps = 300 // 100 ms each: 30 s of fake time
	for range steps {
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() { _ = m.Run(context.Background()) })
		}
		wg.Wait()
		clock.Add(100 * time.Millisecond)
	}
	waitFor(t, func() bool { return idle(m) })
	skipped := map[runKey]int{} // a background run may still be going at its next slot
	for _, ev := range log.kinds(ngxtasks.EventSkipped) {
		skipped[runKey{ev.Rule.Identifier, ev.Slot.N}]++
	}
	for _, r := range rules {
		first := ngxtasks.EpochKeys{}.Slot(&r, t0).N
		last := ngxtasks.EpochKeys{}.Slot(&r, t0.Add(steps*100*time.Millisecond-1)).N
		for s := first; s <= last; s++ {
			if n := log.count(r.Identifier, s) + skipped[runKey{r.Identifier, s}]; n != 1 {
				t.Errorf("rule %s slot %d ran %d times, skipped %d; want exactly one of them", r.Identifier, s, log.count(r.Identifier, s), skipped[runKey{r.Identifier, s}])
			}
		}
	}
}

// TestN2_EveryDrivenSlotRuns drives a worker once at a random moment of every
// slot; each slot runs, except those the filter vetoes, which are counted.
func TestN2_EveryDrivenSlotRuns(t *testing.T) {
	clock := newFakeClock(t0)
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, Observer: log.observe}
	shutdown(t, m)
	odd := func(_ context.Context, f ngxtasks.Firing) bool { return f.Slot.N%2 == 0 }
	r := ngxtasks.Rule{Identifier: "n", Interval: 10 * time.Second, Type: ngxtasks.Normal, Callback: log.callback}
	rf := ngxtasks.Rule{Identifier: "f", Interval: 10 * time.Second, Type: ngxtasks.Normal, Callback: log.callback, Filter: odd}
	if err := m.Push(r, rf); err != nil {
		t.Fatal(err)
	}
	start := ngxtasks.EpochKeys{}.Slot(&r, t0)
	for i := range int64(100) {
		// somewhere inside slot start.N+i, a different place each time
		clock.Set(start.Start.Add(time.Duration(i)*10*time.Second + time.Duration(i*7919%10000)*time.Millisecond))
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range int64(100) {
		s := start.N + i
		if n := log.count("n", s); n != 1 {
			t.Fatalf("slot %d ran %d times, want 1", s, n)
		}
		want := 0
		if s%2 == 0 {
			want = 1
		}
		if n := log.count("f", s); n != want {
			t.Fatalf("filtered rule, slot %d ran %d times, want %d", s, n, want)
		}
	}
	st := m.Stats()
	if st[0].Runs != 100 || st[1].Runs != 50 || st[1].Skips != 50 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestN2_OverlapIsSkippedAndCounted: a run still going when its next slot
// comes makes that slot skip, counted, and never run twice at once.
func TestN2_OverlapIsSkippedAndCounted(t *testing.T) {
	clock := newFakeClock(t0)
	log := newRunLog()
	release := make(chan struct{})
	var concurrent, most atomic.Int32
	m := &ngxtasks.Manager{Clock: clock, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	slow := func(ctx context.Context, f ngxtasks.Firing) error {
		n := concurrent.Add(1)
		defer concurrent.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		if f.Slot.N%3 == 0 {
			<-release
		}
		return log.callback(ctx, f)
	}
	if err := m.Push(ngxtasks.Rule{Identifier: "slow", Interval: time.Second, Type: ngxtasks.Normal, Callback: slow, Background: true}); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(-t0.Sub(time.Unix(0, 0)) % (3 * time.Second))) // a slot divisible by 3
	for i := range 9 {
		_ = m.Run(context.Background())
		// The slot has begun its run, or been skipped, before the next comes.
		waitFor(t, func() bool { return len(log.kinds(ngxtasks.EventFired))+len(log.kinds(ngxtasks.EventSkipped)) == i+1 })
		clock.Add(time.Second)
		if len(log.kinds(ngxtasks.EventSkipped)) > 0 {
			break
		}
	}
	close(release)
	waitFor(t, func() bool { return idle(m) })
	skips := log.kinds(ngxtasks.EventSkipped)
	if len(skips) != 1 || skips[0].Reason != ngxtasks.SkipOverlap {
		t.Fatalf("skips = %+v, want one overlap", skips)
	}
	if most.Load() != 1 {
		t.Fatalf("%d runs of one rule at once", most.Load())
	}
	if st := m.Stats()[0]; st.Skips != 1 {
		t.Fatalf("Skips = %d", st.Skips)
	}
}

// TestN3_NoDrift runs the real timer loop: runs start close to their own
// slot's start, and slots follow one another, so the period is exactly the
// interval. A slot the loop could not reach in its time (a loaded machine
// starves it) must be reported as SkipBehind, never silently skipped.
func TestN3_NoDrift(t *testing.T) {
	const interval = 20 * time.Millisecond
	type run struct {
		slot int64
		late time.Duration
	}
	var mu sync.Mutex
	var runs []run
	behind := map[int64]int64{} // slots reported missed just before a slot
	m := &ngxtasks.Manager{Observer: func(ev ngxtasks.Event) {
		if ev.Kind == ngxtasks.EventSkipped && ev.Reason == ngxtasks.SkipBehind {
			mu.Lock()
			behind[ev.Slot.N+ev.Missed] += ev.Missed // ev.Slot is the first missed
			mu.Unlock()
		}
	}}
	shutdown(t, m)
	err := m.Push(ngxtasks.Rule{Identifier: "tick", Interval: interval, Type: ngxtasks.Normal,
		Callback: func(_ context.Context, f ngxtasks.Firing) error {
			mu.Lock()
			runs = append(runs, run{f.Slot.N, time.Since(f.Slot.Start)})
			mu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*interval+interval/2)
	defer cancel()
	_ = m.Start(ctx)
	waitFor(t, func() bool { return idle(m) })
	mu.Lock()
	defer mu.Unlock()
	if len(runs) < 40 {
		t.Fatalf("%d runs in 50 intervals", len(runs))
	}
	var lateness []time.Duration
	for i, r := range runs {
		if i == 0 { // the slot current at Push, taken mid-slot
			continue
		}
		lateness = append(lateness, r.late)
		if gap := r.slot - runs[i-1].slot; gap != 1 && gap != behind[r.slot]+1 {
			t.Fatalf("run %d is slot %d after %d, reported behind by %d: a slot was missed or repeated", i, r.slot, runs[i-1].slot, behind[r.slot])
		}
	}
	// Lateness is per slot, from the slot's own start: it does not add up.
	// The median, so that a loaded machine's stalls (reported above) do not
	// count as drift.
	slices.Sort(lateness)
	worst, median := lateness[len(lateness)-1], lateness[len(lateness)/2]
	if limit := interval / 4; median > limit {
		t.Fatalf("half the runs started more than %v after their slot began (limit %v)", median, limit)
	}
	t.Logf("%d runs, median lateness %v, worst %v, slots behind %v", len(runs), median, worst, behind)
}

// TestNormalRulesNeverTouchTheDictionary: a dictionary that fails every call
// changes nothing for Normal rules.
func TestNormalRulesNeverTouchTheDictionary(t *testing.T) {
	clock := newFakeClock(t0)
	log := newRunLog()
	d := &faultyDict{failAll: true}
	m := &ngxtasks.Manager{Clock: clock, Dict: d}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "n", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
	}
	if log.total() != 10 || d.calls.Load() != 0 {
		t.Fatalf("runs %d, dictionary calls %d; want 10 and 0", log.total(), d.calls.Load())
	}
}

// idle reports whether no callback of m is running.
func idle(m *ngxtasks.Manager) bool {
	for _, s := range m.Stats() {
		if s.Running {
			return false
		}
	}
	return true
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRulesDueTogetherRunInPushOrder: rules whose slots begin at the same
// instant are run in the order they were pushed, slot after slot, mixed
// intervals too (the 2 s rules join every other boundary), whatever order
// the queue held them in before. The first step takes the slots in
// progress soonest-ending first: the 1 s rules, then the 2 s ones.
func TestRulesDueTogetherRunInPushOrder(t *testing.T) {
	clock := newFakeClock(t0)
	var mu sync.Mutex
	var ran []string
	record := func(_ context.Context, f ngxtasks.Firing) error {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, f.Rule.Identifier)
		return nil
	}
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	var pushed, everyOther, twoSeconds []string
	for i := range 200 {
		id := fmt.Sprintf("r%03d", (i*37)%200) // identifiers not in push order
		iv := time.Second
		if i%3 == 0 {
			iv = 2 * time.Second
			twoSeconds = append(twoSeconds, id)
		} else {
			everyOther = append(everyOther, id)
		}
		pushed = append(pushed, id)
		if err := m.Push(ngxtasks.Rule{Identifier: id, Interval: iv, Type: ngxtasks.Normal, Callback: record}); err != nil {
			t.Fatal(err)
		}
	}
	for step := range 6 {
		if step > 0 {
			clock.Add(time.Second)
		}
		ran = nil
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := pushed
		switch {
		case step == 0:
			want = slices.Concat(everyOther, twoSeconds)
		case clock.Now().Unix()%2 != 0:
			want = everyOther
		}
		if !slices.Equal(ran, want) {
			t.Fatalf("step %d ran %d rules in the order %v…, want push order %v…", step, len(ran), ran[:min(8, len(ran))], want[:min(8, len(want))])
		}
	}
}
