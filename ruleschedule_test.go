package ngxtasks_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// listSchedule has its occurrences at the instants listed, uneven on
// purpose: a test's stand-in for a calendar (package calendar is a module
// of its own, which the core does not require). Slot n runs from the n-th
// instant to the next; it is named "at-n".
type listSchedule struct{ at []time.Time }

func (l listSchedule) Slot(t time.Time) ngxtasks.Slot {
	n, found := slices.BinarySearchFunc(l.at, t, func(a, t time.Time) int { return a.Compare(t) })
	if !found {
		n-- // the last occurrence before t
	}
	if n < 0 || n+1 >= len(l.at) {
		panic("listSchedule: no slot holds " + t.String())
	}
	return ngxtasks.Slot{N: int64(n), Start: l.at[n], End: l.at[n+1]}
}

func (l listSchedule) SlotName(s ngxtasks.Slot) string { return "at-" + strconv.FormatInt(s.N, 10) }
func (l listSchedule) String() string                  { return "list of " + strconv.Itoa(len(l.at)) }

// unevenSchedule returns a listSchedule from t0 on, its gaps 1 to 9 s.
func unevenSchedule(n int) listSchedule {
	l := listSchedule{at: []time.Time{t0}}
	for i := 1; i < n; i++ {
		l.at = append(l.at, l.at[i-1].Add(time.Duration(1+(i*7)%9)*time.Second))
	}
	return l
}

// TestScheduleRuleRunsEachOccurrenceOnceFromTheNext: a Normal rule with a
// Schedule runs once per slot, from its occurrence on, with the slot the
// schedule placed; the slot in progress when it is pushed is not joined.
func TestScheduleRuleRunsEachOccurrenceOnceFromTheNext(t *testing.T) {
	sched := unevenSchedule(60)
	clock := newFakeClock(sched.at[3].Add(500 * time.Millisecond)) // within slot 3
	var mu sync.Mutex
	var ran []ngxtasks.Slot
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	err := m.Push(ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Normal,
		Callback: func(_ context.Context, f ngxtasks.Firing) error {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, f.Slot)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for clock.Now().Before(sched.at[50]) {
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		clock.Add(250 * time.Millisecond)
	}
	if len(ran) != 50-4 {
		t.Fatalf("ran %d slots, want %d (4 to 49)", len(ran), 50-4)
	}
	for i, s := range ran {
		n := 4 + i
		if s.N != int64(n) || !s.Start.Equal(sched.at[n]) || !s.End.Equal(sched.at[n+1]) {
			t.Fatalf("run %d had slot %+v, want slot %d [%v, %v)", i, s, n, sched.at[n], sched.at[n+1])
		}
	}
}

// TestScheduleRulePreemptionClaimsTheSlotName: workers with clocks skewed
// within the tolerance share a dictionary; a Preemption rule with a
// Schedule runs exactly once per slot across them, claimed under the
// schedule's name for the slot.
func TestScheduleRulePreemptionClaimsTheSlotName(t *testing.T) {
	const workers, tol = 5, time.Second
	sched := unevenSchedule(80)
	truth := newFakeClock(sched.at[0].Add(100 * time.Millisecond))
	d := &ngxtasks.MemoryDict{Clock: truth}
	rnd := rand.New(rand.NewPCG(3, 4))
	log := newRunLog()
	ms := fleet(workers, d, func(i int) ngxtasks.Clock {
		return truth.Offset(time.Duration(rnd.Int64N(int64(tol))) - tol/2)
	}, tol, nil)
	for _, m := range ms {
		shutdown(t, m)
		if err := m.Push(ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Preemption, Callback: log.callback}); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for truth.Now().Before(sched.at[70]) {
		var wg sync.WaitGroup
		for _, i := range rnd.Perm(workers) {
			wg.Go(func() { _ = ms[i].Run(context.Background()) })
		}
		wg.Wait()
		if w, ok, err := ms[0].Winner(context.Background(), "cal", truth.Now()); err == nil && ok && w != "" {
			keys = append(keys, w)
		}
		truth.Add(200 * time.Millisecond)
	}
	for n := int64(2); n < 68; n++ { // every worker drove these from start to end
		if c := log.count("cal", n); c != 1 {
			t.Fatalf("slot %d ran %d times, want exactly 1", n, c)
		}
	}
	for k, c := range log.runs {
		if c > 1 {
			t.Fatalf("%v ran %d times", k, c)
		}
	}
	if len(keys) == 0 {
		t.Fatal("Winner never found a claim of the rule's slots")
	}
	if _, ok, _ := d.Get(context.Background(), "ngxtasks:cal:at-69"); !ok {
		t.Fatal("no claim under ngxtasks:cal:at-69, the schedule's name for slot 69")
	}
}

// TestScheduleRuleFieldsAreChecked: a rule has an Interval or a Schedule,
// and Offset and Spread are the Interval's.
func TestScheduleRuleFieldsAreChecked(t *testing.T) {
	sched := unevenSchedule(3)
	for _, c := range []struct {
		rule  ngxtasks.Rule
		field string
	}{
		{ngxtasks.Rule{Identifier: "a", Type: ngxtasks.Normal, Callback: noop}, "Interval"},
		{ngxtasks.Rule{Identifier: "b", Schedule: sched, Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}, "Interval"},
		{ngxtasks.Rule{Identifier: "c", Schedule: sched, Offset: time.Second, Type: ngxtasks.Normal, Callback: noop}, "Offset"},
		{ngxtasks.Rule{Identifier: "d", Schedule: sched, Spread: true, Type: ngxtasks.Normal, Callback: noop}, "Spread"},
	} {
		var re *ngxtasks.RuleError
		if err := c.rule.Validate(); !errors.As(err, &re) || re.Field != c.field || re.Rule != c.rule.Identifier {
			t.Errorf("rule %s: %v, want a RuleError naming the rule and %s", c.rule.Identifier, err, c.field)
		}
	}
	ok := ngxtasks.Rule{Identifier: "e", Schedule: sched, Type: ngxtasks.Preemption, Callback: noop}
	if err := ok.Validate(); err != nil {
		t.Errorf("a rule with a Schedule and no Interval: %v", err)
	}
}

// TestScheduleRuleReplacedKeepsItsStateOnlyIfWrittenAlike: Replace keeps
// a rule's entry when its new definition's schedule is written alike, and
// a changed schedule starts with its own next occurrence: the change
// never starts a run by itself.
func TestScheduleRuleReplacedKeepsItsStateOnlyIfWrittenAlike(t *testing.T) {
	sched := unevenSchedule(40)
	clock := newFakeClock(sched.at[2].Add(100 * time.Millisecond))
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	rule := ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Normal, Callback: log.callback, Version: "v1"}
	if err := m.Push(rule); err != nil {
		t.Fatal(err)
	}
	clock.Set(sched.at[3])
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if log.count("cal", 3) != 1 {
		t.Fatalf("slot 3 did not run")
	}
	// Alike: the slot that ran is not run again.
	if _, err := m.Replace(rule); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Changed: a schedule whose slot began before the change waits for
	// its next occurrence.
	shifted := listSchedule{at: slices.Clone(sched.at)}
	for i := range shifted.at {
		shifted.at[i] = shifted.at[i].Add(-time.Millisecond)
	}
	shifted.at = append(shifted.at, shifted.at[len(shifted.at)-1].Add(time.Hour)) // String differs
	rule.Schedule, rule.Version = shifted, "v2"
	if _, err := m.Replace(rule); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if log.total() != 1 {
		t.Fatalf("%d runs after the replacements, want the one of slot 3: %v", log.total(), log.runs)
	}
	clock.Set(shifted.at[4])
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if log.count("cal", 4) != 1 || log.total() != 2 {
		t.Fatalf("runs %v, want slot 4 of the new schedule once more", log.runs)
	}
}

// TestJitteredSlotsAgreeAndNeverPassTheNext: jittered slots, made apart as
// two workers would, are the same; each starts within the bound and before
// the next occurrence, keeps its number, and is found again from any
// instant inside it; the starts are spread, not all at the occurrence.
func TestJitteredSlotsAgreeAndNeverPassTheNext(t *testing.T) {
	under := unevenSchedule(400)
	const bound = 3 * time.Second
	a := ngxtasks.Jittered(under, bound, "nightly")
	b := ngxtasks.Jittered(listSchedule{at: slices.Clone(under.at)}, bound, "nightly")
	other := ngxtasks.Jittered(under, bound, "weekly")
	var moved, differ int
	for n := 1; n < len(under.at)-3; n++ {
		occ, next := under.at[n], under.at[n+1]
		s := a.Slot(next.Add(-time.Nanosecond)) // the slot of occurrence n holds the instant before the next one
		if s.N != int64(n) {
			// the next slot's start moved later: then the instant is still in n's
			t.Fatalf("slot %d: found slot %d from just before the next occurrence", n, s.N)
		}
		if s.Start.Before(occ) || !s.Start.Before(occ.Add(bound)) || !s.Start.Before(next) {
			t.Fatalf("slot %d starts at %v: want within [%v, %v + %v) and before %v", n, s.Start, occ, occ, bound, next)
		}
		if got := b.Slot(s.Start); got != s {
			t.Fatalf("slot %d: %+v in one worker, %+v in another", n, s, got)
		}
		for _, at := range []time.Time{s.Start, s.Start.Add((s.End.Sub(s.Start)) / 2), s.End.Add(-time.Nanosecond)} {
			if got := a.Slot(at); got != s {
				t.Fatalf("slot %d from %v: %+v, want %+v", n, at, got, s)
			}
		}
		if want := a.Slot(s.End); want.N != int64(n+1) || !want.Start.Equal(s.End) {
			t.Fatalf("slot %d ends at %v but the next is %+v", n, s.End, want)
		}
		if a.SlotName(s) != under.SlotName(under.Slot(occ)) {
			t.Fatalf("slot %d is named %q, want %q", n, a.SlotName(s), under.SlotName(under.Slot(occ)))
		}
		if !s.Start.Equal(occ) {
			moved++
		}
		if !other.Slot(s.Start).Start.Equal(s.Start) {
			differ++
		}
	}
	if moved < 350 || differ < 350 {
		t.Fatalf("of 396 slots, %d moved and %d moved differently for another key: the jitter does not spread", moved, differ)
	}
	if _, same := ngxtasks.Jittered(under, 0, "x").(listSchedule); !same {
		t.Fatal("a zero bound should leave the schedule as it is")
	}
}

// TestJitteredRuleRunsEachSlotOnceAtItsMovedStart: a rule on a jittered
// schedule runs each slot once, not before its moved start.
func TestJitteredRuleRunsEachSlotOnceAtItsMovedStart(t *testing.T) {
	under := unevenSchedule(60)
	sched := ngxtasks.Jittered(under, 2*time.Second, "cal")
	clock := newFakeClock(under.at[1])
	var mu sync.Mutex
	ran := map[int64]int{}
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	err := m.Push(ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Normal,
		Callback: func(_ context.Context, f ngxtasks.Firing) error {
			mu.Lock()
			defer mu.Unlock()
			if now := clock.Now(); now.Before(f.Slot.Start) {
				t.Errorf("slot %d ran at %v, before its start %v", f.Slot.N, now, f.Slot.Start)
			}
			ran[f.Slot.N]++
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for clock.Now().Before(under.at[31]) {
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		clock.Add(100 * time.Millisecond)
	}
	for n := int64(1); n < 30; n++ {
		if ran[n] != 1 {
			t.Fatalf("slot %d ran %d times: %v", n, ran[n], ran)
		}
	}
}
