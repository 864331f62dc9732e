package ngxtasks

import (
	"context"
	"errors"
	"math"
	"time"
)

// Timer loop bounds: it wakes at most once per minTick, so rules spread over
// an interval are run in batches, and at least once per maxSleep, so a clock
// that was stepped is noticed.
const (
	minTick  = time.Millisecond
	maxSleep = time.Minute
	chunk    = 256 // turns taken under one lock and run as one batch
)

// Run is one drive step, the original's tasks:run(): it runs the rules due now.
// Callbacks run on the calling goroutine, one after another, except
// Background rules, which get their own: Normal rules first, while the
// step's Preemption claims are in flight, then the Preemption rules won.
// It returns their errors, and those of failed claims, joined.
// When nothing is due it costs one clock read and does not allocate.
func (m *Manager) Run(ctx context.Context) error {
	m.once.Do(m.setup)
	if m.sinceEpoch() < m.gates[DriveRun].Load() {
		return nil
	}
	return m.runDue(ctx, DriveRun, nil)
}

// runDue is a drive step of Run (mode DriveRun) or of a request
// (DriveRequest, with its exchange).
func (m *Manager) runDue(ctx context.Context, mode Drive, ex *Exchange) error {
	if m.err != nil {
		return m.err
	}
	if err := m.changed(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if !m.clockKnown() {
		return nil // slots wait for the store's clock (UseStoreClock)
	}
	m.maybeSyncClock()
	var buf [4]turn
	fs := m.take(mode, m.now(), buf[:0], math.MaxInt)
	admitted := fs[:0]
	for i := range fs {
		if !m.admit(&fs[i]) {
			continue
		}
		if fs[i].e.rule.Background {
			go func(f turn) {
				defer m.retire(1)
				_ = m.fire(m.base, &f, nil) // failures are reported as events
			}(fs[i])
			continue
		}
		admitted = append(admitted, fs[i])
	}
	if len(admitted) == 0 {
		return nil
	}
	defer m.retire(int64(len(admitted)))
	ctx, stop := m.bound(ctx)
	defer stop()
	// Filters first, in order, on this goroutine (they may read the
	// request); then every claim of the step in one round trip, during
	// which the Normal rules run: they never wait for the store.
	claims := 0
	for i := range admitted {
		if m.screen(ctx, &admitted[i], ex) {
			claims++
		}
	}
	var errs []error
	var answered chan error
	if claims > 0 && claims < len(admitted) {
		answered = make(chan error, 1)
		go func() { answered <- m.claimAll(ctx, admitted, claims) }()
	} else if err := m.claimAll(ctx, admitted, claims); err != nil {
		errs = append(errs, err)
	}
	for _, preemption := range []bool{false, true} {
		if preemption && answered != nil {
			if err := <-answered; err != nil {
				errs = append(errs, err)
			}
		}
		for i := range admitted {
			if (admitted[i].e.rule.Type == Preemption) != preemption {
				continue
			}
			if err := m.fire(ctx, &admitted[i], ex); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// dispatch takes up to a chunk of the slots due at now and starts them as
// one batch, so runs begin while the rest of a large tick is still being
// taken. It returns how many it took.
func (m *Manager) dispatch(now time.Time) int {
	b := m.newBatch()
	taken := m.take(DriveTimer, now, b.buf[:0], chunk)
	admitted := taken[:0]
	for i := range taken {
		f := &taken[i]
		if f.missed > 0 {
			m.behind(f)
		}
		if m.admit(f) {
			admitted = append(admitted, *f)
		}
	}
	clear(taken[len(admitted):]) // the pooled batch must not hold their entries
	m.runBatch(b, admitted)
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
	if err := m.changed(); err != nil {
		m.logger.Error("ngxtasks: the timer loop does not start", "worker", m.worker, "error", err) // Start is often run with go
		return err
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
		var wait time.Duration
		if m.clockKnown() {
			m.maybeSyncClock()
			// A large tick goes chunk by chunk, each under a fresh reading,
			// so that rules falling due meanwhile are taken in their slot.
			for m.dispatch(m.now()) == chunk {
			}
			wait = time.Duration(m.gates[DriveTimer].Load() - m.sinceEpoch())
		} else { // no slot until the store's clock is known; a reading pokes us
			m.maybeSyncClock()
			wait = clockRetry
		}
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
		m.setGates()
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
				if e.runSince.Load() != 0 {
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
