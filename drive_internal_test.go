package ngxtasks

import (
	"context"
	"testing"
	"time"
)

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
