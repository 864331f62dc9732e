package ngxtasks

import (
	"context"
	"testing"
	"time"
)

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
	fi := &turn{e: e, slot: s, verdict: runIt}

	e.runSince.Store(time.Now().UnixNano()) // the previous slot's run, just begun
	time.AfterFunc(5*time.Millisecond, func() { e.runSince.Store(0) })
	if err := m.run(context.Background(), fi, nil); err != nil || ran != 1 {
		t.Fatalf("won slot after a brief previous run: ran %d, err %v", ran, err)
	}

	e.runSince.Store(time.Now().UnixNano()) // a run that goes on
	begin := time.Now()
	if err := m.run(context.Background(), fi, nil); err != nil || ran != 1 {
		t.Fatalf("won slot during a long previous run: ran %d, err %v", ran, err)
	}
	if waited := time.Since(begin); waited < maxOverlapWait || waited > 10*maxOverlapWait {
		t.Fatalf("waited %v for the previous run, want about %v", waited, maxOverlapWait)
	}
	if st := m.Stats()[0]; st.Skips != 1 {
		t.Fatalf("skips %d, want the overlap counted", st.Skips)
	}
}

// TestNormalSlotWaitsForJustBegunRun: a Normal rule's previous run that
// began just before its next slot is admitted (the worker's first step came
// at the very end of a slot) is waited for, briefly: no other worker can
// run this slot for this one. One going for longer is an overlap at once,
// and a busy Preemption rule leaves its slot to the other workers.
func TestNormalSlotWaitsForJustBegunRun(t *testing.T) {
	m := &Manager{}
	ran := 0
	err := m.Push(Rule{Identifier: "n", Interval: time.Minute, Type: Normal,
		Callback: func(context.Context, Firing) error { ran++; return nil }},
		Rule{Identifier: "p", Interval: time.Minute, Type: Preemption,
			Callback: func(context.Context, Firing) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	n, p := m.rules["n"], m.rules["p"]
	fn := &turn{e: n, slot: m.keys.Slot(&n.rule, m.now()), verdict: runIt}

	n.runSince.Store(time.Now().UnixNano()) // the previous slot's run, just begun
	time.AfterFunc(5*time.Millisecond, func() { n.runSince.Store(0) })
	if !m.admit(fn) {
		t.Fatal("a Normal slot was refused for a run that had just begun")
	}
	err = m.run(context.Background(), fn, nil)
	m.retire(1)
	if err != nil || ran != 1 {
		t.Fatalf("Normal slot after a run that had just begun: ran %d, err %v", ran, err)
	}

	n.runSince.Store(time.Now().Add(-2 * maxOverlapWait).UnixNano()) // a run going for a while
	if m.admit(fn) {
		t.Fatal("a Normal slot was admitted during a long run")
	}
	n.runSince.Store(0)

	p.runSince.Store(time.Now().UnixNano())
	if m.admit(&turn{e: p, slot: m.keys.Slot(&p.rule, m.now())}) {
		t.Fatal("a busy Preemption rule was admitted: its slot is for the other workers")
	}
	p.runSince.Store(0)
	for _, st := range m.Stats() {
		if st.Skips != 1 {
			t.Fatalf("%s: skips %d, want the overlap counted", st.Identifier, st.Skips)
		}
	}
}

// TestOvertakenSlotStillRuns: a slot taken at its very end whose run was
// overtaken by the next slot's (their goroutines ran in the other order)
// waits for that run and runs, late, rather than being lost as an overlap
// because its slot has ended meanwhile (a fleet saw it once under load).
func TestOvertakenSlotStillRuns(t *testing.T) {
	clock := &stepClock{t: time.Unix(1_800_000_000, 900_000_000)}
	m := &Manager{Clock: clock}
	ran := 0
	err := m.Push(Rule{Identifier: "n", Interval: time.Second, Type: Normal,
		Callback: func(context.Context, Firing) error { ran++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	e := m.rules["n"]
	s := m.keys.Slot(&e.rule, clock.t)
	clock.t = s.End.Add(time.Millisecond)   // the slot has ended
	e.runSince.Store(time.Now().UnixNano()) // the next slot's run, begun first
	time.AfterFunc(5*time.Millisecond, func() { e.runSince.Store(0) })
	if err := m.run(context.Background(), &turn{e: e, slot: s, verdict: runIt}, nil); err != nil || ran != 1 {
		t.Fatalf("overtaken slot: ran %d, err %v", ran, err)
	}
}
