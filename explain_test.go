package ngxtasks_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// hookDict is a MemoryDict whose Add first calls before, which may move a
// fake clock or fail.
type hookDict struct {
	*ngxtasks.MemoryDict
	before func() error
}

func (d *hookDict) Add(ctx context.Context, k, v string, ttl time.Duration) (bool, error) {
	if err := d.before(); err != nil {
		return false, err
	}
	return d.MemoryDict.Add(ctx, k, v, ttl)
}

// explained explains the slot at at and checks the record's outcome (or
// none) and that Why holds every part of want.
func explained(t *testing.T, m *ngxtasks.Manager, id string, at time.Time, outcome ngxtasks.Outcome, want ...string) ngxtasks.Explanation {
	t.Helper()
	x, err := m.Explain(context.Background(), id, at)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case outcome == 0 && x.Record != nil:
		t.Errorf("%s: a record %+v, want none", id, *x.Record)
	case outcome != 0 && (x.Record == nil || x.Record.Outcome != outcome):
		t.Errorf("%s: record %+v, want outcome %v", id, x.Record, outcome)
	}
	for _, w := range want {
		if !strings.Contains(x.Why, w) {
			t.Errorf("%s: Why = %q, want it to say %q", id, x.Why, w)
		}
	}
	return x
}

// TestExplainEveryOutcome: Explain and History tell, for each way a slot
// can end in a worker, what happened and why, and for a Preemption slot who
// holds its claim across the fleet.
func TestExplainEveryOutcome(t *testing.T) {
	clock := newFakeClock(t0)
	shared := ngxtasks.NewMemoryDict()
	shared.Clock = clock
	a := &ngxtasks.Manager{Dict: shared, Clock: clock, Worker: "a", Logger: quiet()}
	b := &ngxtasks.Manager{Dict: shared, Clock: clock, Worker: "b", Logger: quiet()}
	var clockAt func() error
	late := &ngxtasks.Manager{Clock: clock, Worker: "late", Logger: quiet(),
		Dict: &hookDict{MemoryDict: &ngxtasks.MemoryDict{Clock: clock}, before: func() error { return clockAt() }}}
	failing := &ngxtasks.Manager{Clock: clock, Worker: "failing", Logger: quiet(),
		Dict: &hookDict{MemoryDict: &ngxtasks.MemoryDict{Clock: clock}, before: func() error { return errors.New("store on fire") }}}
	for _, m := range []*ngxtasks.Manager{a, b, late, failing} {
		shutdown(t, m)
	}
	sec := time.Second
	rule := func(id string, typ ngxtasks.Type, cb ngxtasks.Func) ngxtasks.Rule {
		return ngxtasks.Rule{Identifier: id, Interval: sec, Type: typ, Callback: cb}
	}
	filtered := rule("filtered", ngxtasks.Normal, noop)
	filtered.Filter = func(context.Context, ngxtasks.Firing) bool { return false }
	timeout := rule("timeout", ngxtasks.Normal, func(ctx context.Context, _ ngxtasks.Firing) error { <-ctx.Done(); return ctx.Err() })
	timeout.Timeout = time.Millisecond
	requests := rule("requests", ngxtasks.Normal, noop)
	requests.Drive = ngxtasks.DriveRequest
	pushAt := clock.Now()
	if err := a.Push(rule("ok", ngxtasks.Normal, noop),
		rule("bad", ngxtasks.Normal, func(context.Context, ngxtasks.Firing) error { return errors.New("boom") }),
		rule("panics", ngxtasks.Normal, func(context.Context, ngxtasks.Firing) error { panic("kaboom") }),
		timeout, filtered, requests, rule("shared", ngxtasks.Preemption, noop)); err != nil {
		t.Fatal(err)
	}
	if err := b.Push(rule("shared", ngxtasks.Preemption, noop)); err != nil {
		t.Fatal(err)
	}
	if err := late.Push(rule("late", ngxtasks.Preemption, noop)); err != nil {
		t.Fatal(err)
	}
	if err := failing.Push(rule("failing", ngxtasks.Preemption, noop)); err != nil {
		t.Fatal(err)
	}

	clock.Add(250 * time.Millisecond) // the first step, 250 ms into slot 0
	step := clock.Now()
	ctx := context.Background()
	_ = b.Run(ctx) // b claims "shared" first
	_ = a.Run(ctx)
	_ = failing.Run(ctx)
	explained(t, a, "requests", step, 0, "in progress, and not taken here yet")
	clockAt = func() error { clock.Add(sec); return nil } // the answer comes after the slot ended
	_ = late.Run(ctx)

	explained(t, a, "ok", step, ngxtasks.OutcomeSucceeded, "ran here at", "250ms late", "succeeded")
	explained(t, a, "bad", step, ngxtasks.OutcomeFailed, "failed", "boom")
	explained(t, a, "panics", step, ngxtasks.OutcomePanicked, "panicked", "kaboom")
	explained(t, a, "timeout", step, ngxtasks.OutcomeTimedOut, "timed out")
	explained(t, a, "filtered", step, ngxtasks.OutcomeSkipped, "Filter said no")
	x := explained(t, a, "shared", step, ngxtasks.OutcomeLost, "another worker claimed it first", "worker b holds the claim")
	if !x.WinnerKnown || x.Winner != "b" {
		t.Errorf("shared: winner %q (%v), want b", x.Winner, x.WinnerKnown)
	}
	explained(t, b, "shared", step, ngxtasks.OutcomeSucceeded, "the claim is this worker's (b)")
	explained(t, late, "late", step, ngxtasks.OutcomeSkipped, "answered after the slot ended")
	explained(t, failing, "failing", step, ngxtasks.OutcomeSkipped, "the claim failed", "store on fire")
	explained(t, a, "ok", pushAt.Add(-sec), 0, "before this worker had the rule")
	explained(t, a, "ok", clock.Now().Add(time.Hour), 0, "not due yet")
	clock.Add(3 * sec)
	explained(t, a, "requests", step, 0, `no drive step of mode "request"`)
	explained(t, a, "ok", step.Add(sec), 0, "no drive step came here while the slot lasted")
	if _, err := a.Explain(ctx, "nosuch", step); err == nil {
		t.Error("Explain of an unknown rule did not fail")
	}

	st := stats(t, failing, "failing")
	if st.Skips != 1 || st.SkipsBy[ngxtasks.SkipClaimError] != 1 || st.LastSkip != ngxtasks.SkipClaimError || !strings.Contains(st.LastSkipError, "store on fire") {
		t.Errorf("stats of a rule whose claim failed: %+v", st)
	}
	st = stats(t, a, "ok")
	if st.LastLateness != 250*time.Millisecond || st.LastResult != ngxtasks.OutcomeSucceeded {
		t.Errorf("stats of a rule that ran 250 ms late: %+v", st)
	}
	if st := stats(t, a, "panics"); st.LastResult != ngxtasks.OutcomePanicked || st.Errors != 1 {
		t.Errorf("stats of a rule that panicked: %+v", st)
	}
}

func stats(t *testing.T, m *ngxtasks.Manager, id string) ngxtasks.RuleStats {
	t.Helper()
	for _, s := range m.Stats() {
		if s.Identifier == id {
			return s
		}
	}
	t.Fatalf("no stats for %s", id)
	return ngxtasks.RuleStats{}
}

// TestHistoryRing: a worker keeps the last HistoryLen slots of a rule,
// oldest first; an older slot is explained as such, not guessed at; a
// negative HistoryLen keeps none.
func TestHistoryRing(t *testing.T) {
	clock := newFakeClock(t0)
	m := &ngxtasks.Manager{Clock: clock, HistoryLen: 4, Logger: quiet()}
	none := &ngxtasks.Manager{Clock: clock, HistoryLen: -1, Logger: quiet()}
	for _, m := range []*ngxtasks.Manager{m, none} {
		shutdown(t, m)
		if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); err != nil {
			t.Fatal(err)
		}
	}
	first := clock.Now()
	for range 6 {
		_ = m.Run(context.Background())
		_ = none.Run(context.Background())
		clock.Add(time.Second)
	}
	h, err := m.History("r")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 {
		t.Fatalf("%d records, want 4", len(h))
	}
	for i := range h {
		if want := first.Add(time.Duration(2+i) * time.Second); !h[i].Slot.Start.Equal(want) || h[i].Outcome != ngxtasks.OutcomeSucceeded {
			t.Errorf("record %d: %+v, want the slot from %v, succeeded", i, h[i], want)
		}
	}
	explained(t, m, "r", first, 0, "older than the 4 slots this worker keeps")
	explained(t, m, "r", first.Add(5*time.Second), ngxtasks.OutcomeSucceeded)
	if h, err := none.History("r"); err != nil || h != nil {
		t.Errorf("History with HistoryLen -1 = %v, %v", h, err)
	}
	explained(t, none, "r", first, 0, "keeps no history")
	if _, err := m.History("nosuch"); err == nil {
		t.Error("History of an unknown rule did not fail")
	}
	bad := &ngxtasks.Manager{HistoryLen: 1 << 20}
	if err := bad.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); !errors.Is(err, ngxtasks.ErrInvalidConfig) {
		t.Errorf("Push with HistoryLen 1<<20 = %v, want ErrInvalidConfig", err)
	}
}

// TestExplainOverlapAndBehind: a slot skipped because the rule's previous
// run went on, and slots the timer loop missed, are explained so.
func TestExplainOverlapAndBehind(t *testing.T) {
	clock := &jumpClock{}
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	release := make(chan struct{})
	var started atomic.Bool
	err := m.Push(ngxtasks.Rule{Identifier: "slow", Interval: 100 * time.Millisecond, Type: ngxtasks.Preemption, Background: true,
		Callback: func(context.Context, ngxtasks.Firing) error { started.Store(true); <-release; return nil }},
		ngxtasks.Rule{Identifier: "tick", Interval: 100 * time.Millisecond, Type: ngxtasks.Normal, Callback: noop})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Run(context.Background())
	for deadline := time.Now().Add(5 * time.Second); !started.Load() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	clock.offset.Add(int64(100 * time.Millisecond)) // the next slot, the run still going
	_ = m.Run(context.Background())
	close(release)
	explained(t, m, "slow", clock.Now(), ngxtasks.OutcomeSkipped, "previous run was still going")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(150 * time.Millisecond)
	jumped := clock.Now()
	clock.offset.Add(int64(time.Second)) // ten slots pass while the loop cannot run
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st := stats(t, m, "tick"); st.SkipsBy[ngxtasks.SkipBehind] > 0 {
			break
		}
	}
	explained(t, m, "tick", jumped.Add(500*time.Millisecond), ngxtasks.OutcomeSkipped, "the timer loop did not run while it lasted")
}
