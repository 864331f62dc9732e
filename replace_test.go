package ngxtasks_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// tagged counts runs per (callback tag, rule, slot), to tell which
// definition of a rule ran a slot.
type tagged struct {
	mu   sync.Mutex
	runs map[string]int
}

func (l *tagged) callback(tag string) ngxtasks.Func {
	return func(_ context.Context, f ngxtasks.Firing) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.runs == nil {
			l.runs = map[string]int{}
		}
		l.runs[tag+"/"+f.Rule.Identifier+"/"+time.Unix(0, f.Slot.Start.UnixNano()).UTC().Format("05.000")]++
		return nil
	}
}

func (l *tagged) take() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs
	l.runs = nil
	return r
}

func runAt(t *testing.T, m *ngxtasks.Manager, clock *fakeClock, at time.Time) {
	t.Helper()
	clock.Set(at)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return idle(m) })
}

func TestReplaceKeepsUnchangedRules(t *testing.T) {
	clock := newFakeClock(t0)
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	var l tagged
	rule := func(id, version, tag string) ngxtasks.Rule {
		return ngxtasks.Rule{Identifier: id, Interval: time.Second, Type: ngxtasks.Normal, Callback: l.callback(tag), Version: version}
	}
	if err := m.Push(rule("kept", "v1", "old"), rule("changed", "v1", "old"), rule("unversioned", "", "old"), rule("gone", "v1", "old")); err != nil {
		t.Fatal(err)
	}
	runAt(t, m, clock, t0.Add(100*time.Millisecond))
	if got := len(l.take()); got != 4 {
		t.Fatalf("first slot: %d runs, want 4", got)
	}

	c, err := m.Replace(rule("kept", "v1", "new"), rule("changed", "v2", "new"), rule("unversioned", "", "new"), rule("added", "v1", "new"))
	if err != nil {
		t.Fatal(err)
	}
	want := ngxtasks.Changes{Added: []string{"added"}, Changed: []string{"changed", "unversioned"}, Removed: []string{"gone"}, Kept: 1}
	if !slices.Equal(c.Added, want.Added) || !slices.Equal(c.Changed, want.Changed) || !slices.Equal(c.Removed, want.Removed) || c.Kept != want.Kept {
		t.Fatalf("changes %+v, want %+v", c, want)
	}
	if h, err := m.History("kept"); err != nil || len(h) != 1 {
		t.Fatalf("kept rule's history: %v, %v; want its one slot", h, err)
	}
	if h, _ := m.History("changed"); len(h) != 0 {
		t.Fatalf("changed rule's history %v, want a fresh one", h)
	}

	// The same slot: only the new rule runs; the others ran it already.
	runAt(t, m, clock, t0.Add(500*time.Millisecond))
	if got := l.take(); len(got) != 1 || got["new/added/00.000"] != 1 {
		t.Fatalf("same slot after Replace ran %v, want only the added rule", got)
	}
	// The next slot: the kept rule with its old callback, the changed ones with the new.
	runAt(t, m, clock, t0.Add(1100*time.Millisecond))
	got := l.take()
	for _, k := range []string{"old/kept/01.000", "new/changed/01.000", "new/unversioned/01.000", "new/added/01.000"} {
		if got[k] != 1 {
			t.Errorf("next slot: %s ran %d times, want 1 (all runs %v)", k, got[k], got)
		}
	}
	if len(got) != 4 {
		t.Errorf("next slot ran %v, want 4 runs", got)
	}
}

// TestReplaceNewScheduleStartsCleanly: a rule whose slots changed runs its
// current slot under the new schedule, as a newly pushed rule does.
func TestReplaceNewScheduleStartsCleanly(t *testing.T) {
	clock := newFakeClock(t0)
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	var l tagged
	r := ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: l.callback("old"), Version: "v1"}
	if err := m.Push(r); err != nil {
		t.Fatal(err)
	}
	runAt(t, m, clock, t0.Add(200*time.Millisecond))
	r.Interval, r.Offset, r.Version, r.Callback = 2*time.Second, 500*time.Millisecond, "v2", l.callback("new")
	if _, err := m.Replace(r); err != nil {
		t.Fatal(err)
	}
	runAt(t, m, clock, t0.Add(700*time.Millisecond))
	if got := l.take(); got["old/r/00.000"] != 1 || got["new/r/00.500"] != 1 || len(got) != 2 {
		t.Fatalf("runs %v, want the old slot at :00 and the new one at :00.5", got)
	}
}

func TestReplaceRemovedRuleFinishesItsRun(t *testing.T) {
	clock := newFakeClock(t0)
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	release := make(chan struct{})
	var started, ended, runs atomic.Int32
	slow := func(ctx context.Context, _ ngxtasks.Firing) error {
		runs.Add(1)
		started.Add(1)
		<-release
		ended.Add(1)
		return ctx.Err()
	}
	if err := m.Push(ngxtasks.Rule{Identifier: "slow", Interval: time.Second, Type: ngxtasks.Normal, Callback: slow, Background: true}); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(100 * time.Millisecond))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return started.Load() == 1 })
	c, err := m.Replace()
	if err != nil || !slices.Equal(c.Removed, []string{"slow"}) {
		t.Fatalf("Replace() = %+v, %v; want slow removed", c, err)
	}
	close(release)
	waitFor(t, func() bool { return ended.Load() == 1 })
	runAt(t, m, clock, t0.Add(2100*time.Millisecond))
	if n := runs.Load(); n != 1 || len(m.Rules()) != 0 {
		t.Fatalf("runs %d, rules %d; want the one run finished and no rule left", n, len(m.Rules()))
	}
}

func TestReplaceChecksEverythingFirst(t *testing.T) {
	m := &ngxtasks.Manager{Logger: quiet()}
	shutdown(t, m)
	good := ngxtasks.Rule{Identifier: "good", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}
	if err := m.Push(good); err != nil {
		t.Fatal(err)
	}
	bad := ngxtasks.Rule{Identifier: "bad", Interval: -time.Second, Type: ngxtasks.Normal, Callback: noop}
	_, err := m.Replace(ngxtasks.Rule{Identifier: "new", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}, bad)
	var re *ngxtasks.RuleError
	if !errors.As(err, &re) || re.Rule != "bad" || re.Field != "Interval" {
		t.Fatalf("err %v, want a RuleError for bad's Interval", err)
	}
	_, err = m.Replace(good, good)
	if !errors.As(err, &re) || re.Field != "Identifier" {
		t.Fatalf("err %v, want a RuleError for the twice-given identifier", err)
	}
	if rs := m.Rules(); len(rs) != 1 || rs[0].Identifier != "good" {
		t.Fatalf("rules after refused Replaces: %v, want good alone", rs)
	}
}

// TestReplaceWhileDriving replaces the rule set back and forth while 16
// goroutines drive: each slot of each rule still runs exactly once.
func TestReplaceWhileDriving(t *testing.T) {
	clock := newFakeClock(t0)
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	a := ngxtasks.Rule{Identifier: "a", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback, Version: "1"}
	b := ngxtasks.Rule{Identifier: "b", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback, Version: "1"}
	b2 := b
	b2.Version = "2" // changed, same slots: its slot state carries over
	if err := m.Push(a, b); err != nil {
		t.Fatal(err)
	}
	const steps = 200 // 100 ms each
	for i := range steps {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() { _ = m.Run(context.Background()) })
		}
		next := b
		if i%2 == 1 {
			next = b2
		}
		if _, err := m.Replace(a, next); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := m.Run(context.Background()); err != nil { // a step after the swap, for a slot the swap left
			t.Fatal(err)
		}
		clock.Add(100 * time.Millisecond)
	}
	waitFor(t, func() bool { return idle(m) })
	for _, id := range []string{"a", "b"} {
		for s := t0.Unix(); s < t0.Unix()+steps/10; s++ {
			if n := log.count(id, s); n != 1 {
				t.Errorf("rule %s slot %d ran %d times, want 1", id, s, n)
			}
		}
	}
}

func TestMarkRan(t *testing.T) {
	clock := newFakeClock(t0)
	var l tagged
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: l.callback("x")}); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkRan("r", t0.Add(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkRan("r", t0.Add(-5*time.Second)); err != nil { // earlier: no effect
		t.Fatal(err)
	}
	if err := m.MarkRan("nope", t0); err == nil {
		t.Fatal("MarkRan of an unknown rule: no error")
	}
	runAt(t, m, clock, t0.Add(600*time.Millisecond))
	if got := l.take(); len(got) != 0 {
		t.Fatalf("a marked slot ran: %v", got)
	}
	runAt(t, m, clock, t0.Add(1200*time.Millisecond))
	if got := l.take(); got["x/r/01.000"] != 1 || len(got) != 1 {
		t.Fatalf("next slot: %v, want it run once", got)
	}
	if st := m.Stats()[0]; st.Skips != 0 {
		t.Fatalf("stats %+v: a marked slot is not a skip", st)
	}
}
