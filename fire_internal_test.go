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
	fi := &firing{e: e, slot: s}

	e.running.Store(true) // the previous slot's run, just begun
	time.AfterFunc(5*time.Millisecond, func() { e.running.Store(false) })
	if err := m.invoke(context.Background(), fi, nil); err != nil || ran != 1 {
		t.Fatalf("won slot after a brief previous run: ran %d, err %v", ran, err)
	}

	e.running.Store(true) // a run that goes on
	begin := time.Now()
	if err := m.invoke(context.Background(), fi, nil); err != nil || ran != 1 {
		t.Fatalf("won slot during a long previous run: ran %d, err %v", ran, err)
	}
	if waited := time.Since(begin); waited < maxOverlapWait || waited > 10*maxOverlapWait {
		t.Fatalf("waited %v for the previous run, want about %v", waited, maxOverlapWait)
	}
	if st := m.Stats()[0]; st.Skips != 1 {
		t.Fatalf("skips %d, want the overlap counted", st.Skips)
	}
}
