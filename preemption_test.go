package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// faultyDict wraps a MemoryDict to inject the failures a real store can
// have: errors before storing, errors after storing (the reply was lost),
// and slow answers. It stands in for a broken network, not for a server.
type faultyDict struct {
	inner      ngxtasks.MemoryDict
	failAll    bool
	failBefore float64 // share of Adds that fail without storing
	failAfter  float64 // share of Adds that store, then fail
	delay      time.Duration
	calls      atomic.Int64
	mu         sync.Mutex
	ttls       []time.Duration
	rnd        *rand.Rand
	recordTTLs bool
}

var errInjected = errors.New("injected dictionary failure")

func (d *faultyDict) roll() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rnd == nil {
		d.rnd = rand.New(rand.NewPCG(1, 2))
	}
	return d.rnd.Float64()
}

func (d *faultyDict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	d.calls.Add(1)
	if d.recordTTLs {
		d.mu.Lock()
		d.ttls = append(d.ttls, ttl)
		d.mu.Unlock()
	}
	if d.failAll {
		return false, errInjected
	}
	if d.delay > 0 {
		select {
		case <-time.After(d.delay):
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	r := d.roll()
	if r < d.failBefore {
		return false, errInjected
	}
	ok, err := d.inner.Add(context.Background(), key, value, ttl)
	if r < d.failBefore+d.failAfter {
		return false, errInjected
	}
	return ok, err
}

func (d *faultyDict) Get(ctx context.Context, key string) (string, bool, error) {
	return d.inner.Get(ctx, key)
}

func (d *faultyDict) Close() error { return d.inner.Close() }

// fleet is a set of managers (workers) sharing one dictionary.
func fleet(n int, d ngxtasks.Dict, clock func(i int) ngxtasks.Clock, tol time.Duration, obs func(ngxtasks.Event)) []*ngxtasks.Manager {
	ms := make([]*ngxtasks.Manager, n)
	for i := range ms {
		ms[i] = &ngxtasks.Manager{Dict: d, Worker: fmt.Sprintf("w%d", i), SkewTolerance: tol, Logger: quiet(), Observer: obs}
		if clock != nil {
			ms[i].Clock = clock(i)
		}
	}
	return ms
}

func preemptionRules(n int, interval func(i int) time.Duration, cb ngxtasks.Func) []ngxtasks.Rule {
	rs := make([]ngxtasks.Rule, n)
	for i := range rs {
		rs[i] = ngxtasks.Rule{Identifier: fmt.Sprintf("r%03d", i), Interval: interval(i), Type: ngxtasks.Preemption, Callback: cb, Spread: true}
	}
	return rs
}

// TestP1_OneWinnerPerSlot_FakeClocks: 8 workers whose clocks are skewed at
// random within the tolerance share a dictionary; 100 Preemption rules are
// driven through many slots, the workers racing on real goroutines at every
// step. Every (rule, slot) runs exactly once, and claim keys do not pile up.
func TestP1_OneWinnerPerSlot_FakeClocks(t *testing.T) {
	const (
		workers = 8
		rules   = 100
		tol     = 2 * time.Second
		step    = 250 * time.Millisecond
	)
	slots := 1000
	if testing.Short() {
		slots = 100
	}
	truth := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: truth}
	rnd := rand.New(rand.NewPCG(7, 7))
	skews := make([]time.Duration, workers)
	for i := range skews { // pairwise difference < tol
		skews[i] = time.Duration(rnd.Int64N(int64(tol))) - tol/2
	}
	log := newRunLog()
	ms := fleet(workers, d, func(i int) ngxtasks.Clock { return truth.Offset(skews[i]) }, tol, nil)
	rs := preemptionRules(rules, func(i int) time.Duration { return time.Second * time.Duration(1+i%3) }, log.callback)
	for _, m := range ms {
		shutdown(t, m)
		if err := m.Push(rs...); err != nil {
			t.Fatal(err)
		}
	}
	steps := slots * int(time.Second/step)
	maxKeys := 0
	for range steps {
		var wg sync.WaitGroup
		for _, i := range rnd.Perm(workers) {
			wg.Go(func() { _ = ms[i].Run(context.Background()) })
		}
		wg.Wait()
		truth.Add(step)
		maxKeys = max(maxKeys, d.Len())
	}
	checked := 0
	for _, r := range rs {
		// slots that every worker drove from start to end
		first := ngxtasks.EpochKeys{}.Slot(&r, t0.Add(tol)).N + 1
		last := ngxtasks.EpochKeys{}.Slot(&r, truth.Now().Add(-tol)).N - 1
		for s := first; s <= last; s++ {
			if n := log.count(r.Identifier, s); n != 1 {
				t.Fatalf("rule %s slot %d ran %d times, want exactly 1", r.Identifier, s, n)
			}
			checked++
		}
	}
	for k, n := range log.runs {
		if n > 1 {
			t.Fatalf("%v ran %d times", k, n)
		}
	}
	// Each claim lives Interval + tol (at most 3 s + 2 s here) and shards
	// drop expired entries within a second: at most about 6 keys per rule.
	if maxKeys > rules*7 {
		t.Fatalf("dictionary held up to %d keys for %d rules: claims pile up", maxKeys, rules)
	}
	t.Logf("%d (rule, slot) pairs checked exactly once; skews %v; at most %d keys held", checked, skews, maxKeys)
}

// TestP1_OneWinnerPerSlot_RealTime: the same with the real clock, real timer
// loops and real goroutines, for a few seconds. Safety is strict: no slot
// runs twice. Liveness is asserted for every slot that no worker reported
// skipped: on a loaded machine (the race detector, other processes) a
// claim may be answered after its slot ended or a timer loop may be
// starved past a slot, and the library says so, with the reason; a slot
// lost without a word fails the test.
func TestP1_OneWinnerPerSlot_RealTime(t *testing.T) {
	const interval = 100 * time.Millisecond
	d := ngxtasks.NewMemoryDict()
	log := newRunLog()
	ms := fleet(8, d, nil, 0, log.observe)
	rs := preemptionRules(50, func(int) time.Duration { return interval }, log.callback)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range ms {
		if err := m.Push(rs...); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = m.Start(ctx) })
	}
	wg.Wait()
	stop := time.Now()
	for _, m := range ms {
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for k, n := range log.runs {
		if n > 1 {
			t.Fatalf("%v ran %d times", k, n)
		}
	}
	skipped := log.skipped()
	checked, ran, excused := 0, 0, map[ngxtasks.SkipReason]int{}
	for _, r := range rs {
		first := ngxtasks.EpochKeys{}.Slot(&r, start.Add(interval)).N
		last := ngxtasks.EpochKeys{}.Slot(&r, stop.Add(-interval)).N
		for s := first; s <= last; s++ {
			checked++
			k := runKey{r.Identifier, s}
			switch reasons := skipped[k]; {
			case log.count(r.Identifier, s) == 1:
				ran++
			case len(reasons) > 0:
				excused[reasons[0]]++
			default:
				t.Fatalf("rule %s slot %d ran 0 times and no worker reported it skipped", r.Identifier, s)
			}
		}
	}
	if checked < 50*20 || ran == 0 {
		t.Fatalf("only %d slots checked, %d ran", checked, ran)
	}
	t.Logf("%d slots checked: %d ran once, none twice; not run, reported skipped (by first reason): %v", checked, ran, excused)
}

// TestP1_FailClosedOnDictionaryErrors: a dictionary that loses replies (it
// stores, then errors) and fails outright must never cause a second run: a
// worker that cannot tell whether it won does not run.
func TestP1_FailClosedOnDictionaryErrors(t *testing.T) {
	truth := newFakeClock(t0)
	d := &faultyDict{failBefore: 0.2, failAfter: 0.3}
	d.inner.Clock = truth
	log := newRunLog()
	ms := fleet(6, d, func(int) ngxtasks.Clock { return truth }, 0, log.observe)
	rs := preemptionRules(20, func(int) time.Duration { return time.Second }, log.callback)
	for _, m := range ms {
		shutdown(t, m)
		if err := m.Push(rs...); err != nil {
			t.Fatal(err)
		}
	}
	for range 400 {
		var wg sync.WaitGroup
		for _, m := range ms {
			wg.Go(func() { _ = m.Run(context.Background()) })
		}
		wg.Wait()
		truth.Add(250 * time.Millisecond)
	}
	for k, n := range log.runs {
		if n > 1 {
			t.Fatalf("%v ran %d times despite dictionary errors", k, n)
		}
	}
	errs := 0
	for _, ev := range log.kinds(ngxtasks.EventSkipped) {
		if ev.Reason == ngxtasks.SkipClaimError && errors.Is(ev.Err, errInjected) {
			errs++
		}
	}
	if errs == 0 || log.total() == 0 {
		t.Fatalf("claim errors reported %d, runs %d: want both > 0", errs, log.total())
	}
}

// TestP1_LateAnswerIsNotRun: a claim answered after its slot ended is not
// trusted: the slot is skipped as late.
func TestP1_LateAnswerIsNotRun(t *testing.T) {
	log := newRunLog()
	d := &faultyDict{delay: 200 * time.Millisecond}
	m := &ngxtasks.Manager{Dict: d, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "p", Interval: 50 * time.Millisecond, Type: ngxtasks.Preemption, Callback: log.callback}); err != nil {
		t.Fatal(err)
	}
	_ = m.Run(context.Background())
	if log.total() != 0 {
		t.Fatal("ran a slot whose claim came back after the slot ended")
	}
	skips := log.kinds(ngxtasks.EventSkipped)
	if len(skips) != 1 || skips[0].Reason != ngxtasks.SkipLate {
		t.Fatalf("events %+v, want one late skip", skips)
	}
}

// TestP2_FilterAndOverlapComeBeforeTheClaim: a worker that will not run a
// slot (filter says no, or still busy) must not claim it, so another worker
// runs it. Worker A's clock is ahead, so A always reaches a slot first.
func TestP2_FilterAndOverlapComeBeforeTheClaim(t *testing.T) {
	truth := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: truth}
	log := newRunLog()
	aBusy := make(chan struct{})
	aStarted := make(chan struct{}, 1)
	var aFilterOn atomic.Bool
	aFilterOn.Store(true)
	a := &ngxtasks.Manager{Dict: d, Worker: "A", Clock: truth.Offset(500 * time.Millisecond), Observer: log.observe}
	b := &ngxtasks.Manager{Dict: d, Worker: "B", Clock: truth, Observer: log.observe}
	shutdown(t, b)
	filterA := func(context.Context, ngxtasks.Firing) bool { return !aFilterOn.Load() }
	cbA := func(ctx context.Context, f ngxtasks.Firing) error {
		aStarted <- struct{}{}
		<-aBusy
		return log.callback(ctx, f)
	}
	rule := ngxtasks.Rule{Identifier: "job", Interval: 2 * time.Second, Type: ngxtasks.Preemption}
	ra, rb := rule, rule
	ra.Callback, ra.Filter = cbA, filterA
	rb.Callback = log.callback
	if err := a.Push(ra); err != nil {
		t.Fatal(err)
	}
	if err := b.Push(rb); err != nil {
		t.Fatal(err)
	}
	first := ngxtasks.EpochKeys{}.Slot(&rule, t0).N
	// Phase 1: A's filter says no for 10 slots: B runs all of them.
	for range 10 {
		_ = a.Run(context.Background())
		_ = b.Run(context.Background())
		truth.Add(2 * time.Second)
	}
	for s := first; s < first+10; s++ {
		if log.count("job", s) != 1 || log.byWho[runKey{"job", s}] != "B" {
			t.Fatalf("slot %d: runs %d by %q; B should run every slot A filters out", s, log.count("job", s), log.byWho[runKey{"job", s}])
		}
	}
	// Phase 2: A wins a slot and stays busy into the next: it must not claim
	// that next slot, so B runs it.
	aFilterOn.Store(false)
	done := make(chan struct{})
	go func() { _ = a.Run(context.Background()); close(done) }() // A wins slot first+10 and blocks
	<-aStarted
	_ = b.Run(context.Background()) // B loses slot first+10
	truth.Add(2 * time.Second)
	_ = a.Run(context.Background()) // A is busy: overlap skip, no claim
	_ = b.Run(context.Background()) // B wins slot first+11
	close(aBusy)
	<-done
	if who := log.byWho[runKey{"job", first + 11}]; who != "B" {
		t.Fatalf("slot after A's long run was run by %q, want B", who)
	}
	if who := log.byWho[runKey{"job", first + 10}]; who != "A" {
		t.Fatalf("slot %d run by %q, want A", first+10, who)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestP3_WinnerDiesSlotIsLostNextIsClaimed: the winner's claim stands for its
// slot (at-most-once), and the very next slot goes to a live worker.
func TestP3_WinnerDiesSlotIsLostNextIsClaimed(t *testing.T) {
	truth := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: truth}
	log := newRunLog()
	rule := ngxtasks.Rule{Identifier: "job", Interval: time.Second, Type: ngxtasks.Preemption}
	dies := rule
	dies.Callback = func(context.Context, ngxtasks.Firing) error { panic("worker died") }
	lives := rule
	lives.Callback = log.callback
	a := &ngxtasks.Manager{Dict: d, Worker: "A", Clock: truth, Logger: quiet()}
	b := &ngxtasks.Manager{Dict: d, Worker: "B", Clock: truth}
	shutdown(t, b)
	_ = a.Push(dies)
	_ = b.Push(lives)
	s := ngxtasks.EpochKeys{}.Slot(&rule, t0).N
	_ = a.Run(context.Background()) // A wins and "dies" mid-callback
	_ = a.Shutdown(context.Background())
	_ = b.Run(context.Background())
	if log.count("job", s) != 0 {
		t.Fatal("a second worker ran the slot its dead winner held")
	}
	truth.Add(time.Second)
	_ = b.Run(context.Background())
	if log.count("job", s+1) != 1 {
		t.Fatal("the next slot did not go to the live worker at once")
	}
}

// TestP4_ClaimsLiveIntervalPlusTolerance: every claim's ttl is Interval +
// SkewTolerance, and a worker whose clock is almost a tolerance behind
// still finds the claim.
func TestP4_ClaimsLiveIntervalPlusTolerance(t *testing.T) {
	truth := newFakeClock(t0)
	d := &faultyDict{recordTTLs: true}
	d.inner.Clock = truth
	log := newRunLog()
	const tol = 3 * time.Second
	rule := ngxtasks.Rule{Identifier: "job", Interval: 10 * time.Second, Type: ngxtasks.Preemption, Callback: log.callback}
	ahead := &ngxtasks.Manager{Dict: d, Worker: "ahead", SkewTolerance: tol, Clock: truth.Offset(tol - time.Millisecond)}
	behind := &ngxtasks.Manager{Dict: d, Worker: "behind", SkewTolerance: tol, Clock: truth}
	shutdown(t, ahead)
	shutdown(t, behind)
	_ = ahead.Push(rule)
	_ = behind.Push(rule)
	// Put the truth 1 ms before a slot boundary: "ahead" is already in the
	// next slot at its start, "behind" reaches it only at its very end.
	truth.Set(ngxtasks.EpochKeys{}.Slot(&rule, t0).End.Add(-tol + time.Millisecond))
	for range 30 { // drive both every 100 ms for 3 s
		_ = ahead.Run(context.Background())
		_ = behind.Run(context.Background())
		truth.Add(100 * time.Millisecond)
	}
	for k, n := range log.runs {
		if n != 1 {
			t.Fatalf("%v ran %d times", k, n)
		}
	}
	for _, ttl := range d.ttls {
		if ttl != rule.Interval+tol {
			t.Fatalf("claim ttl %v, want Interval + SkewTolerance = %v", ttl, rule.Interval+tol)
		}
	}
	if len(d.ttls) == 0 {
		t.Fatal("no claims made")
	}
	if w, ok, err := behind.Winner(context.Background(), "job", truth.Now()); err != nil || !ok || w == "" {
		t.Fatalf("Winner: %q %v %v", w, ok, err)
	}
}

// laggingDict is a store that takes no batches, whose Add of a key holding
// slow answers only once the clock has moved on by step.
type laggingDict struct {
	inner *ngxtasks.MemoryDict // not embedded: its AddBatch would make this a BatchAdder
	clock *fakeClock
	slow  string
	step  time.Duration
}

func (d *laggingDict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if strings.Contains(key, d.slow) {
		time.Sleep(500 * time.Millisecond) // the other claim is answered meanwhile
		d.clock.Add(d.step)
	}
	return d.inner.Add(ctx, key, value, ttl)
}

func (d *laggingDict) Get(ctx context.Context, key string) (string, bool, error) {
	return d.inner.Get(ctx, key)
}

func (d *laggingDict) Close() error { return d.inner.Close() }

// TestEachClaimIsJudgedWhenItsOwnAnswerCame: on a store without batches a
// step's claims go out at once, and a claim answered within its slot runs
// although another claim of the step was answered after that slot ended.
func TestEachClaimIsJudgedWhenItsOwnAnswerCame(t *testing.T) {
	clock := newFakeClock(time.Unix(1_800_000_000, 100_000_000))
	dict := &laggingDict{inner: ngxtasks.NewMemoryDict(), clock: clock, slow: "long", step: time.Second}
	defer dict.Close()
	m := &ngxtasks.Manager{Dict: dict, Clock: clock}
	shutdown(t, m)
	var ran sync.Map
	run := func(_ context.Context, f ngxtasks.Firing) error { ran.Store(f.Rule.Identifier, true); return nil }
	if err := m.Push(
		ngxtasks.Rule{Identifier: "short", Interval: time.Second, Type: ngxtasks.Preemption, Callback: run},
		ngxtasks.Rule{Identifier: "long", Interval: time.Hour, Type: ngxtasks.Preemption, Callback: run},
	); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"short", "long"} {
		if _, ok := ran.Load(id); !ok {
			t.Errorf("%s did not run; its claim was answered within its slot", id)
		}
	}
}
