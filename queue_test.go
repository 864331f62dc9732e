package ngxtasks

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestQueueOrder pushes, pops and re-sifts at random and checks that the top
// is always the earliest due time, as the timer loop relies on.
func TestQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var q queue
	var model []int64
	for op := range 20000 {
		switch {
		case len(q) == 0 || rng.IntN(3) == 0:
			due := rng.Int64N(1000)
			q.push(item{due: due, e: &entry{}})
			model = append(model, due)
		case rng.IntN(2) == 0: // the timer loop's move: the top to a later time
			i := slices.Index(model, q[0].due)
			q[0].due += 1 + rng.Int64N(500)
			model[i] = q[0].due
			q.down(0)
		default:
			i := slices.Index(model, q[0].due)
			model = slices.Delete(model, i, i+1)
			q.pop()
		}
		if len(q) != len(model) {
			t.Fatalf("op %d: %d items, want %d", op, len(q), len(model))
		}
		if len(q) > 0 && q[0].due != slices.Min(model) {
			t.Fatalf("op %d: top due %d, earliest is %d", op, q[0].due, slices.Min(model))
		}
	}
}

// TestGateAfterLongTake: the gate is the due time on the clock as it reads
// when the take ends, however long ago the take's own reading was (a burst
// is taken in many chunks under one reading). It was once off by exactly
// that long, so every burst after a large one began that much late.
func TestGateAfterLongTake(t *testing.T) {
	clock := &stepClock{t: time.Unix(1_800_000_000, 0)}
	m := &Manager{Clock: clock}
	err := m.Push(Rule{Identifier: "r", Interval: time.Second, Type: Normal,
		Callback: func(context.Context, Firing) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	taken := clock.t
	clock.t = clock.t.Add(300 * time.Millisecond) // the take went on this long
	if got := m.take(taken, nil, chunk); len(got) != 1 {
		t.Fatalf("took %d firings, want 1", len(got))
	}
	wantWait := time.Second - 300*time.Millisecond // next boundary, from the clock now
	if wait := time.Duration(m.gate.Load() - m.sinceEpoch()); wait != wantWait {
		t.Fatalf("gate in %v, want %v", wait, wantWait)
	}
}

// TestWonSlotWaitsForPreviousRun: a Preemption slot won while the rule's
// previous run is still going here (it began just after this slot did) runs
// once that run ends; skipping it would lose the slot for every worker. A
// run that goes on is a real overlap, reported as one.
func TestWonSlotWaitsForPreviousRun(t *testing.T) {
	m := &Manager{}
	ran := 0
	err := m.Push(Rule{Identifier: "p", Interval: time.Minute, Type: Preemption,
		Callback: func(context.Context, Firing) error { ran++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	e := m.rules["p"]
	s := m.keys.Slot(&e.rule, m.now())
	fi := &Firing{Rule: &e.rule, Slot: s}

	e.running.Store(true) // the previous slot's run, just begun
	time.AfterFunc(5*time.Millisecond, func() { e.running.Store(false) })
	if err := m.call(context.Background(), e, fi); err != nil || ran != 1 {
		t.Fatalf("won slot after a brief previous run: ran %d, err %v", ran, err)
	}

	e.running.Store(true) // a run that goes on
	begin := time.Now()
	if err := m.call(context.Background(), e, fi); err != nil || ran != 1 {
		t.Fatalf("won slot during a long previous run: ran %d, err %v", ran, err)
	}
	if waited := time.Since(begin); waited < maxOverlapWait || waited > 10*maxOverlapWait {
		t.Fatalf("waited %v for the previous run, want about %v", waited, maxOverlapWait)
	}
	if st := m.Stats()[0]; st.Skips != 1 {
		t.Fatalf("skips %d, want the overlap counted", st.Skips)
	}
}
