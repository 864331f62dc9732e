package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// downFleet is a fleet of managers sharing d, driven together by Run on
// one fake clock; start makes a new one under the same worker names, as a
// restart does.
type downFleet struct {
	t     *testing.T
	d     ngxtasks.Dict
	clock *fakeClock
	rule  ngxtasks.Rule
	log   *runLog
	ms    []*ngxtasks.Manager
}

func (f *downFleet) start(workers int) {
	if f.d == nil {
		f.d = &ngxtasks.MemoryDict{Clock: f.clock} // the store's clock is the test's
	}
	f.ms = nil
	for i := range workers {
		m := &ngxtasks.Manager{Dict: f.d, Clock: f.clock, Worker: fmt.Sprintf("w%d", i), Logger: quiet(), Observer: f.log.observe}
		if err := m.Push(f.rule); err != nil {
			f.t.Fatal(err)
		}
		f.ms = append(f.ms, m)
	}
}

// drive runs every manager at once, every step, until the clock reaches
// until.
func (f *downFleet) drive(until time.Time, step time.Duration) {
	for f.clock.Now().Before(until) {
		var wg sync.WaitGroup
		for _, m := range f.ms {
			wg.Go(func() { _ = m.Run(context.Background()) })
		}
		wg.Wait()
		f.clock.Add(step)
	}
}

func (f *downFleet) stop() {
	for _, m := range f.ms {
		if err := m.Shutdown(context.Background()); err != nil {
			f.t.Fatal(err)
		}
	}
	f.ms = nil
}

// missed sums the slots the fleet reported missed while it was down, by
// each worker.
func (f *downFleet) missed() map[string]int64 {
	out := map[string]int64{}
	for _, ev := range f.log.kinds(ngxtasks.EventSkipped) {
		if ev.Reason == ngxtasks.SkipDown {
			out[ev.Worker] += max(ev.Missed, 1)
		}
	}
	return out
}

// TestCatchUpRunsTheLatestSlotOnceAcrossTheFleet: three workers run a
// Preemption rule with a Schedule, then all stop for three slots; started
// again in the third, within the window, the fleet runs that slot exactly
// once, and the two before it are reported missed, not run.
func TestCatchUpRunsTheLatestSlotOnceAcrossTheFleet(t *testing.T) {
	sched := unevenSchedule(40)
	f := &downFleet{t: t, clock: newFakeClock(sched.at[1].Add(time.Millisecond)), log: newRunLog(),
		rule: ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Preemption, CatchUp: time.Hour}}
	f.rule.Callback = f.log.callback
	f.start(3)
	f.drive(sched.at[10], 100*time.Millisecond) // slots 2..9 run
	f.stop()
	f.clock.Set(sched.at[12].Add(500 * time.Millisecond)) // 10 and 11 passed unrun, 12 has begun
	f.start(3)
	f.drive(sched.at[14], 100*time.Millisecond)
	f.stop()
	for n := int64(2); n < 14; n++ {
		want := 1
		if n == 10 || n == 11 {
			want = 0
		}
		if got := f.log.count("cal", n); got != want {
			t.Fatalf("slot %d ran %d times, want %d: %v", n, got, want, f.log.runs)
		}
	}
	missed := f.missed()
	if len(missed) == 0 {
		t.Fatal("no worker reported the two slots missed")
	}
	for w, n := range missed {
		if n != 2 {
			t.Fatalf("worker %s reported %d slots missed, want 2 (%v)", w, n, missed)
		}
	}
}

// TestCatchUpWindowShorterThanTheGapRunsNothing: started again after the
// window has passed since the slot in progress began, the fleet runs none
// of the slots it missed, and reports all three.
func TestCatchUpWindowShorterThanTheGapRunsNothing(t *testing.T) {
	sched := unevenSchedule(40)
	f := &downFleet{t: t, clock: newFakeClock(sched.at[1].Add(time.Millisecond)), log: newRunLog(),
		rule: ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Preemption, CatchUp: 200 * time.Millisecond}}
	f.rule.Callback = f.log.callback
	f.start(2)
	f.drive(sched.at[10], 50*time.Millisecond)
	f.stop()
	f.clock.Set(sched.at[12].Add(500 * time.Millisecond)) // after the window
	f.start(2)
	f.drive(sched.at[13].Add(-time.Millisecond), 50*time.Millisecond)
	f.stop()
	for _, n := range []int64{10, 11, 12} {
		if got := f.log.count("cal", n); got != 0 {
			t.Fatalf("slot %d ran %d times, want none", n, got)
		}
	}
	for w, n := range f.missed() {
		if n != 3 {
			t.Fatalf("worker %s reported %d slots missed, want 3", w, n)
		}
	}
	if len(f.missed()) != 2 {
		t.Fatalf("missed slots reported by %v, want both workers", f.missed())
	}
}

// TestCatchUpCountsTenThousandSlotsDown: a rule down for 10,000 slots runs
// its slot in progress at once when it is back and reports the 9,999
// before it in one event, for an Interval rule (counted by division) and
// a Schedule (counted slot by slot).
func TestCatchUpCountsTenThousandSlotsDown(t *testing.T) {
	for _, c := range []struct {
		name string
		rule ngxtasks.Rule
		at   func(n int) time.Time // slot n's start
	}{
		{"interval", ngxtasks.Rule{Interval: time.Second}, func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }},
		{"schedule", ngxtasks.Rule{Schedule: unevenSchedule(10020)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			at := c.at
			if at == nil {
				at = func(n int) time.Time { return c.rule.Schedule.(listSchedule).at[n] }
			}
			f := &downFleet{t: t, clock: newFakeClock(at(1).Add(time.Millisecond)), log: newRunLog(), rule: c.rule}
			f.rule.Identifier, f.rule.Type, f.rule.CatchUp, f.rule.Callback = "r", ngxtasks.Normal, time.Minute, f.log.callback
			f.start(1)
			f.drive(at(3), 100*time.Millisecond) // slots 1 (interval) or 2 (schedule) run
			f.stop()
			f.clock.Set(at(10_002).Add(100 * time.Millisecond))
			f.start(1)
			f.drive(at(10_002).Add(200*time.Millisecond), 100*time.Millisecond)
			if st := f.ms[0].Stats()[0]; st.CaughtUp != 1 || st.SkipsBy[ngxtasks.SkipDown] != 9_999 {
				t.Errorf("Stats: caught up %d, down %d; want 1 and 9,999", st.CaughtUp, st.SkipsBy[ngxtasks.SkipDown])
			}
			f.stop()
			var slot int64 = 10_002
			if c.rule.Schedule == nil {
				slot = ngxtasks.EpochKeys{}.Slot(&f.rule, at(10_002)).N
			}
			if n := f.log.count("r", slot); n != 1 {
				t.Fatalf("the slot in progress ran %d times, want once", n)
			}
			if got := f.missed()["w0"]; got != 9_999 {
				t.Fatalf("reported %d slots missed, want 9,999", got)
			}
		})
	}
}

// TestCatchUpNormalRuleOncePerWorkerName: a Normal rule's last run is kept
// per worker name. Back under its name, a worker catches up the slot in
// progress once; a worker under a name never seen before treats the rule
// as new and does not join a Schedule's slot midway.
func TestCatchUpNormalRuleOncePerWorkerName(t *testing.T) {
	sched := unevenSchedule(40)
	f := &downFleet{t: t, clock: newFakeClock(sched.at[1].Add(time.Millisecond)), log: newRunLog(),
		rule: ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Normal, CatchUp: time.Hour}}
	var mu sync.Mutex
	ranBy := map[string][]int64{}
	f.rule.Callback = func(_ context.Context, fi ngxtasks.Firing) error {
		mu.Lock()
		defer mu.Unlock()
		ranBy[fi.Worker] = append(ranBy[fi.Worker], fi.Slot.N)
		return nil
	}
	f.start(1) // w0
	f.drive(sched.at[6], 100*time.Millisecond)
	f.stop()
	f.clock.Set(sched.at[8].Add(300 * time.Millisecond))
	f.start(2) // w0 again, and w1, new
	f.drive(sched.at[9].Add(-time.Millisecond), 100*time.Millisecond)
	f.stop()
	if got := ranBy["w0"]; len(got) != 5 || got[3] != 5 || got[4] != 8 {
		t.Fatalf("w0 ran slots %v, want 2..5 then 8 once", got)
	}
	if got := ranBy["w1"]; len(got) != 0 {
		t.Fatalf("w1, a name never seen, ran slots %v; want none before slot 9", got)
	}
	if m := f.missed(); m["w0"] != 2 || m["w1"] != 0 {
		t.Fatalf("missed slots reported %v, want 2 by w0", m)
	}
}

// TestCatchUpNeedsADictionaryThatCanSet: a rule with CatchUp is refused,
// naming the field, by a manager whose dictionary cannot keep its last run.
func TestCatchUpNeedsADictionaryThatCanSet(t *testing.T) {
	m := &ngxtasks.Manager{Dict: addOnly{ngxtasks.NewMemoryDict()}, Logger: quiet()}
	shutdown(t, m)
	err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop, CatchUp: time.Minute})
	var re *ngxtasks.RuleError
	if !errors.As(err, &re) || re.Field != "CatchUp" || re.Rule != "r" {
		t.Fatalf("Push: %v, want a RuleError for r's CatchUp", err)
	}
}

// addOnly hides every method of a Dict but the interface's own.
type addOnly struct{ ngxtasks.Dict }

// outage is a dictionary that fails every call while down is set, as a
// store that cannot be reached does.
type outage struct {
	d    *ngxtasks.MemoryDict
	down atomic.Bool
}

var errUnreachable = errors.New("store unreachable")

func (o *outage) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if o.down.Load() {
		return false, errUnreachable
	}
	return o.d.Add(ctx, key, value, ttl)
}

func (o *outage) Get(ctx context.Context, key string) (string, bool, error) {
	if o.down.Load() {
		return "", false, errUnreachable
	}
	return o.d.Get(ctx, key)
}

func (o *outage) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if o.down.Load() {
		return errUnreachable
	}
	return o.d.Set(ctx, key, value, ttl)
}

func (o *outage) Close() error { return o.d.Close() }

// TestCatchUpAfterTheStoreFailedWhileWorkersRan: three workers stay up
// while the store cannot be reached for slots 10 and 11 of a Preemption
// rule, driven by Run. Back for slot 12, the fleet runs it once and every
// worker reports the two slots before it missed (down) besides its failed
// claims (the first to screen, at least). Down again from slot 14's start to its middle: a slot taken by
// Run is not tried again (its callback runs where Run was called), so 14
// is lost, and at slot 15 the fleet reports it missed and runs 15 once.
func TestCatchUpAfterTheStoreFailedWhileWorkersRan(t *testing.T) {
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	o := &outage{d: &ngxtasks.MemoryDict{}}
	f := &downFleet{t: t, d: o, clock: newFakeClock(at(8).Add(time.Millisecond)), log: newRunLog(),
		rule: ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Preemption, CatchUp: time.Minute}}
	o.d.Clock = f.clock
	f.rule.Callback = f.log.callback
	f.start(3)
	f.drive(at(10), 100*time.Millisecond) // 8 and 9 run
	o.down.Store(true)
	f.drive(at(12), 100*time.Millisecond)
	o.down.Store(false)
	f.drive(at(14), 100*time.Millisecond)
	o.down.Store(true)
	f.drive(at(14).Add(500*time.Millisecond), 100*time.Millisecond)
	o.down.Store(false)
	f.drive(at(16), 100*time.Millisecond)
	f.stop()
	slot := func(n int) int64 { return ngxtasks.EpochKeys{}.Slot(&f.rule, at(n)).N }
	for n, want := range map[int]int{8: 1, 9: 1, 10: 0, 11: 0, 12: 1, 13: 1, 14: 0, 15: 1} {
		if got := f.log.count("r", slot(n)); got != want {
			t.Errorf("slot %d ran %d times, want %d", n, got, want)
		}
	}
	if got, want := reportedDown(t, f.log), []int64{slot(10), slot(11), slot(14)}; !slices.Equal(got, want) {
		t.Errorf("the fleet reported slots %v missed while the store was away, want %v", got, want)
	}
}

// reportedDown returns the slots the fleet reported missed (SkipDown),
// in order. A worker reports what it finds missing when it screens, so
// the worker that runs the catch-up reports them, and any other that
// screens before that run is recorded; each worker reports a slot once.
func reportedDown(t *testing.T, log *runLog) []int64 {
	t.Helper()
	by := map[int64]map[string]bool{}
	for _, ev := range log.kinds(ngxtasks.EventSkipped) {
		if ev.Reason != ngxtasks.SkipDown {
			continue
		}
		for i := range ev.Missed {
			n := ev.Slot.N + i
			if by[n] == nil {
				by[n] = map[string]bool{}
			}
			if by[n][ev.Worker] {
				t.Errorf("%s reported slot %d missed twice", ev.Worker, n)
			}
			by[n][ev.Worker] = true
		}
	}
	return slices.Sorted(maps.Keys(by))
}

// TestCatchUpRetriesTheSlotTheTimerTookWhileItLasts: three workers' timer
// loops run a Preemption rule every second on the real clock. The store
// goes away 300 ms before slot n+1 and comes back 400 ms into slot n+3:
// n+1 and n+2 never run, and n+3, whose claims failed at its start, is
// tried again while it lasts and runs once across the fleet, after the
// store came back; the fleet reports n+1 and n+2 missed. On a machine
// too loaded for the tries to land within n+3, n+3 must instead be
// reported missed with them. No slot runs twice.
func TestCatchUpRetriesTheSlotTheTimerTookWhileItLasts(t *testing.T) {
	o := &outage{d: &ngxtasks.MemoryDict{}}
	log := newRunLog()
	rule := ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Preemption, CatchUp: time.Minute, Callback: log.callback}
	var ms []*ngxtasks.Manager
	ctx, cancel := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	for i := range 3 {
		m := &ngxtasks.Manager{Dict: o, Worker: fmt.Sprintf("w%d", i), Logger: quiet(), Observer: log.observe}
		if err := m.Push(rule); err != nil {
			t.Fatal(err)
		}
		loops.Go(func() { _ = m.Start(ctx) })
		ms = append(ms, m)
	}
	slotAt := func(at time.Time) ngxtasks.Slot { return ngxtasks.EpochKeys{}.Slot(&rule, at) }
	n := slotAt(time.Now().Add(1500 * time.Millisecond)) // slot n: the fleet runs from before it
	sleepUntil := func(at time.Time) { time.Sleep(time.Until(at)) }
	sleepUntil(n.End.Add(-300 * time.Millisecond))
	o.down.Store(true)
	back := n.End.Add(2*time.Second + 400*time.Millisecond)
	sleepUntil(back)
	o.down.Store(false)
	sleepUntil(n.End.Add(5*time.Second + 200*time.Millisecond)) // n+5 has begun
	cancel()
	loops.Wait()
	for _, m := range ms {
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for k, c := range log.runs {
		if c > 1 {
			t.Errorf("slot %d ran %d times", k.slot, c)
		}
	}
	for _, i := range []int64{1, 2} {
		if c := log.count("r", n.N+i); c != 0 {
			t.Errorf("slot n+%d ran while the store was away", i)
		}
	}
	skipped := log.skipped()
	caught := log.count("r", n.N+3) == 1
	want := []int64{n.N + 1, n.N + 2}
	if !caught {
		want = append(want, n.N+3)
	}
	if got := reportedDown(t, log); !slices.Equal(got, want) {
		t.Errorf("the fleet reported slots %v missed, want %v (slot n+3 caught up: %v)", got, want, caught)
	}
	if caught {
		for _, ev := range log.kinds(ngxtasks.EventFired) {
			if ev.Slot.N == n.N+3 && ev.Time.Before(back) {
				t.Errorf("slot n+3 ran at %v, before the store was back at %v", ev.Time, back)
			}
		}
	}
	for i := int64(4); i <= 4; i++ { // n+5 may still be claiming at shutdown
		if log.count("r", n.N+i) != 1 && len(skipped[runKey{"r", n.N + i}]) == 0 {
			t.Errorf("slot n+%d did not run, and no worker said why", i)
		}
	}
	t.Logf("slot n+3, whose claims failed at its start, caught up within it: %v", caught)
}

// TestCatchUpChangedScheduleStartsAtItsNextOccurrence: the record of a
// last run made under other slots is not the rule's. Restarted with a
// changed schedule, or reloaded to one (Replace), a CatchUp rule neither
// runs the new schedule's slot in progress nor reports the old one's
// slots missed: it runs from its next occurrence. (A Normal rule, run by
// two workers: no claim stands in the way, the record alone decides.)
func TestCatchUpChangedScheduleStartsAtItsNextOccurrence(t *testing.T) {
	sched := unevenSchedule(40)
	shifted := func(by time.Duration, extra int) listSchedule { // String differs by extra
		l := listSchedule{at: slices.Clone(sched.at)}
		for i := range l.at {
			l.at[i] = l.at[i].Add(by)
		}
		for range extra {
			l.at = append(l.at, l.at[len(l.at)-1].Add(time.Hour))
		}
		return l
	}
	moved, later := shifted(time.Millisecond, 1), shifted(200*time.Millisecond, 2)
	f := &downFleet{t: t, clock: newFakeClock(sched.at[1].Add(time.Millisecond)), log: newRunLog(),
		rule: ngxtasks.Rule{Identifier: "cal", Schedule: sched, Type: ngxtasks.Normal, CatchUp: time.Hour, Version: "v1"}}
	f.rule.Callback = f.log.callback
	f.start(2)
	f.drive(sched.at[6], 100*time.Millisecond) // slots 2..5 run
	f.stop()

	// Restarted in slot 8 with a changed schedule: its record says slot 5.
	f.rule.Schedule, f.rule.Version = moved, "v2"
	f.clock.Set(sched.at[8].Add(300 * time.Millisecond))
	f.start(2)
	f.drive(moved.at[12].Add(300*time.Millisecond), 100*time.Millisecond)

	// Reloaded 300 ms into slot 12, whose run the record holds, to a
	// schedule whose slot 12 began 200 ms in: after that run.
	f.rule.Schedule, f.rule.Version = later, "v3"
	for _, m := range f.ms {
		if _, err := m.Replace(f.rule); err != nil {
			t.Fatal(err)
		}
	}
	f.drive(later.at[14], 100*time.Millisecond)
	f.stop()
	for n, want := range map[int64]int{5: 2, 6: 0, 7: 0, 8: 0, 9: 2, 11: 2, 12: 2, 13: 2} {
		if got := f.log.count("cal", n); got != want {
			t.Errorf("slot %d ran %d times in two workers, want %d", n, got, want)
		}
	}
	if got := reportedDown(t, f.log); len(got) > 0 {
		t.Errorf("slots %v reported missed: a changed schedule missed nothing", got)
	}
}
