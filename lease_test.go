package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// leaseFleet is workers sharing a MemoryDict on one fake clock, each driven
// by Run, whose rule leases (Overlap skip) and runs in the background, so
// that a run can go on across slots while the test drives the next ones.
type leaseFleet struct {
	t       *testing.T
	clock   *fakeClock
	dict    *ngxtasks.MemoryDict
	workers []*ngxtasks.Manager
	log     *runLog

	mu      sync.Mutex
	running int // runs going on now, fleet-wide
	most    int // the most that ever went on at once
	tokens  []uint64
	release map[int64]chan struct{} // by slot: closed to end its run
	done    map[int64]chan struct{} // by slot: closed when its run ended
}

func newLeaseFleet(t *testing.T, n int, ttl time.Duration) *leaseFleet {
	f := &leaseFleet{t: t, clock: newFakeClock(time.Unix(1_800_000_000, 0)), log: newRunLog(),
		release: map[int64]chan struct{}{}, done: map[int64]chan struct{}{}}
	f.dict = &ngxtasks.MemoryDict{Clock: f.clock}
	t.Cleanup(func() { f.dict.Close() })
	for i := range n {
		m := &ngxtasks.Manager{Dict: f.dict, Clock: f.clock, Worker: fmt.Sprintf("w%d", i), Logger: quiet(),
			LeaseTTL: ttl, Observer: f.log.observe}
		if err := m.Push(ngxtasks.Rule{Identifier: "long", Interval: time.Second, Type: ngxtasks.Preemption,
			Overlap: ngxtasks.OverlapSkip, Background: true, Callback: f.run}); err != nil {
			t.Fatal(err)
		}
		shutdown(t, m)
		f.workers = append(f.workers, m)
	}
	return f
}

// gate returns the channel that ends slot n's run, and the one closed when
// it has ended.
func (f *leaseFleet) gate(n int64) (release, done chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.release[n] == nil {
		f.release[n], f.done[n] = make(chan struct{}), make(chan struct{})
	}
	return f.release[n], f.done[n]
}

func (f *leaseFleet) run(ctx context.Context, fi ngxtasks.Firing) error {
	release, done := f.gate(fi.Slot.N)
	defer close(done)
	f.mu.Lock()
	f.running++
	f.most = max(f.most, f.running)
	f.tokens = append(f.tokens, fi.Token)
	f.mu.Unlock()
	f.log.callback(ctx, fi)
	select {
	case <-release:
	case <-ctx.Done():
	}
	f.mu.Lock()
	f.running--
	f.mu.Unlock()
	return nil
}

// step drives every worker once at the present, waits until each has
// settled the slot (its background turn claims on a goroutine of its own,
// which must see the clock at the slot), then moves the clock on by d.
func (f *leaseFleet) step(d time.Duration) {
	n := f.slotAt()
	for _, m := range f.workers {
		if err := m.Run(context.Background()); err != nil {
			f.t.Fatal(err)
		}
	}
	waitFor(f.t, func() bool {
		settled := map[string]bool{}
		f.log.mu.Lock()
		defer f.log.mu.Unlock()
		for _, ev := range f.log.events {
			if ev.Slot.N == n && ev.Kind != ngxtasks.EventFired && ev.Kind != ngxtasks.EventFinished {
				settled[ev.Worker] = true
			}
		}
		return len(settled) == len(f.workers)
	})
	f.clock.Add(d)
}

// slotAt is the slot number of the long rule at the present.
func (f *leaseFleet) slotAt() int64 { return f.clock.Now().Unix() }

// TestL1_LeaseSkipsSlotsWhileARunGoesOnElsewhere: a Preemption rule with
// Overlap skip runs one slot across three workers, and while that run goes
// on (three slots long), every worker skips the slots that come, with
// SkipElsewhere naming the holder; once it ends, the next slot runs, once,
// under a higher token. Never two runs at once.
func TestL1_LeaseSkipsSlotsWhileARunGoesOnElsewhere(t *testing.T) {
	f := newLeaseFleet(t, 3, 15*time.Second)
	first := f.slotAt()
	f.step(time.Second)
	waitFor(t, func() bool { return f.log.count("long", first) == 1 })
	holder := f.log.byWho[runKey{"long", first}]
	for range 3 {
		f.step(time.Second)
	}
	release, done := f.gate(first)
	close(release)
	<-done
	next := f.slotAt()
	f.step(time.Second)
	waitFor(t, func() bool { return f.log.count("long", next) == 1 })
	release, done = f.gate(next)
	close(release)
	<-done

	if f.most != 1 {
		t.Errorf("%d runs of the rule went on at once; want 1", f.most)
	}
	for n := first + 1; n < next; n++ {
		if c := f.log.count("long", n); c != 0 {
			t.Errorf("slot %d ran %d times while slot %d's run held the lease", n, c, first)
		}
	}
	elsewhere := 0
	for _, ev := range f.log.kinds(ngxtasks.EventSkipped) {
		if ev.Reason != ngxtasks.SkipElsewhere {
			if ev.Reason != ngxtasks.SkipOverlap || ev.Worker != holder {
				t.Errorf("slot %d skipped by %s for %v; want only SkipElsewhere (SkipOverlap at the holder)", ev.Slot.N, ev.Worker, ev.Reason)
			}
			continue
		}
		// The slots during the first run name its holder; the losers of
		// the next slot find the lease its winner took with its claim.
		who, token := holder, f.tokens[0]
		if ev.Slot.N == next {
			who, token = f.log.byWho[runKey{"long", next}], f.tokens[1]
		} else {
			elsewhere++
		}
		var held *ngxtasks.HeldError
		if !errors.As(ev.Err, &held) || held.Holder != who || held.Token != token {
			t.Errorf("slot %d skipped for %v; want a HeldError naming %s under token %d", ev.Slot.N, ev.Err, who, token)
		}
	}
	if want := 4 * 2; elsewhere != want { // the first slot and the 3 during its run, at the 2 workers that do not hold it
		t.Errorf("%d slots skipped as running elsewhere during the first run; want %d", elsewhere, want)
	}
	if len(f.tokens) != 2 || f.tokens[0] == 0 || f.tokens[1] <= f.tokens[0] {
		t.Errorf("tokens of the runs = %v; want two, increasing", f.tokens)
	}
}

// TestL1_LeaseOfADeadHolderPassesWhenItExpires: a holder that died with the
// rule's lease (taken here by hand, as its claim would have) holds the rule
// until the lease's TTL has passed on the store's clock; the first slot that
// begins after that runs, once, under a higher token.
func TestL1_LeaseOfADeadHolderPassesWhenItExpires(t *testing.T) {
	const ttl = 3 * time.Second
	f := newLeaseFleet(t, 3, ttl)
	dead := ngxtasks.LeaseRequest{Key: "ngxtasks:long:lease", Holder: "dead", TTL: ttl}
	if err := f.dict.Lease(context.Background(), &dead); err != nil || !dead.Acquired {
		t.Fatalf("the dead holder's lease: %+v, %v", dead, err)
	}
	start := f.slotAt()
	for range 5 {
		f.step(time.Second)
	}
	waitFor(t, func() bool { return f.log.total() == 1 })
	for n := start; n < start+3; n++ {
		if c := f.log.count("long", n); c != 0 {
			t.Errorf("slot %d ran while the dead holder's lease lived", n)
		}
	}
	if c := f.log.count("long", start+3); c != 1 {
		t.Errorf("slot %d, the first after the lease expired, ran %d times; want 1", start+3, c)
	}
	if f.tokens[0] <= dead.Token {
		t.Errorf("the run's token %d is not above the dead holder's %d", f.tokens[0], dead.Token)
	}
	release, done := f.gate(start + 3)
	close(release)
	<-done
}

// flakyLeaser is a MemoryDict whose renewals can be made to fail, as when
// the store stops answering, and which counts them.
type flakyLeaser struct {
	*ngxtasks.MemoryDict
	down     atomic.Bool
	renewals atomic.Int64 // round trips
	leases   atomic.Int64 // leases renewed, over all round trips
}

func (d *flakyLeaser) Renew(ctx context.Context, rs []ngxtasks.Renewal) error {
	d.renewals.Add(1)
	d.leases.Add(int64(len(rs)))
	if d.down.Load() {
		return errors.New("store unreachable")
	}
	return d.MemoryDict.Renew(ctx, rs)
}

// TestL1_LeaseNotRenewedCancelsTheRunBeforeItCanPass: when the store stops
// answering renewals mid-run, the run's context is cancelled with
// ErrLeaseLost while its lease still holds in the store (no other worker
// could take the rule yet), and the run's outcome says so.
func TestL1_LeaseNotRenewedCancelsTheRunBeforeItCanPass(t *testing.T) {
	const ttl = 5 * time.Second // the run is cancelled at 4 s: a second to spare for a late timer on a loaded machine
	d := &flakyLeaser{MemoryDict: ngxtasks.NewMemoryDict()}
	defer d.Close()
	var finished atomic.Pointer[ngxtasks.Event]
	m := &ngxtasks.Manager{Dict: d, Logger: quiet(), LeaseTTL: ttl, Observer: func(ev ngxtasks.Event) {
		if ev.Kind == ngxtasks.EventFinished {
			finished.Store(&ev)
		}
	}}
	type cancelled struct {
		after     time.Duration
		cause     error
		stillHeld bool
	}
	got := make(chan cancelled, 1)
	started := time.Now()
	if err := m.Push(ngxtasks.Rule{Identifier: "long", Interval: time.Hour, Type: ngxtasks.Preemption,
		Overlap: ngxtasks.OverlapSkip, Background: true,
		Callback: func(ctx context.Context, fi ngxtasks.Firing) error {
			d.down.Store(true)
			<-ctx.Done()
			c := cancelled{after: time.Since(started), cause: context.Cause(ctx)}
			other := ngxtasks.LeaseRequest{Key: "ngxtasks:long:lease", Holder: "other", TTL: ttl}
			if err := d.Lease(context.Background(), &other); err == nil {
				c.stillHeld = !other.Acquired && other.HeldBy == m.WorkerID()
			}
			got <- c
			return ctx.Err()
		}}); err != nil {
		t.Fatal(err)
	}
	shutdown(t, m)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var c cancelled
	select {
	case c = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the run was not cancelled within 10 s of its lease's last renewal")
	}
	if !errors.Is(c.cause, ngxtasks.ErrLeaseLost) {
		t.Errorf("the run was cancelled for %v; want ErrLeaseLost", c.cause)
	}
	if !c.stillHeld {
		t.Errorf("when the run was cancelled (%v after it was claimed), its lease could already pass to another worker", c.after)
	}
	if c.after >= ttl {
		t.Errorf("the run was cancelled %v after its claim, not before its lease's TTL (%v)", c.after, ttl)
	}
	waitFor(t, func() bool { return finished.Load() != nil })
	if ev := finished.Load(); !errors.Is(ev.Err, ngxtasks.ErrLeaseLost) {
		t.Errorf("the run finished with %v; want ErrLeaseLost", ev.Err)
	}
}

// TestL1_LeaseTakenOverCancelsTheRunAtTheNextRenewal: a run whose token no
// longer holds its lease (here released behind its back and taken by
// another) is cancelled at the next renewal, which the store refuses.
func TestL1_LeaseTakenOverCancelsTheRunAtTheNextRenewal(t *testing.T) {
	const ttl = 600 * time.Millisecond
	d := ngxtasks.NewMemoryDict()
	defer d.Close()
	m := &ngxtasks.Manager{Dict: d, Logger: quiet(), LeaseTTL: ttl}
	causes := make(chan error, 1)
	if err := m.Push(ngxtasks.Rule{Identifier: "long", Interval: time.Hour, Type: ngxtasks.Preemption,
		Overlap: ngxtasks.OverlapSkip, Background: true,
		Callback: func(ctx context.Context, fi ngxtasks.Firing) error {
			if ok, err := d.Release(ctx, "ngxtasks:long:lease", fi.Token); !ok || err != nil {
				t.Errorf("release behind the run's back: %v, %v", ok, err)
			}
			thief := ngxtasks.LeaseRequest{Key: "ngxtasks:long:lease", Holder: "thief", TTL: time.Hour}
			if err := d.Lease(ctx, &thief); err != nil || !thief.Acquired {
				t.Errorf("the thief's lease: %+v, %v", thief, err)
			}
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil
		}}); err != nil {
		t.Fatal(err)
	}
	shutdown(t, m)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-causes:
		if !errors.Is(cause, ngxtasks.ErrLeaseLost) {
			t.Errorf("the run was cancelled for %v; want ErrLeaseLost", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run whose lease was taken over went on for 10 s")
	}
}

// TestL1_LeaseRenewalsOfManyRunsInOneRoundTrip: 1,000 rules running at once in
// one worker have their leases renewed together, one round trip per
// renewal period, each carrying all of them.
func TestL1_LeaseRenewalsOfManyRunsInOneRoundTrip(t *testing.T) {
	const rules, ttl = 1000, 3 * time.Second // renewed every second; a run is lost only if none lands in 2.4 s
	d := &flakyLeaser{MemoryDict: ngxtasks.NewMemoryDict()}
	defer d.Close()
	m := &ngxtasks.Manager{Dict: d, Logger: quiet(), LeaseTTL: ttl}
	stop := make(chan struct{})
	var running, lost atomic.Int64
	rs := make([]ngxtasks.Rule, rules)
	for i := range rs {
		rs[i] = ngxtasks.Rule{Identifier: fmt.Sprintf("r%d", i), Interval: time.Hour, Type: ngxtasks.Preemption,
			Overlap: ngxtasks.OverlapSkip, Background: true,
			Callback: func(ctx context.Context, fi ngxtasks.Firing) error {
				running.Add(1)
				select {
				case <-stop:
				case <-ctx.Done():
					lost.Add(1)
				}
				return nil
			}}
	}
	if err := m.Push(rs...); err != nil {
		t.Fatal(err)
	}
	shutdown(t, m)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return running.Load() == rules })
	before, carriedBefore, from := d.renewals.Load(), d.leases.Load(), time.Now()
	time.Sleep(ttl)
	trips, carried, elapsed := d.renewals.Load()-before, d.leases.Load()-carriedBefore, time.Since(from)
	close(stop)
	if lost.Load() != 0 {
		t.Errorf("%d runs lost their leases while the store answered", lost.Load())
	}
	if most := int64(elapsed/(ttl/3)) + 1; trips < 1 || trips > most {
		t.Errorf("%d renewal round trips in %v; want between 1 and %d (one per %v)", trips, elapsed, most, ttl/3)
	}
	if carried != trips*rules {
		t.Errorf("%d round trips carried %d renewals; want %d each", trips, carried, rules)
	}
}

// TestOverlapNeedsALeaserAndAPreemptionRule: Overlap skip on a dictionary
// that cannot lease, or on a Normal rule, is refused, naming the field.
func TestOverlapNeedsALeaserAndAPreemptionRule(t *testing.T) {
	plain := struct{ ngxtasks.Dict }{ngxtasks.NewMemoryDict()}
	m := &ngxtasks.Manager{Dict: plain, Logger: quiet()}
	err := m.Push(ngxtasks.Rule{Identifier: "p", Interval: time.Second, Type: ngxtasks.Preemption, Overlap: ngxtasks.OverlapSkip, Callback: noop})
	var re *ngxtasks.RuleError
	if !errors.As(err, &re) || re.Field != "Overlap" {
		t.Errorf("Overlap skip on a dictionary that cannot lease: %v; want a RuleError for Overlap", err)
	}
	if err := m.Push(ngxtasks.Rule{Identifier: "a", Interval: time.Second, Type: ngxtasks.Preemption, Overlap: ngxtasks.OverlapAllow, Callback: noop}); err != nil {
		t.Errorf("Overlap allow on a dictionary that cannot lease: %v", err)
	}
	err = (&ngxtasks.Rule{Identifier: "n", Interval: time.Second, Type: ngxtasks.Normal, Overlap: ngxtasks.OverlapSkip, Callback: noop}).Validate()
	if !errors.As(err, &re) || re.Field != "Overlap" {
		t.Errorf("Overlap on a Normal rule: %v; want a RuleError for Overlap", err)
	}
}

// TestL1_BufferOneStartsThePendingSlotWhenTheHolderLetsGo: three workers
// on their timer loops, a buffer_one rule of 400 ms whose first run lasts
// 600 ms. The slot that comes during that run is kept pending by one
// worker and starts when the run lets the lease go, within its own slot;
// runs never overlap, and their tokens rise.
func TestL1_BufferOneStartsThePendingSlotWhenTheHolderLetsGo(t *testing.T) {
	const interval = 400 * time.Millisecond
	d := ngxtasks.NewMemoryDict()
	defer d.Close()
	type run struct {
		slot       ngxtasks.Slot
		start, end time.Time
		token      uint64
	}
	var mu sync.Mutex
	var runs []run
	var first atomic.Bool
	first.Store(true)
	log := newRunLog()
	cb := func(ctx context.Context, fi ngxtasks.Firing) error {
		start := time.Now()
		if first.Swap(false) {
			time.Sleep(600 * time.Millisecond)
		}
		mu.Lock()
		runs = append(runs, run{fi.Slot, start, time.Now(), fi.Token})
		mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 3 {
		m := &ngxtasks.Manager{Dict: d, Worker: fmt.Sprintf("w%d", i), Logger: quiet(), Observer: log.observe}
		if err := m.Push(ngxtasks.Rule{Identifier: "b", Interval: interval, Type: ngxtasks.Preemption,
			Overlap: ngxtasks.OverlapBufferOne, Callback: cb}); err != nil {
			t.Fatal(err)
		}
		shutdown(t, m)
		wg.Go(func() { _ = m.Start(ctx) })
	}
	time.Sleep(6 * interval)
	cancel()
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // a pending start's run ends
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(runs, func(a, b run) int { return a.start.Compare(b.start) })
	if len(runs) < 3 {
		t.Fatalf("%d runs; want the long one and those after it", len(runs))
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].start.Before(runs[i-1].end) {
			t.Errorf("the run of slot %d began %v before the run of slot %d ended", runs[i].slot.N, runs[i-1].end.Sub(runs[i].start), runs[i-1].slot.N)
		}
		if runs[i].token <= runs[i-1].token {
			t.Errorf("token %d after %d", runs[i].token, runs[i-1].token)
		}
		if runs[i].slot.N == runs[i-1].slot.N {
			t.Errorf("slot %d ran twice", runs[i].slot.N)
		}
	}
	// The slot in progress when the long run ended had come during it:
	// it was pending, and starts once the long run lets its lease go.
	long := runs[0]
	pending := long.slot.N + int64(long.end.Sub(long.slot.Start)/interval)
	skipped := log.skipped()
	ran := false
	for _, r := range runs[1:] {
		if r.slot.N == pending {
			ran = true
			if r.start.Before(long.end) {
				t.Errorf("the pending slot started before the long run ended")
			}
		}
	}
	t.Logf("the long run: slot %d, %v; the pending slot %d ran: %v", long.slot.N, long.end.Sub(long.start), pending, ran)
	if !ran && len(skipped[runKey{"b", pending}]) == 0 {
		t.Errorf("slot %d, which came during the long run, neither ran when it ended nor was reported skipped", pending)
	}
}

// TestL1_ReplaceEndsTheHolderAndRunsUnderAHigherToken: a replace rule's
// slot that comes while another worker's run holds the lease takes it:
// the new run starts at once under a higher token, and the old run is
// cancelled (ErrLeaseLost) at its next renewal.
func TestL1_ReplaceEndsTheHolderAndRunsUnderAHigherToken(t *testing.T) {
	f := newLeaseFleet(t, 2, 600*time.Millisecond)
	for _, m := range f.workers { // the fleet's rule, made to replace
		if !m.Remove("long") {
			t.Fatal("no rule long")
		}
	}
	causes := make(chan error, 4)
	stop := make(chan struct{})
	defer close(stop) // before the fleet's shutdown
	run := func(ctx context.Context, fi ngxtasks.Firing) error {
		f.mu.Lock()
		f.tokens = append(f.tokens, fi.Token)
		f.mu.Unlock()
		f.log.callback(ctx, fi)
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
		case <-stop:
		}
		return nil
	}
	for _, m := range f.workers {
		if err := m.Push(ngxtasks.Rule{Identifier: "long", Interval: time.Second, Type: ngxtasks.Preemption,
			Overlap: ngxtasks.OverlapReplace, Background: true, Callback: run}); err != nil {
			t.Fatal(err)
		}
	}
	first := f.slotAt()
	if err := f.workers[0].Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return f.log.count("long", first) == 1 })
	f.clock.Add(time.Second)
	if err := f.workers[1].Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return f.log.count("long", first+1) == 1 })
	select {
	case cause := <-causes:
		if !errors.Is(cause, ngxtasks.ErrLeaseLost) {
			t.Errorf("the replaced run was cancelled for %v; want ErrLeaseLost", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced run was not cancelled")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.tokens) != 2 || f.tokens[1] <= f.tokens[0] {
		t.Errorf("tokens %v; want the replacing run's above the replaced one's", f.tokens)
	}
	if w := f.log.byWho[runKey{"long", first + 1}]; w != "w1" {
		t.Errorf("slot %d ran in %q; want w1, which replaced w0's run", first+1, w)
	}
}
