package ngxtasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A drive step takes the slots due now and runs them. Every drive mode —
// the timer loop (Start), a request (Middleware), a call to Run — goes
// through one function, step, and the guarantees rest on its order:
//
//	take    schedule.go: each slot is handed out once per worker (N1)
//	admit   not while the rule's previous run goes on here, nor once
//	        closed; the turn is in flight from here on, for Shutdown (B2)
//	settle  screen: the filter, and for a Preemption rule the check that
//	        its slot still holds the present; then claim: the step's
//	        claims in one round trip, each answer judged by its own slot's
//	        end (P1, P2). Normal turns run while the claims are in flight.
//	run     within MaxRunning, marked running, with the rule's timeout, the
//	        callback called with a panic recovered (B1), the outcome told
//	retire  no longer in flight (B2)
//
// A worker that will not run a slot therefore never claims it, and no
// Preemption slot runs without a claim the store answered in time.
//
// The turns of a step are a batch, run by one of two executors: the
// calling goroutine, for Run and requests, or pooled goroutines for the
// timer, which start another when a callback blocks. Either way the batch
// settles first, on the goroutine that runs it, then works through its
// turns: the Normal ones first, while the claims are in flight, then the
// Preemption ones, once the store has answered.
//
// A slot on its way has a name at each stage: a Slot is the interval of
// time (keys.go); a turn is a slot taken by a step, on its way to the
// callback; a Firing is what the filter and the callback are given; an
// Event is what happened to it, told to whoever listens (event.go); a
// SlotRecord is what the history keeps of it (history.go).

// Timer loop bounds: it wakes at most once per minTick, so rules spread over
// an interval are run in batches, and at least once per maxSleep, so a clock
// that was stepped is noticed.
const (
	minTick  = time.Millisecond
	maxSleep = time.Minute
	chunk    = 256 // turns the timer takes under one lock and runs as one batch
)

// A turn is one rule's slot taken by a drive step.
type turn struct {
	e         *entry
	slot      Slot
	verdict   verdict
	first     bool // the rule's first slot taken here since its Push
	timer     bool // taken by the timer loop, which may try it again (owe)
	retry     bool // a CatchUp slot tried again after its claim failed
	attempt   uint8
	triggered bool // by Trigger: settled already
	held      bool // runHolding keeps the lease
	marked    bool // the run marked the rule running (runSince); runHolding clears it
	// lease is the lease the claim took with the slot (Rule.Overlap), nil
	// for none: a pointer, as few turns have one and every turn is copied.
	lease *turnLease
	// missedFrom and missed describe the slots that passed between the last
	// slot taken and this one (Unix ns where they began, and how many).
	missedFrom, missed int64
}

// verdict is how far settling got with a turn.
type verdict uint8

const (
	undecided verdict = iota // not settled yet
	claiming                 // screened: a Preemption claim is to be made
	runIt                    // run it: screened and, for Preemption, the claim won
	skipIt                   // filtered out, lost or failed: nothing to run
)

// Run is one drive step, the original's tasks:run(): it runs the rules due now.
// Callbacks run on the calling goroutine, one after another, except
// Background rules, which get their own: Normal rules first, while the
// step's Preemption claims are in flight, then the Preemption rules won.
// It returns their errors, and those of failed claims, joined.
// When nothing is due it costs one clock read and does not allocate.
func (m *Manager) Run(ctx context.Context) error {
	if m.sinceEpoch() < m.gates[DriveRun].Load() {
		return nil
	}
	return m.drive(ctx, DriveRun, nil)
}

// drive is a drive step of Run (mode DriveRun) or of a request
// (DriveRequest, with its exchange), run on the caller's goroutine.
func (m *Manager) drive(ctx context.Context, mode Drive, ex *Exchange) error {
	if err := m.ready(); err != nil {
		return err
	}
	if !m.clockKnown() {
		return nil // slots wait for the store's clock (UseStoreClock)
	}
	m.maybeSyncClock()
	_, err := m.step(ctx, mode, m.now(), ex, math.MaxInt)
	return err
}

// step is one drive step: it takes up to limit slots due at now that mode
// may take, admits them, and runs them as one batch. The timer's batch
// runs on goroutines of its own and step returns at once; Run's and a
// request's run on the calling goroutine, Background rules aside, and
// step returns their errors joined. It returns how many slots it took.
func (m *Manager) step(ctx context.Context, mode Drive, now time.Time, ex *Exchange, limit int) (int, error) {
	b := m.newBatch()
	taken := m.take(mode, now, b.buf[:0], limit)
	turns := taken[:0]
	for i := range taken {
		f := &taken[i]
		if f.missed > 0 && mode == DriveTimer {
			m.missed(f.e, SkipBehind, f.missedFrom, f.missed) // requests and Run come when they come: they miss nothing
		}
		if !m.admit(f) {
			continue
		}
		if mode != DriveTimer && f.e.rule.Background {
			m.newBatch().start(m.base, f) // on its own goroutine; the caller does not wait
			continue
		}
		turns = append(turns, *f)
	}
	clear(taken[len(turns):]) // the pooled batch must not hold their entries
	if cap(taken) > 0 && &taken[:1][0] != &b.buf[0] {
		clear(b.buf[:]) // take outgrew it (Run, a request): what it had is copied
	}
	if len(turns) == 0 {
		b.release()
		return len(taken), nil
	}
	b.turns = turns
	if mode == DriveTimer {
		b.start(m.base, nil)
		return len(taken), nil
	}
	ctx, stop := m.bound(ctx)
	defer stop()
	return len(taken), b.runHere(ctx, ex)
}

// admit counts a turn as in flight in this worker. It refuses (and
// reports) a slot whose rule is still running here, and any slot once the
// manager is closed. Every admit that returns true is paired with one retire.
//
// A rule is marked running only once its callback is run, not here: a
// turn admitted but not yet run (a Preemption claim in flight, or a
// batch not yet given a core) must not hold up the rule's next slot. If the
// two meet in run, the later waits briefly for the earlier (awaitIdle).
//
// A Normal rule's run that began less than maxOverlapWait ago is not an
// overlap yet either: most often the previous slot ran at its very end (the
// worker's first step came then, or its batch got a core late) and is about
// to finish, and no other worker can run this slot for this one. A busy
// Preemption rule's slot is left to the other workers at once.
func (m *Manager) admit(f *turn) bool {
	e := f.e
	if e.leftWhy() == leftRemoved {
		return false
	}
	if since := e.runSince.Load(); since != 0 && !e.rule.waitsForLease() && (e.rule.Type == Preemption || time.Now().UnixNano()-since >= int64(maxOverlapWait)) {
		m.emit(e, EventSkipped, &f.slot, SkipOverlap, 0, nil, 0)
		return false
	}
	m.inflight.Add(1)
	if m.closed.Load() {
		m.retire(1)
		m.emit(e, EventSkipped, &f.slot, SkipClosed, 0, nil, 0)
		return false
	}
	return true
}

// A batch is the admitted turns of one step, run by one executor: start
// (the timer's) or runHere (the caller's).
//
// The timer's batch runs on as few goroutines as keep it moving. Each
// worker takes the next turn and, if it was the last spare (not inside a
// callback), first starts another worker, so a callback that blocks never
// holds up the rest of the batch; fast callbacks are run one after another
// on the same goroutine. That spares the loop starting one goroutine per
// turn, which at 100,000 rules due at once is what made runs late.
//
// Batches are reused once their last worker is gone: at 100,000 rules on
// one boundary, fresh ones were megabytes of garbage a second, and the
// collections they set off ran in the middle of the burst.
type batch struct {
	m        *Manager
	ctx      context.Context // ends at shutdown (see bound)
	ex       *Exchange       // the request driving the step, if one is
	turns    []turn
	errs     []error        // the caller's executor's, for the caller
	claimsAt int            // turns from here on wait for their claims' answers
	claimed  sync.WaitGroup // done once they are answered
	claimErr error          // their errors, joined
	next     atomic.Int64   // index of the next turn to take
	spare    atomic.Int64   // workers not inside a callback
	workers  atomic.Int64   // workers not yet returned
	adds     []Add          // the claims' round trip, reused
	leases   []LeaseRequest // the claims that take a lease as well, reused
	answers  []answer       // when each of them was answered, reused
	parked   []turn         // settle's room for the claiming turns, reused
	buf      [chunk]turn
}

// newBatch returns an idle batch whose buf a step may take into.
func (m *Manager) newBatch() *batch {
	if b, ok := m.batches.Get().(*batch); ok {
		return b
	}
	return &batch{m: m}
}

// release returns an idle batch to the pool, holding nothing.
func (b *batch) release() {
	b.ctx, b.ex, b.turns, b.errs, b.claimErr = nil, nil, nil, nil, nil
	b.m.batches.Put(b)
}

// start is the timer's executor: it runs the batch's turns (or, given one,
// that turn alone) on goroutines of the batch's own, and returns at once.
// The last worker out retires the turns and releases the batch.
func (b *batch) start(ctx context.Context, one *turn) {
	if one != nil {
		b.buf[0] = *one
		b.turns = b.buf[:1]
	}
	b.ctx = ctx
	b.next.Store(0)
	b.spare.Store(1)
	b.workers.Store(1)
	go b.exec()
}

// runHere is the caller's executor: it settles the batch and runs its
// turns on this goroutine, in order, each claiming turn once its claim is
// answered; then it retires them, releases the batch and returns their
// errors and those of their claims, joined.
func (b *batch) runHere(ctx context.Context, ex *Exchange) error {
	n := int64(len(b.turns))
	b.ctx, b.ex = ctx, ex
	b.settle()
	for i := range b.turns {
		if i == b.claimsAt {
			b.claimed.Wait()
		}
		if err := b.m.run(ctx, &b.turns[i], ex); err != nil {
			b.errs = append(b.errs, err)
		}
	}
	clear(b.turns) // the pooled batch must not hold their entries
	err := b.claimErr
	if len(b.errs) > 0 {
		err = errors.Join(append([]error{err}, b.errs...)...)
	}
	b.m.retire(n)
	b.release()
	return err
}

// exec is the timer's first worker: it settles the batch, then works
// through it.
func (b *batch) exec() {
	b.settle()
	b.work()
}

// settle gives every turn its verdict. It screens them all, in order, on
// this goroutine (a filter may read the request), then claims the
// Preemption slots left: at once when there is nothing else to run, else
// on a goroutine of their own, the claiming turns moved after the others
// so that those run meanwhile: Normal rules never wait for the store.
func (b *batch) settle() {
	b.m.freshControls(b.ctx, b.turns)
	claims := 0
	for i := range b.turns {
		if b.m.screen(b.ctx, &b.turns[i], b.ex) {
			claims++
		}
	}
	b.claimsAt = len(b.turns) - claims
	switch {
	case claims == 0:
	case b.claimsAt == 0:
		b.claimErr = b.claim()
	default:
		b.claimsLast()
		b.claimed.Add(1)
		go b.claimAside()
	}
}

// claimAside claims while the batch's other turns run.
func (b *batch) claimAside() {
	b.claimErr = b.claim()
	b.claimed.Done()
}

// claimsLast moves the claiming turns after the others, each group in its
// order, so that the turns before claimsAt can run at once.
func (b *batch) claimsLast() {
	parked := b.parked[:0]
	n := 0
	for i := range b.turns {
		if b.turns[i].verdict == claiming {
			parked = append(parked, b.turns[i])
		} else {
			b.turns[n] = b.turns[i]
			n++
		}
	}
	copy(b.turns[n:], parked)
	clear(parked)
	b.parked = parked[:0]
}

// screen is the part of settling before the store: the filter, and for a
// Preemption rule the check that its slot still holds the present. It
// reports whether the turn is left to claim.
func (m *Manager) screen(ctx context.Context, f *turn, ex *Exchange) bool {
	if f.triggered {
		f.verdict = runIt
		return false
	}
	f.verdict = skipIt
	e := f.e
	if m.ctl.any.Load() {
		if p, ok := m.pausedAt(e, &f.slot); ok {
			m.emit(e, EventSkipped, &f.slot, SkipPaused, 0, &PausedError{Pause: p}, 0)
			return false
		}
	}
	if e.rule.CatchUp > 0 {
		if owed := m.owing(e); (f.first || f.retry || owed) && !m.caughtUp(ctx, f) {
			return false
		}
	}
	if e.rule.Filter != nil && !m.filter(ctx, Firing{Rule: &e.rule, Slot: f.slot, Worker: m.worker, Exchange: ex}) {
		m.emit(e, EventSkipped, &f.slot, SkipFiltered, 0, nil, 0)
		return false
	}
	if e.rule.Type != Preemption {
		f.verdict = runIt
		return false
	}
	if err := m.holds(f.slot, m.now()); err != nil { // taken too long ago, or the clock moved
		m.emit(e, EventSkipped, &f.slot, SkipLate, 0, stale(err), 0)
		return false
	}
	f.verdict = claiming
	return true
}

// claim asks the store for the slots of the claiming turns,
// b.turns[claimsAt:], in one round trip, which may last until the latest
// of them ends, and judges each answer by its own slot's end, never by the
// batch's shortest: a claim answered before its slot ended runs. A single
// claim is a batch of one. The claims live Interval + SkewTolerance, so a
// worker whose clock is up to SkewTolerance behind still finds them.
// It returns the claims' errors, joined.
func (b *batch) claim() error {
	m := b.m
	fs := b.turns[b.claimsAt:]
	var deadline time.Time
	for i := range fs {
		if fs[i].slot.End.After(deadline) {
			deadline = fs[i].slot.End
		}
	}
	if err := m.clockVouched(b.ctx, deadline); err != nil {
		for i := range fs {
			fs[i].verdict = skipIt
			m.emit(fs[i].e, EventSkipped, &fs[i].slot, SkipClockSkewed, 0, err, 0)
		}
		return nil
	}
	adds := b.adds[:0]
	for i := range fs {
		adds = append(adds, Add{Key: m.claimKey(fs[i].e, fs[i].slot), Value: m.claimValue(&fs[i].e.rule), TTL: m.claimTTL(&fs[i].slot)})
	}
	answers := slices.Grow(b.answers[:0], len(adds))[:len(adds)]
	var leases []LeaseRequest
	for i := range fs {
		if fs[i].e.rule.leases() {
			leases = slices.Grow(b.leases[:0], len(fs))[:len(fs)]
			break
		}
	}
	ctx, cancel := context.WithTimeoutCause(b.ctx, deadline.Sub(m.now()), errLate)
	asked := time.Now()
	var err error
	if leases == nil {
		err = m.addAll(ctx, adds, answers, asked)
	} else {
		err = m.leaseAll(ctx, fs, adds, leases, answers, asked)
	}
	late := context.Cause(ctx) == errLate
	cancel()
	var errs []error
	for i := range fs {
		err := cmp.Or(err, adds[i].Err)
		if late {
			err = lateErr(err)
		}
		if leases != nil && leases[i].Key != "" {
			if m.leaseAnswered(&fs[i], &leases[i], err, asked, answers[i]) {
				continue
			}
		}
		if err := m.judge(&fs[i], adds[i].Added && err == nil, err, answers[i].at, asked, answers[i].rtt); err != nil {
			errs = append(errs, err)
		}
		if err == nil && !adds[i].Added && fs[i].e.rule.Version != "" {
			m.maybeCheckVersion(fs[i].e, adds[i].Key)
		}
		if leases != nil && leases[i].Acquired {
			m.leaseJudged(&fs[i], &leases[i], asked)
		}
	}
	clear(adds)
	clear(leases)
	b.adds, b.answers, b.leases = adds[:0], answers[:0], leases[:0]
	return errors.Join(errs...)
}

// An answer is when a claim was answered: at, on the slots' clock, and
// rtt after it was asked.
type answer struct {
	at  time.Time
	rtt time.Duration
}

// addAll makes the adds in one round trip, asked at asked: one AddBatch
// when the store takes batches, else every Add at once, each but the first
// on a goroutine of its own. It notes in answers when each was answered,
// so that each claim is judged by when its own answer came.
func (m *Manager) addAll(ctx context.Context, adds []Add, answers []answer, asked time.Time) error {
	if ba, ok := m.dict.(BatchAdder); ok && len(adds) > 1 {
		err := ba.AddBatch(ctx, adds)
		a := answer{m.now(), time.Since(asked)}
		for i := range answers {
			answers[i] = a
		}
		return err
	}
	var wg sync.WaitGroup
	for i := 1; i < len(adds); i++ {
		wg.Go(func() { m.addOne(ctx, &adds[i], &answers[i], asked) })
	}
	m.addOne(ctx, &adds[0], &answers[0], asked)
	wg.Wait()
	return nil
}

// addOne makes one Add of addAll's.
func (m *Manager) addOne(ctx context.Context, a *Add, ans *answer, asked time.Time) {
	a.Added, a.Err = m.dict.Add(ctx, a.Key, a.Value, a.TTL)
	*ans = answer{m.now(), time.Since(asked)}
}

// judge gives a claimed turn its verdict from the store's answer, which
// came at now (on the slots' clock), rtt after the claim was sent at asked
// (on the real one). An answer that came after the turn's own slot ended is not
// trusted (late); one that came in time is lost, or won, and then the slot
// must still hold the present. Store failures, late answers included, go
// to the store watch, which logs the start and end of an outage rather
// than every slot lost to it. It returns the claim's error, unless late.
func (m *Manager) judge(f *turn, won bool, err error, now, asked time.Time, rtt time.Duration) error {
	e := f.e
	if err == nil && !now.Before(f.slot.End) {
		err = errLate
	}
	if err != nil {
		canceled := errors.Is(err, context.Canceled) // a request gone, a shutdown: not the store's doing
		if !canceled {
			m.watch.failed(m, e, &f.slot, asked, err)
		}
		if e.rule.CatchUp > 0 && !canceled {
			m.owe(f)
		}
		if f.retry {
			return nil // reported when the slot was first tried
		}
		if errors.Is(err, errLate) {
			m.emit(e, EventSkipped, &f.slot, SkipLate, rtt, err, 0)
			return nil
		}
		m.emit(e, EventSkipped, &f.slot, SkipClaimError, rtt, err, 0)
		return err
	}
	m.watch.answered(m, asked.Add(rtt))
	switch {
	case !won:
		m.emit(e, EventLost, &f.slot, 0, rtt, nil, 0)
	case m.holds(f.slot, now) != nil: // the clock moved back while we asked
		m.emit(e, EventSkipped, &f.slot, SkipLate, rtt, errNotCurrent, 0)
	default:
		m.emit(e, EventWon, &f.slot, 0, rtt, nil, 0)
		f.verdict = runIt
	}
	return nil
}

// work is a worker of the timer's batch: it runs the batch's turns,
// taking the next one free until none is left, each claiming turn once its
// claim is answered. The last worker out retires the turns and releases
// the batch.
func (b *batch) work() {
	n := int64(len(b.turns))
	for {
		i := b.next.Add(1) - 1
		if i >= n {
			break
		}
		if i >= int64(b.claimsAt) {
			// Still spare while waiting: no other worker is started for
			// turns that cannot go on before the claims are answered.
			b.claimed.Wait()
		}
		if b.spare.Add(-1) == 0 && i+1 < n {
			b.spare.Add(1)
			b.workers.Add(1)
			go b.work()
		}
		f := b.turns[i]
		b.turns[i] = turn{}         // let the entry go if it is removed meanwhile
		_ = b.m.run(b.ctx, &f, nil) // failures are reported as events
		b.spare.Add(1)
	}
	b.spare.Add(-1)
	if b.workers.Add(-1) == 0 { // no one is left to touch b
		m := b.m
		b.release()
		m.retire(n)
	}
}

// run runs a settled turn's callback, if its verdict says so, with the
// rule's timeout, recovering a panic. ctx must end at shutdown (see
// bound); run does not retire the turn.
//
// Runs start on a goroutine's smallest stack: the frames from the batch
// worker down to the callback and back through the report are kept small
// (the Firing is built here, the panic is caught in a frame of its own) so
// that most runs do not have to grow it.
func (m *Manager) run(ctx context.Context, f *turn, ex *Exchange) error {
	if f.verdict != runIt {
		return nil
	}
	if f.lease != nil && !f.held {
		return m.runHolding(ctx, f, ex)
	}
	e := f.e
	limit := cmp.Or(e.rule.MaxRunning, m.fields.maxRunning)
	if limit > 0 {
		if !m.enterRoom(ctx, f, limit) {
			return nil
		}
		defer m.room.leave()
	}
	// The rule is marked running only now (see admit): a run that began
	// after this turn was admitted is waited for, briefly.
	start := time.Now()
	if !e.runSince.CompareAndSwap(0, start.UnixNano()) {
		if !m.awaitIdle(ctx, e) {
			m.emit(e, EventSkipped, &f.slot, SkipOverlap, 0, nil, 0)
			return nil
		}
		start = time.Now()
		e.runSince.Store(start.UnixNano())
	}
	if f.held {
		f.marked = true // runHolding clears the mark
	} else {
		defer e.runSince.Store(0)
	}
	e.stats.lastStart.Store(start.UnixNano())
	if e.rule.CatchUp > 0 {
		m.noteRun(ctx, e, &f.slot)
	}
	// The first try, as try makes the retries: here, not through it, for
	// one frame less on the stack the run starts on (see above).
	tctx := ctx
	if e.rule.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeoutCause(ctx, e.rule.Timeout, ErrTimeout)
		defer cancel()
	}
	m.emit(e, EventFired, &f.slot, 0, m.onSlotClock(start).Sub(f.slot.Start), nil, 0)
	err := call(tctx, e.rule.Callback, &Firing{Rule: &e.rule, Slot: f.slot, Worker: m.worker, Exchange: ex, Token: f.lease.tokenOf()})
	err = m.outcome(tctx, e, &f.slot, start, err, 0)
	if err != nil && e.rule.Retry != nil {
		err = m.retryRun(ctx, f, ex, err)
	}
	return err
}

// try calls a turn's callback once more, under the rule's timeout: retry
// n of its run (retry.go).
func (m *Manager) try(ctx context.Context, f *turn, ex *Exchange, start time.Time, n uint8) error {
	e := f.e
	if e.rule.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.rule.Timeout, ErrTimeout)
		defer cancel()
	}
	m.emit(e, EventFired, &f.slot, 0, m.onSlotClock(start).Sub(f.slot.Start), nil, n)
	err := call(ctx, e.rule.Callback, &Firing{Rule: &e.rule, Slot: f.slot, Worker: m.worker, Exchange: ex, Token: f.lease.tokenOf(), Retry: int(n)})
	return m.outcome(ctx, e, &f.slot, start, err, n)
}

// retire counts n admitted turns as ended. Batches retire all their
// turns at once: a count that every run wrote would be a cache line the
// cores pass back and forth at every turn of a burst.
func (m *Manager) retire(n int64) {
	if m.inflight.Add(-n) == 0 && m.closed.Load() {
		select {
		case m.idle <- struct{}{}:
		default:
		}
	}
}

// filter asks the rule's filter; a filter that panics vetoes the slot.
func (m *Manager) filter(ctx context.Context, fi Firing) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			m.logger.Error("ngxtasks: filter panicked", "rule", fi.Rule.Identifier, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	return fi.Rule.Filter(ctx, fi)
}

// call calls a callback, turning a panic into a *PanicError.
func call(ctx context.Context, fn Func, fi *Firing) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, *fi)
}

// maxOverlapWait bounds how long a slot waits for another run of its rule
// to end.
const maxOverlapWait = 100 * time.Millisecond

// awaitIdle waits until the rule's other run in this worker ends, and takes
// the running mark. That run began after this slot was admitted, or, for a
// Normal rule, just before (see admit): its claim was answered at the end
// of its own slot, its batch got a core late, or it is the next slot's,
// whose goroutine ran first (a slot taken at its very end). Skipping would
// lose a slot the worker was free to run when it was taken, and, for a won
// Preemption slot, one that no other worker can run any more. The wait is
// bounded by maxOverlapWait alone, not by the slot's end: a slot taken in
// time runs late rather than not at all, as it does when its goroutine
// starts late. A run still going after maxOverlapWait is a real overlap.
func (m *Manager) awaitIdle(ctx context.Context, e *entry) bool {
	start := time.Now() // the real clock bounds the wait, whatever Clock says
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, 5*time.Millisecond) {
		if time.Since(start) >= maxOverlapWait || ctx.Err() != nil {
			return false
		}
		time.Sleep(wait)
		if e.runSince.CompareAndSwap(0, time.Now().UnixNano()) {
			return true
		}
	}
}

// outcome records and reports how a run ended, a timeout included.
func (m *Manager) outcome(ctx context.Context, e *entry, s *Slot, start time.Time, err error, try uint8) error {
	if ctx.Err() != nil { // a run's context rarely ends: Cause costs a lock
		if cause := context.Cause(ctx); ours(cause) && !errors.Is(err, cause) {
			if err == nil {
				err = cause
			} else {
				err = fmt.Errorf("%w: %w", cause, err)
			}
		}
	}
	d := time.Since(start)
	if err == nil {
		e.stats.lastSuccess.Store(start.Add(d).UnixNano())
	}
	m.emit(e, EventFinished, s, 0, d, err, try)
	return err
}

// ours says whether a run's context ended for a reason of the manager's
// that its outcome must name: the rule's timeout, a lost lease, the end
// of a retry's slot.
func ours(cause error) bool {
	return errors.Is(cause, ErrTimeout) || errors.Is(cause, ErrLeaseLost) || errors.Is(cause, ErrSlotEnded)
}
