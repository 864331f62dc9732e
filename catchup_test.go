package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
