package ngxtasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"
)

// A turn goes from the heap to its callback in one order, whichever mode
// drives it (Start, Middleware or Run), and that order is what the
// guarantees rest on:
//
//	take    the heap hands out each slot once per worker (N1)
//	admit   not while the rule's previous run goes on here; counted in flight
//	settle  the filter, then, for a Preemption rule, the claim: the slot must
//	        still hold the present, the store must store the claim, and its
//	        answer must come before the turn's own slot ends (P1, P2)
//	invoke  the callback, with its timeout, a panic recovered (B1)
//	retire  no longer in flight, for Shutdown (B2)
//
// A worker that will not run a slot therefore never claims it, and no
// Preemption slot runs without a claim the store answered in time.

// A turn is one rule's slot taken by a drive step, on its way to the
// callback in this worker (a Firing is what the callback is given).
type turn struct {
	e       *entry
	slot    Slot
	verdict verdict
	// missedFrom and missed describe the slots that passed between the last
	// slot taken and this one (Unix ns where they began, and how many).
	missedFrom, missed int64
}

// verdict is how far settle got with a turn.
type verdict uint8

const (
	undecided verdict = iota // filter and claim still to do
	claiming                 // within settle: the filter passed, the claim is to make
	runIt                    // run it: the filter passed and, for Preemption, the claim is won
	skipIt                   // filtered out, lost or failed: nothing to run
)

// take pops entries due at now that the drive mode may take, moves each to
// its next slot, and appends the slots not taken before to out, until out
// holds limit turns. It is the one place slots are handed out, so every
// drive mode shares the at-most-once-per-slot rule.
//
// Rules whose time has come go first, then rules pushed and not yet taken,
// soonest-ending slot first: a start with a million rules to catch up on
// must not keep a one-second rule waiting until it has missed its slot.
func (m *Manager) take(mode Drive, now time.Time, out []turn, limit int) []turn {
	nowNs := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return out
	}
	lanes := [2]*lane{&m.lanes[DriveAny], &m.lanes[mode]}
	for _, l := range lanes {
		l.dropRemoved()
		if m.firstStep.Load() == 0 && len(l.queue)+len(l.fresh) > 0 {
			m.firstStep.Store(nowNs)
		}
		if len(l.fresh) > 0 && l.freshSeen == 0 {
			// The first step to find them: order them by when their slot
			// ends now, not when they were pushed (a million rules take
			// seconds to push, and the store's clock may have been read
			// since).
			l.freshSeen = m.sinceEpoch()
			for i := range l.fresh {
				l.fresh[i].due = m.keys.Slot(&l.fresh[i].e.rule, now).End.UnixNano()
			}
			l.fresh.heapify()
		}
	}
	for len(out) < limit {
		l, q := next(&lanes, nowNs)
		if q == nil {
			break
		}
		e := (*q)[0].e
		s := m.keys.Slot(&e.rule, now)
		if start := s.Start.UnixNano(); start >= e.lastEnd {
			if out == nil {
				out = make([]turn, 0, min(limit, 64))
			}
			f := turn{e: e, slot: s}
			if from, n := m.missedBefore(e, s, now, l.freshSeen); n > 0 {
				f.missedFrom, f.missed = from, n
			}
			e.lastEnd = s.End.UnixNano()
			out = append(out, f)
		}
		due := s.End.UnixNano()
		if due <= nowNs { // a generator whose slot does not hold now must not spin the loop
			due = nowNs + int64(e.rule.Interval)
		}
		e.due = due
		if q == &l.fresh {
			l.fresh.pop()
			l.queue.push(item{due, e})
		} else {
			l.queue[0].due = due
			l.queue.down(0)
		}
		l.dropRemoved()
	}
	for _, l := range lanes {
		if len(l.fresh) == 0 {
			l.fresh, l.freshSeen = nil, 0 // a big start's array is not kept for the next Push
		}
	}
	m.setGates()
	return out
}

// missedBefore counts the slots of e that passed untaken before s: since
// the last slot taken, or, for a rule not taken yet, since the slot that
// held the instant a drive step first found it due (a catch-up too long
// for its slot). Slots before that step were not driven, and are not
// missed. freshSeen is that of e's lane. Callers hold mu.
func (m *Manager) missedBefore(e *entry, s Slot, now time.Time, freshSeen int64) (from, n int64) {
	from = e.lastEnd
	if from == 0 {
		seen := now.Add(-time.Duration(m.sinceEpoch() - max(e.pushed, freshSeen)))
		from = m.keys.Slot(&e.rule, seen).Start.UnixNano()
	}
	gap := s.Start.UnixNano() - from
	if gap <= 0 {
		return 0, 0
	}
	return from, (gap + int64(e.rule.Interval) - 1) / int64(e.rule.Interval)
}

// admit counts a turn as in flight in this worker. It refuses (and
// reports) a slot whose rule is still running here, and any slot once the
// manager is closed. Every admit that returns true is paired with one retire.
//
// A rule is marked running only once its callback is invoked, not here: a
// turn admitted but not yet invoked (a Preemption claim in flight, or a
// batch not yet given a core) must not hold up the rule's next slot. If the
// two meet in invoke, the later waits briefly for the earlier (awaitIdle).
//
// A Normal rule's run that began less than maxOverlapWait ago is not an
// overlap yet either: most often the previous slot ran at its very end (the
// worker's first step came then, or its batch got a core late) and is about
// to finish, and no other worker can run this slot for this one. A busy
// Preemption rule's slot is left to the other workers at once.
func (m *Manager) admit(f *turn) bool {
	e := f.e
	if e.left.Load() == leftRemoved {
		return false
	}
	if since := e.runSince.Load(); since != 0 && (e.rule.Type == Preemption || time.Now().UnixNano()-since >= int64(maxOverlapWait)) {
		m.emit(e, EventSkipped, &f.slot, SkipOverlap, 0, nil)
		return false
	}
	m.inflight.Add(1)
	if m.closed.Load() {
		m.retire(1)
		m.emit(e, EventSkipped, &f.slot, SkipClosed, 0, nil)
		return false
	}
	return true
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

// fire runs one admitted turn: it settles the turn unless a batch did,
// then invokes the callback if the verdict says so. ctx must end at
// shutdown (see bound); fire does not retire the turn.
func (m *Manager) fire(ctx context.Context, f *turn, ex *Exchange) error {
	var err error
	if f.verdict == undecided && m.screen(ctx, f, ex) {
		err = m.claim(ctx, f)
	}
	if f.verdict != runIt {
		return err
	}
	return m.invoke(ctx, f, ex)
}

// bound makes a caller's context (a request's, a Run call's) end at
// shutdown too, as the manager's own runs do, and carry its logger to the
// dictionary (LoggerFrom).
func (m *Manager) bound(ctx context.Context) (context.Context, func()) {
	if ctx == m.base {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithValue(ctx, loggerKey{}, m.logger))
	stop := context.AfterFunc(m.base, cancel)
	return ctx, func() { stop(); cancel() }
}

// settle gives each undecided turn its verdict: the filter first, then,
// for Preemption rules, the claim. It returns the claims' errors, joined.
func (m *Manager) settle(ctx context.Context, fs []turn, ex *Exchange) error {
	claims := 0
	for i := range fs {
		if m.screen(ctx, &fs[i], ex) {
			claims++
		}
	}
	return m.claimAll(ctx, fs, claims)
}

// claimAll makes the claims screen left to make. They go to the store in
// one round trip when it takes batches (BatchAdder), else one after
// another; either way each claim is judged by its own slot, never by the
// batch's shortest, so a claim answered before its slot ended runs.
func (m *Manager) claimAll(ctx context.Context, fs []turn, claims int) error {
	if claims == 0 {
		return nil
	}
	if ba, ok := m.dict.(BatchAdder); ok && claims > 1 {
		return m.claimBatch(ctx, ba, fs, claims)
	}
	var errs []error
	for i := range fs {
		if fs[i].verdict == claiming {
			if err := m.claim(ctx, &fs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// screen is the part of settling before the store: the filter, and for a
// Preemption rule the check that its slot still holds the present. It
// reports whether the turn is left to claim.
func (m *Manager) screen(ctx context.Context, f *turn, ex *Exchange) bool {
	f.verdict = skipIt
	e := f.e
	if e.rule.Filter != nil && !m.filter(ctx, Firing{Rule: &e.rule, Slot: f.slot, Worker: m.worker, Exchange: ex}) {
		m.emit(e, EventSkipped, &f.slot, SkipFiltered, 0, nil)
		return false
	}
	if e.rule.Type != Preemption {
		f.verdict = runIt
		return false
	}
	if err := m.holds(f.slot, m.now()); err != nil { // taken too long ago, or the clock moved
		m.emit(e, EventSkipped, &f.slot, SkipLate, 0, stale(err))
		return false
	}
	f.verdict = claiming
	return true
}

// claim asks the store for one slot. The answer must come before the slot
// ends by this worker's clock; the claim lives Interval + SkewTolerance, so
// a worker whose clock is up to SkewTolerance behind still finds it.
func (m *Manager) claim(ctx context.Context, f *turn) error {
	if err := m.clockVouched(ctx, f.slot.End); err != nil {
		f.verdict = skipIt
		m.emit(f.e, EventSkipped, &f.slot, SkipClockSkewed, 0, err)
		return nil
	}
	ctx, cancel := context.WithTimeoutCause(ctx, f.slot.End.Sub(m.now()), errLate)
	asked := time.Now()
	won, err := m.dict.Add(ctx, m.claimKey(f.e, f.slot), m.worker, m.claimTTL(f.e))
	rtt := time.Since(asked)
	if context.Cause(ctx) == errLate {
		err = lateErr(err)
	}
	cancel()
	return m.judge(f, won, err, m.now(), asked, rtt)
}

// claimBatch asks the store for several slots in one round trip. The round
// trip may last until the latest of the slots ends; each answer is then
// judged by its own slot's end.
func (m *Manager) claimBatch(ctx context.Context, ba BatchAdder, fs []turn, claims int) error {
	var deadline time.Time
	for i := range fs {
		if fs[i].verdict == claiming && fs[i].slot.End.After(deadline) {
			deadline = fs[i].slot.End
		}
	}
	if err := m.clockVouched(ctx, deadline); err != nil {
		for i := range fs {
			if f := &fs[i]; f.verdict == claiming {
				f.verdict = skipIt
				m.emit(f.e, EventSkipped, &f.slot, SkipClockSkewed, 0, err)
			}
		}
		return nil
	}
	idx := make([]int, 0, claims)
	adds := make([]Add, 0, claims)
	for i := range fs {
		f := &fs[i]
		if f.verdict != claiming {
			continue
		}
		idx = append(idx, i)
		adds = append(adds, Add{Key: m.claimKey(f.e, f.slot), Value: m.worker, TTL: m.claimTTL(f.e)})
	}
	ctx, cancel := context.WithTimeoutCause(ctx, deadline.Sub(m.now()), errLate)
	asked := time.Now()
	err := ba.AddBatch(ctx, adds)
	rtt := time.Since(asked)
	if context.Cause(ctx) == errLate {
		err = lateErr(err)
	}
	cancel()
	now := m.now()
	var errs []error
	for j, i := range idx {
		if err := m.judge(&fs[i], adds[j].Added && err == nil, cmp.Or(err, adds[j].Err), now, asked, rtt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
		if !errors.Is(err, context.Canceled) { // a request gone, a shutdown: not the store's doing
			m.watch.failed(m, e, &f.slot, asked, err)
		}
		if errors.Is(err, errLate) {
			m.emit(e, EventSkipped, &f.slot, SkipLate, rtt, err)
			return nil
		}
		m.emit(e, EventSkipped, &f.slot, SkipClaimError, rtt, err)
		return err
	}
	m.watch.answered(m, asked.Add(rtt))
	switch {
	case !won:
		m.emit(e, EventLost, &f.slot, 0, rtt, nil)
	case m.holds(f.slot, now) != nil: // the clock moved back while we asked
		m.emit(e, EventSkipped, &f.slot, SkipLate, rtt, errNotCurrent)
	default:
		m.emit(e, EventWon, &f.slot, 0, rtt, nil)
		f.verdict = runIt
	}
	return nil
}

var (
	errLate       = errors.New("slot ended before its claim was answered")
	errNotCurrent = errors.New("the clock moved: the slot does not hold the present")
	errStale      = errors.New("slot ended before it could be claimed")
)

// stale is the error of a slot found not holding the present before its
// claim: it says the worker was slow, not the store.
func stale(err error) error {
	if errors.Is(err, errLate) {
		return errStale
	}
	return err
}

// holds checks that a slot holds the present, now, by this worker's clock.
// It fails when the slot has ended (late), or when it lies ahead by more
// than half the SkewTolerance: the slot was taken under a clock reading
// that has since moved back (a clock stepped), and a claim made that early
// would expire before the other workers' clocks leave the slot, letting
// one of them claim it again.
//
// Half the tolerance is allowed because re-measuring the store's clock
// moves the present by a few milliseconds either way: a claim made up to
// that early still lives until SkewTolerance/2 after the slot ends, which
// covers workers within the half tolerance that the skew alarm watches.
func (m *Manager) holds(s Slot, now time.Time) error {
	switch {
	case now.Before(s.Start.Add(-m.tolerance / 2)):
		return errNotCurrent
	case !now.Before(s.End):
		return errLate
	}
	return nil
}

func (m *Manager) claimTTL(e *entry) time.Duration { return e.rule.Interval + m.tolerance }

// lateErr is the error of a claim answered after its slot ended.
func lateErr(err error) error {
	if err == nil || errors.Is(err, errLate) {
		return errLate
	}
	return fmt.Errorf("%w: %w", errLate, err)
}

// claimKey is namespace:name:slot.
func (m *Manager) claimKey(e *entry, s Slot) string {
	name := m.keys.Name(&e.rule, s)
	b := make([]byte, 0, len(m.namespace)+len(name)+22)
	b = append(b, m.namespace...)
	b = append(b, ':')
	b = append(b, name...)
	b = append(b, ':')
	b = strconv.AppendInt(b, s.N, 10)
	return string(b)
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

// invoke runs the callback of a turn with the rule's timeout, recovering
// a panic.
//
// Runs start on a goroutine's smallest stack: the frames from the batch
// worker down to the callback and back through the report are kept small
// (the Firing is built here, the panic is caught in a frame of its own) so
// that most runs do not have to grow it.
func (m *Manager) invoke(ctx context.Context, f *turn, ex *Exchange) error {
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
			m.emit(e, EventSkipped, &f.slot, SkipOverlap, 0, nil)
			return nil
		}
		start = time.Now()
		e.runSince.Store(start.UnixNano())
	}
	defer e.runSince.Store(0)
	if e.rule.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.rule.Timeout, ErrTimeout)
		defer cancel()
	}
	e.stats.lastStart.Store(start.UnixNano())
	m.emit(e, EventFired, &f.slot, 0, m.onSlotClock(start).Sub(f.slot.Start), nil)
	err := call(ctx, e.rule.Callback, &Firing{Rule: &e.rule, Slot: f.slot, Worker: m.worker, Exchange: ex})
	return m.outcome(ctx, e, &f.slot, start, err)
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
func (m *Manager) outcome(ctx context.Context, e *entry, s *Slot, start time.Time, err error) error {
	if e.rule.Timeout > 0 && context.Cause(ctx) == ErrTimeout && !errors.Is(err, ErrTimeout) {
		if err == nil {
			err = ErrTimeout
		} else {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
	}
	d := time.Since(start)
	if err == nil {
		e.stats.lastSuccess.Store(start.Add(d).UnixNano())
	}
	m.emit(e, EventFinished, s, 0, d, err)
	return err
}

// Winner returns the worker that claimed the slot of a Preemption rule that
// holds the instant at, if that claim is still alive in the dictionary.
func (m *Manager) Winner(ctx context.Context, identifier string, at time.Time) (string, bool, error) {
	e, err := m.ruleNamed(identifier)
	if err != nil {
		return "", false, err
	}
	return m.dict.Get(context.WithValue(ctx, loggerKey{}, m.logger), m.claimKey(e, m.keys.Slot(&e.rule, at)))
}
