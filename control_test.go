package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestO1_PauseReachesEveryWorkerWithinTheBoundAndResumeRunsNothingMissed:
// three workers on their timer loops, with a Normal and a Preemption rule
// of 100 ms. A pause made through one worker is obeyed by all: no slot
// that begins a bound (here the interval, and time to spare for a loaded
// machine) after Pause returned runs anywhere, each is skipped with SkipPaused naming the origin and the
// note; after Resume, no paused slot runs, and the slots that begin a
// bound later run again.
func TestO1_PauseReachesEveryWorkerWithinTheBoundAndResumeRunsNothingMissed(t *testing.T) {
	const interval = 100 * time.Millisecond
	d := ngxtasks.NewMemoryDict()
	defer d.Close()
	log := newRunLog()
	var ms []*ngxtasks.Manager
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 3 {
		m := &ngxtasks.Manager{Dict: d, Worker: fmt.Sprintf("w%d", i), Logger: quiet(), Observer: log.observe}
		for _, typ := range []ngxtasks.Type{ngxtasks.Normal, ngxtasks.Preemption} {
			if err := m.Push(ngxtasks.Rule{Identifier: typ.String(), Interval: interval, Type: typ, Callback: log.callback}); err != nil {
				t.Fatal(err)
			}
		}
		shutdown(t, m)
		ms = append(ms, m)
		wg.Go(func() { _ = m.Start(ctx) })
	}
	time.Sleep(5 * interval)
	op := ngxtasks.WithOrigin(context.Background(), "the test")
	for _, id := range []string{"normal", "preemption"} {
		if err := ms[1].Pause(op, id, time.Time{}, "deploy"); err != nil {
			t.Fatal(err)
		}
	}
	paused := time.Now()
	time.Sleep(10 * interval)
	for _, id := range []string{"normal", "preemption"} {
		if err := ms[2].Resume(op, id, "done"); err != nil {
			t.Fatal(err)
		}
	}
	resumed := time.Now()
	time.Sleep(10 * interval)
	cancel()
	wg.Wait()
	for _, m := range ms {
		_ = m.Shutdown(context.Background())
	}

	// The bound is the interval here (100 ms): a worker reads the pauses
	// every 50 ms. A loaded machine may start those readings late, so the
	// test holds the workers to it with 400 ms to spare, and logs how late
	// the last run after the pause began.
	slotStart := func(n int64) time.Time { return time.Unix(0, n*int64(interval)) }
	var latest time.Duration
	for _, ev := range log.kinds(ngxtasks.EventFired) {
		s := slotStart(ev.Slot.N)
		if !s.Before(paused) && s.Before(resumed) {
			latest = max(latest, s.Sub(paused))
		}
		if !s.Before(paused.Add(interval+400*time.Millisecond)) && s.Before(resumed) {
			t.Errorf("%s ran slot %d (begun %v after the pause) in %s", ev.Rule.Identifier, ev.Slot.N, s.Sub(paused), ev.Worker)
		}
	}
	t.Logf("the last slot that ran after the pause began %v after Pause returned (bound %v)", latest, interval)
	pausedSkips := 0
	for _, ev := range log.kinds(ngxtasks.EventSkipped) {
		if ev.Reason != ngxtasks.SkipPaused {
			continue
		}
		pausedSkips++
		var pe *ngxtasks.PausedError
		if !errors.As(ev.Err, &pe) || pe.Pause.Note != "deploy" || pe.Pause.Origin != "the test" {
			t.Errorf("slot %d skipped for %v; want a PausedError with the origin and the note", ev.Slot.N, ev.Err)
		}
	}
	if pausedSkips == 0 {
		t.Error("no slot was skipped as paused")
	}
	// Liveness after the resume, for the slots no worker reported skipped.
	skipped := log.skipped()
	ran := map[runKey]bool{}
	for k := range log.runs {
		ran[k] = true
	}
	for n := resumed.Add(interval).UnixNano()/int64(interval) + 1; slotStart(n + 1).Before(resumed.Add(9 * interval)); n++ {
		for _, id := range []string{"normal", "preemption"} {
			k := runKey{id, n}
			if !ran[k] && len(skipped[k]) == 0 {
				t.Errorf("%s slot %d, begun after the resume, did not run and was not reported skipped", id, n)
			}
		}
	}
	if _, ok := ms[0].Paused("normal"); ok {
		t.Error("worker 0 still sees the rule paused")
	}
}

// triggerFleet is workers on one MemoryDict and fake clock, never driven:
// their rule runs only when triggered.
func triggerFleet(t *testing.T, n int, overlap ngxtasks.Overlap, cb ngxtasks.Func) (*fakeClock, []*ngxtasks.Manager) {
	clock := newFakeClock(time.Unix(1_800_000_000, 0))
	d := &ngxtasks.MemoryDict{Clock: clock}
	t.Cleanup(func() { d.Close() })
	var ms []*ngxtasks.Manager
	for i := range n {
		m := &ngxtasks.Manager{Dict: d, Clock: clock, Worker: fmt.Sprintf("w%d", i), Logger: quiet()}
		if err := m.Push(ngxtasks.Rule{Identifier: "job", Interval: time.Hour, Type: ngxtasks.Preemption, Overlap: overlap, Callback: cb}); err != nil {
			t.Fatal(err)
		}
		shutdown(t, m)
		ms = append(ms, m)
	}
	return clock, ms
}

// TestO1_TriggersFromManyWorkersAtOnceGiveOneRun: 5 workers × 10 triggers at
// once give one run; the others are told ErrTriggered. A second later, a
// trigger runs again.
func TestO1_TriggersFromManyWorkersAtOnceGiveOneRun(t *testing.T) {
	var runs atomic.Int64
	clock, ms := triggerFleet(t, 5, ngxtasks.OverlapDefault, func(context.Context, ngxtasks.Firing) error {
		runs.Add(1)
		return nil
	})
	var ok, joined atomic.Int64
	var wg sync.WaitGroup
	for _, m := range ms {
		for range 10 {
			wg.Go(func() {
				switch err := m.Trigger(context.Background(), "job", false); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ngxtasks.ErrTriggered):
					joined.Add(1)
				default:
					t.Errorf("Trigger: %v", err)
				}
			})
		}
	}
	wg.Wait()
	waitFor(t, func() bool { return runs.Load() >= 1 })
	if ok.Load() != 1 || joined.Load() != 49 {
		t.Errorf("%d triggers ran and %d joined; want 1 and 49", ok.Load(), joined.Load())
	}
	clock.Add(2 * time.Second)
	if err := ms[3].Trigger(context.Background(), "job", false); err != nil {
		t.Errorf("a trigger after the window: %v", err)
	}
	waitFor(t, func() bool { return runs.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs; want 2", n)
	}
}

// TestO1_TriggerHonoursTheLeaseAndThePauseUnlessForced: while a triggered run
// holds a leasing rule's lease, another trigger is refused, naming the
// holder, unless forced (that run gets no token); a paused rule's trigger
// is refused, unless forced.
func TestO1_TriggerHonoursTheLeaseAndThePauseUnlessForced(t *testing.T) {
	release := make(chan struct{})
	tokens := make(chan uint64, 4)
	clock, ms := triggerFleet(t, 2, ngxtasks.OverlapSkip, func(_ context.Context, fi ngxtasks.Firing) error {
		tokens <- fi.Token
		<-release
		return nil
	})
	defer close(release)
	if err := ms[0].Trigger(context.Background(), "job", false); err != nil {
		t.Fatal(err)
	}
	if tok := <-tokens; tok == 0 {
		t.Error("the triggered run of a leasing rule has no token")
	}
	clock.Add(2 * time.Second)
	var held *ngxtasks.HeldError
	if err := ms[1].Trigger(context.Background(), "job", false); !errors.As(err, &held) || held.Holder != "w0" {
		t.Errorf("a trigger while w0's run holds the lease: %v; want a HeldError naming w0", err)
	}
	if err := ms[1].Trigger(context.Background(), "job", true); err != nil {
		t.Errorf("a forced trigger: %v", err)
	}
	if tok := <-tokens; tok != 0 {
		t.Errorf("the forced run got token %d; want none", tok)
	}
	if err := ms[0].Pause(context.Background(), "job", time.Time{}, "hold"); err != nil {
		t.Fatal(err)
	}
	var pe *ngxtasks.PausedError
	clock.Add(2 * time.Second)
	if err := ms[1].Trigger(context.Background(), "job", false); !errors.As(err, &pe) || pe.Pause.Note != "hold" {
		t.Errorf("a trigger of a paused rule: %v; want a PausedError", err)
	}
}

// TestO1_PauseUntilEndsByItself: a pause with an end skips the slots that
// begin before it, not those after, with no Resume.
func TestO1_PauseUntilEndsByItself(t *testing.T) {
	clock := newFakeClock(time.Unix(1_800_000_000, 0))
	d := &ngxtasks.MemoryDict{Clock: clock}
	defer d.Close()
	log := newRunLog()
	m := &ngxtasks.Manager{Dict: d, Clock: clock, Logger: quiet(), Observer: log.observe}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback}); err != nil {
		t.Fatal(err)
	}
	start := clock.Now().Unix()
	if err := m.Pause(context.Background(), "r", clock.Now().Add(3*time.Second), "three slots"); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
	}
	for n := start; n < start+6; n++ {
		want := 0
		if n >= start+3 {
			want = 1
		}
		if got := log.count("r", n); got != want {
			t.Errorf("slot %d ran %d times; want %d", n-start, got, want)
		}
	}
}

// TestPauseNeedsARuleAndADictionaryThatSets: Pause names what it cannot do.
func TestPauseNeedsARuleAndADictionaryThatSets(t *testing.T) {
	plain := struct{ ngxtasks.Dict }{ngxtasks.NewMemoryDict()}
	m := &ngxtasks.Manager{Dict: plain, Logger: quiet()}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); err != nil {
		t.Fatal(err)
	}
	if err := m.Pause(context.Background(), "r", time.Time{}, ""); err == nil {
		t.Error("Pause on a dictionary that cannot set succeeded")
	}
	if err := m.Pause(context.Background(), "nope", time.Time{}, ""); err == nil {
		t.Error("Pause of an unknown rule succeeded")
	}
}
