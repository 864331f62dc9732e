package ngxtasks

import (
	"context"
	"errors"
	"math"
	"time"
)

// firing is a slot taken from the queue, to be run in this worker.
type firing struct {
	e     *entry
	slot  Slot
	claim claimState
	// missedFrom and missed describe the slots that passed between the last
	// slot taken and this one (Unix ns where they began, and how many).
	missedFrom, missed int64
}

// claimState records how far a batch got with a firing before running it.
type claimState uint8

const (
	claimPending claimState = iota // filter and claim still to do
	claimWon                       // filter passed and the claim is stored: run it
	claimSettled                   // filtered out, lost or failed: nothing to run
)

// Timer loop bounds: it wakes at most once per minTick, so rules spread over
// an interval are run in batches, and at least once per maxSleep, so a clock
// that was stepped is noticed.
const (
	minTick  = time.Millisecond
	maxSleep = time.Minute
	chunk    = 256 // firings taken under one lock and run as one batch
)

// take pops entries due at now, moves each to its next slot, and appends
// the slots not taken before to out, until out holds limit firings. It is
// the one place slots are handed out, so every drive mode shares the
// at-most-once-per-slot rule.
func (m *Manager) take(now time.Time, out []firing, limit int) []firing {
	nowNs := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return out
	}
	for m.queue.dropRemoved(); len(m.queue) > 0 && m.queue[0].due <= nowNs && len(out) < limit; m.queue.dropRemoved() {
		e := m.queue[0].e
		s := m.keys.Slot(&e.rule, now)
		if start := s.Start.UnixNano(); e.lastEnd == 0 || start >= e.lastEnd {
			if out == nil {
				out = make([]firing, 0, min(limit, 64))
			}
			f := firing{e: e, slot: s}
			if e.lastEnd != 0 && start > e.lastEnd {
				gap := start - e.lastEnd
				f.missedFrom, f.missed = e.lastEnd, (gap+int64(e.rule.Interval)-1)/int64(e.rule.Interval)
			}
			e.lastEnd = s.End.UnixNano()
			out = append(out, f)
		}
		due := s.End.UnixNano()
		if due <= nowNs { // a generator whose slot does not hold now must not spin the loop
			due = nowNs + int64(e.rule.Interval)
		}
		e.due = due
		m.queue[0].due = due
		m.queue.down(0)
	}
	m.setGate()
	return out
}

// Run is one drive step, the seed's tasks:run(): it runs the rules due now.
// Callbacks run on the calling goroutine, one after another, except
// Background rules, which get their own. It returns their errors joined.
// When nothing is due it costs one clock read and does not allocate.
func (m *Manager) Run(ctx context.Context) error {
	m.once.Do(m.setup)
	if m.sinceEpoch() < m.gate.Load() {
		return nil
	}
	return m.runDue(ctx, nil)
}

func (m *Manager) runDue(ctx context.Context, ex *Exchange) error {
	if m.err != nil {
		return m.err
	}
	var buf [4]firing
	var errs []error
	for _, f := range m.take(m.now(), buf[:0], math.MaxInt) {
		if !m.begin(f) {
			continue
		}
		if f.e.rule.Background {
			go m.execute(m.base, f, nil)
			continue
		}
		if err := m.execute(ctx, f, ex); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dispatch takes up to a chunk of the slots due at now and starts them as
// one batch, so runs begin while the rest of a large tick is still being
// taken. It returns how many it took.
func (m *Manager) dispatch(now time.Time) int {
	b := m.newBatch()
	taken := m.take(now, b.buf[:0], chunk)
	begun := taken[:0]
	for _, f := range taken {
		if f.missed > 0 {
			m.behind(&f)
		}
		if m.begin(f) {
			begun = append(begun, f)
		}
	}
	clear(taken[len(begun):]) // the pooled batch must not hold their entries
	m.runBatch(b, begun)
	return len(taken)
}

// Start runs the timer loop until ctx is done (it returns ctx.Err()) or
// Shutdown is called (it returns ErrClosed). The loop sleeps until the
// earliest due slot, then runs the due rules concurrently: a callback that
// blocks never holds up another. Runs still going when Start returns are
// left to Shutdown.
func (m *Manager) Start(ctx context.Context) error {
	m.once.Do(m.setup)
	if m.err != nil {
		return m.err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if !m.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	defer m.started.Store(false)
	timer := time.NewTimer(maxSleep)
	defer timer.Stop()
	for {
		now := m.now()
		for m.dispatch(now) == chunk { // a large tick, chunk by chunk
		}
		wait := time.Duration(m.gate.Load() - m.sinceEpoch())
		timer.Reset(min(max(wait, minTick), maxSleep))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.stop:
			return ErrClosed
		case <-m.wake:
		case <-timer.C:
		}
	}
}

// Shutdown stops new runs at once, in every drive mode, and waits for
// running callbacks until ctx is done. Then it cancels their contexts and
// returns a *ShutdownError naming them, without waiting further. It closes
// the dictionary only if the manager made it.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.once.Do(m.setup)
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed.Store(true)
		m.setGate()
		m.mu.Unlock()
		close(m.stop)
	})
	defer func() {
		if m.ownDict {
			m.dict.Close()
		}
	}()
	for m.inflight.Load() > 0 {
		select {
		case <-m.idle:
		case <-ctx.Done():
			var names []string
			for _, e := range m.entries() {
				if e.running.Load() {
					names = append(names, e.rule.Identifier)
				}
			}
			m.cancel()
			return &ShutdownError{Cancelled: names, Cause: ctx.Err()}
		}
	}
	m.cancel()
	return nil
}
