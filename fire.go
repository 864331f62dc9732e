package ngxtasks

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"
)

// begin counts a firing as in flight in this worker. It refuses (and
// reports) a slot whose rule is still running here, and any slot once the
// manager is closed. Every begin that returns true is paired with one end.
//
// A Normal rule is marked running from here to end. A Preemption rule is
// marked only once its claim is won (in call): a claim still in flight must
// not hold up the next slot, since by the time the next slot begins the
// earlier one has ended and its claim can no longer lead to a run (claim
// checks that its slot holds the present), while skipping the next slot in
// every worker whose claim is slow would lose it for the whole fleet.
func (m *Manager) begin(f firing) bool {
	e := f.e
	if e.removed.Load() {
		return false
	}
	if !e.mayBegin() {
		m.emit(e, EventSkipped, &f.slot, SkipOverlap, 0, nil)
		return false
	}
	m.inflight.Add(1)
	if m.closed.Load() {
		m.end(e)
		m.emit(e, EventSkipped, &f.slot, SkipClosed, 0, nil)
		return false
	}
	return true
}

// mayBegin takes the running mark of a Normal rule, and checks that of a
// Preemption rule (see begin).
func (e *entry) mayBegin() bool {
	if e.rule.Type == Preemption {
		return !e.running.Load()
	}
	return e.running.CompareAndSwap(false, true)
}

func (m *Manager) end(e *entry) {
	e.release()
	m.done(1)
}

// release clears the running mark a Normal rule took in begin.
func (e *entry) release() {
	if e.rule.Type != Preemption {
		e.running.Store(false)
	}
}

// done counts n begun firings as ended.
func (m *Manager) done(n int64) {
	if m.inflight.Add(-n) == 0 && m.closed.Load() {
		select {
		case m.idle <- struct{}{}:
		default:
		}
	}
}

// execute runs a begun firing and ends it. Runs driven by a caller's
// context (a request, a Run call) get a context that also ends at shutdown.
func (m *Manager) execute(ctx context.Context, f firing, ex *Exchange) error {
	defer m.done(1)
	return m.perform(ctx, f, ex)
}

// perform is execute but for the count of firings in flight, which a batch
// settles once for all its firings: a count every run wrote would be a
// cache line the cores pass back and forth at every firing of a burst.
func (m *Manager) perform(ctx context.Context, f firing, ex *Exchange) error {
	defer f.e.release()
	if ctx != m.base {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(m.base, cancel)()
	}
	fi := Firing{Rule: &f.e.rule, Slot: f.slot, Worker: m.worker, Exchange: ex}
	switch f.claim {
	case claimWon:
		return m.call(ctx, f.e, &fi)
	case claimSettled:
		return nil
	}
	return m.attempt(ctx, f.e, &fi)
}

// attempt goes through a slot in the order the guarantees need: filter,
// then claim (Preemption), then the callback. A worker that will not run a
// slot therefore never claims it, and no slot runs without a stored claim.
//
// The run's goroutine starts on a small stack; keeping these frames small
// (pointers, not copies) spares it a stack copy per run.
func (m *Manager) attempt(ctx context.Context, e *entry, fi *Firing) error {
	if e.rule.Filter != nil && !m.filter(ctx, *fi) {
		m.emit(e, EventSkipped, &fi.Slot, SkipFiltered, 0, nil)
		return nil
	}
	if e.rule.Type == Preemption {
		won, err := m.claim(ctx, e, fi.Slot)
		if run, err := m.claimed(e, &fi.Slot, won, err); !run {
			return err
		}
	}
	return m.call(ctx, e, fi)
}

// claimed reports the outcome of a claim and whether the slot is to run.
func (m *Manager) claimed(e *entry, s *Slot, won bool, err error) (bool, error) {
	switch {
	case errors.Is(err, errLate), errors.Is(err, errNotCurrent):
		m.emit(e, EventSkipped, s, SkipLate, 0, err)
		return false, nil
	case err != nil:
		m.emit(e, EventSkipped, s, SkipClaimError, 0, err)
		return false, err
	case !won:
		m.emit(e, EventLost, s, 0, 0, nil)
		return false, nil
	}
	m.emit(e, EventWon, s, 0, 0, nil)
	return true, nil
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

var (
	errLate       = errors.New("slot ended before its claim was answered")
	errNotCurrent = errors.New("the clock moved: the slot does not hold the present")
)

// current checks, just before a claim, that the slot still holds the present
// by this worker's clock. It fails when the slot was taken under a clock
// reading that has since moved (a store clock measured, a clock stepped): a
// slot claimed early would be claimed again by the others in its time.
func (m *Manager) current(s Slot) error {
	now := m.now()
	switch {
	case now.Before(s.Start):
		return errNotCurrent
	case !now.Before(s.End):
		return errLate
	}
	return nil
}

// claim asks the dictionary for the slot. The claim must be answered before
// the slot ends by this worker's clock; it lives Interval + SkewTolerance, so
// a worker whose clock is up to SkewTolerance behind still finds it.
func (m *Manager) claim(ctx context.Context, e *entry, s Slot) (bool, error) {
	if err := m.clockReady(); err != nil {
		return false, err
	}
	if err := m.current(s); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.End.Sub(m.now()), errLate)
	defer cancel()
	won, err := m.dict.Add(ctx, m.claimKey(e, s), m.worker, m.claimTTL(e))
	if context.Cause(ctx) == errLate { // answered too late to trust: do not run
		return false, lateErr(err)
	}
	if err != nil {
		return false, err
	}
	if err := m.current(s); won && err != nil { // the clock moved while we asked
		return false, err
	}
	return won, nil
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

// Winner returns the worker that claimed the slot of a Preemption rule that
// holds the instant at, if that claim is still alive in the dictionary.
func (m *Manager) Winner(ctx context.Context, identifier string, at time.Time) (string, bool, error) {
	m.once.Do(m.setup)
	m.mu.Lock()
	e := m.rules[identifier]
	m.mu.Unlock()
	if e == nil {
		return "", false, fmt.Errorf("ngxtasks: no rule %q", identifier)
	}
	return m.dict.Get(ctx, m.claimKey(e, m.keys.Slot(&e.rule, at)))
}

// call runs the callback with the rule's timeout, recovering a panic.
func (m *Manager) call(ctx context.Context, e *entry, fi *Firing) (err error) {
	// A Preemption rule's callback is marked running only now (see begin),
	// which catches the rare run that began between begin and the claim.
	if e.rule.Type == Preemption {
		if !e.running.CompareAndSwap(false, true) && !m.awaitIdle(ctx, e, fi.Slot) {
			m.emit(e, EventSkipped, &fi.Slot, SkipOverlap, 0, nil)
			return nil
		}
		defer e.running.Store(false)
	}
	if e.rule.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.rule.Timeout, ErrTimeout)
		defer cancel()
	}
	start := time.Now()
	e.stats.lastStart.Store(start.UnixNano())
	m.emit(e, EventFired, &fi.Slot, 0, 0, nil)
	defer func() { err = m.finished(ctx, e, &fi.Slot, start, recover(), err) }()
	return e.rule.Callback(ctx, *fi)
}

// maxOverlapWait bounds how long a won slot waits for the rule's run
// before it to end.
const maxOverlapWait = 100 * time.Millisecond

// awaitIdle waits, for a won Preemption slot, until the rule's previous run
// in this worker ends, and takes the running mark. That run may have begun
// just after this slot did (its claim was answered at the end of its own
// slot, after this slot's begin found the rule idle): skipping would lose a
// slot that no other worker can run any more. A run still going after
// maxOverlapWait, or at the end of the slot, is a real overlap.
func (m *Manager) awaitIdle(ctx context.Context, e *entry, s Slot) bool {
	start := time.Now() // the real clock bounds the wait, whatever Clock says
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, 5*time.Millisecond) {
		if time.Since(start) >= maxOverlapWait || !m.now().Before(s.End) || ctx.Err() != nil {
			return false
		}
		time.Sleep(wait)
		if e.running.CompareAndSwap(false, true) {
			return true
		}
	}
}

// finished turns a run's outcome (its error, or what it panicked with) into
// the error it records and reports.
func (m *Manager) finished(ctx context.Context, e *entry, s *Slot, start time.Time, panicked any, err error) error {
	if panicked != nil {
		err = &PanicError{Value: panicked, Stack: debug.Stack()}
	}
	if e.rule.Timeout > 0 && context.Cause(ctx) == ErrTimeout && !errors.Is(err, ErrTimeout) {
		if err == nil {
			err = ErrTimeout
		} else {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
	}
	m.emit(e, EventFinished, s, 0, time.Since(start), err)
	return err
}
