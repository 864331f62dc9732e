package ngxtasks

import (
	"context"
	"log/slog"
	"math"
	"strconv"
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
	if got := m.take(DriveTimer, taken, nil, chunk); len(got) != 1 {
		t.Fatalf("took %d firings, want 1", len(got))
	}
	wantWait := time.Second - 300*time.Millisecond // next boundary, from the clock now
	if wait := time.Duration(m.gates[DriveTimer].Load() - m.sinceEpoch()); wait != wantWait {
		t.Fatalf("gate in %v, want %v", wait, wantWait)
	}
}

// TestGatesFollowTheirLanes: each drive mode's gate follows only the rules
// it may take, so the timer loop neither wakes for a request-only rule nor
// takes it, and a request is not slowed by timer-only rules.
func TestGatesFollowTheirLanes(t *testing.T) {
	clock := &stepClock{t: time.Unix(1_800_000_000, 0)}
	m := &Manager{Clock: clock}
	noop := func(context.Context, Firing) error { return nil }
	err := m.Push(Rule{Identifier: "req", Interval: time.Second, Type: Normal, Drive: DriveRequest, Callback: noop},
		Rule{Identifier: "tick", Interval: 3 * time.Second, Type: Normal, Drive: DriveTimer, Callback: noop})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	if m.gates[DriveTimer].Load() != 0 || m.gates[DriveRequest].Load() != 0 || m.gates[DriveRun].Load() != math.MaxInt64 {
		t.Fatalf("gates after Push: timer %d, request %d, run %d; want the two pushed lanes due at once, Run's never",
			m.gates[DriveTimer].Load(), m.gates[DriveRequest].Load(), m.gates[DriveRun].Load())
	}
	if got := m.take(DriveTimer, clock.t, nil, chunk); len(got) != 1 || got[0].e.rule.Identifier != "tick" {
		t.Fatalf("the timer took %v, want only tick", got)
	}
	if wait := time.Duration(m.gates[DriveTimer].Load() - m.sinceEpoch()); wait != 3*time.Second {
		t.Fatalf("timer gate in %v, want 3s (tick's next slot; req is not the timer's)", wait)
	}
	if m.gates[DriveRequest].Load() != 0 {
		t.Fatal("the timer's take moved the request gate: req was never taken")
	}
	if got := m.take(DriveRequest, clock.t, nil, chunk); len(got) != 1 || got[0].e.rule.Identifier != "req" {
		t.Fatalf("a request took %v, want only req", got)
	}
	if wait := time.Duration(m.gates[DriveRequest].Load() - m.sinceEpoch()); wait != time.Second {
		t.Fatalf("request gate in %v, want 1s", wait)
	}
}

// TestTakeInterleavesFallingDue: while a start's backlog is taken chunk by
// chunk, a rule whose next slot falls due goes before the rest of the
// backlog, and the backlog goes soonest-ending slot first.
func TestTakeInterleavesFallingDue(t *testing.T) {
	clock := &stepClock{t: time.Unix(1_800_000_000, 10_000_000)}
	m := &Manager{Clock: clock}
	defer m.Shutdown(context.Background())
	noop := func(context.Context, Firing) error { return nil }
	rules := []Rule{}
	for i := range 1000 {
		rules = append(rules, Rule{Identifier: "hour-" + strconv.Itoa(i), Interval: time.Hour, Type: Normal, Callback: noop})
	}
	rules = append(rules, Rule{Identifier: "short", Interval: 100 * time.Millisecond, Type: Normal, Callback: noop})
	if err := m.Push(rules...); err != nil {
		t.Fatal(err)
	}
	for step := range 3 {
		got := m.take(DriveTimer, clock.t, nil, chunk)
		if len(got) != chunk || got[0].e.rule.Identifier != "short" || got[0].missed != 0 {
			t.Fatalf("step %d: took %d, first %q (missed %d): want the short rule first", step, len(got), got[0].e.rule.Identifier, got[0].missed)
		}
		clock.t = clock.t.Add(100 * time.Millisecond)
	}
}

// TestClaimAfterSmallClockCorrection: a re-measured store clock moves the
// present a few milliseconds back, to just before the slot a claim was
// won for: the slot still runs. A move beyond half the tolerance does not.
func TestClaimAfterSmallClockCorrection(t *testing.T) {
	m := &Manager{Logger: slog.New(slog.DiscardHandler)}
	if err := m.Push(Rule{Identifier: "p", Interval: time.Second, Type: Preemption, Callback: func(context.Context, Firing) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	e := m.rules["p"]
	s := m.keys.Slot(&e.rule, time.Unix(1_800_000_000, 0))
	for _, tc := range []struct {
		before time.Duration
		run    bool
	}{{8 * time.Millisecond, true}, {m.tolerance / 2, true}, {m.tolerance/2 + time.Millisecond, false}} {
		f := turn{e: e, slot: s}
		m.judge(&f, true, nil, s.Start.Add(-tc.before), time.Now(), 0)
		if (f.verdict == runIt) != tc.run {
			t.Errorf("won claim, clock now %v before the slot: verdict %v, want run %v", tc.before, f.verdict, tc.run)
		}
		f = turn{e: e, slot: s}
		m.clk.offset.Store(0)
		if got := m.holds(s, s.Start.Add(-tc.before)) == nil; got != tc.run {
			t.Errorf("claim about to be made %v before the slot: holds %v, want %v", tc.before, got, tc.run)
		}
	}
}
