package ngxtasks

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// storeWatch follows whether the dictionary answers in time. A store that
// stops answering makes every claim of every rule fail or come late: one
// log line per skipped slot would bury the cause (a 5 s stall gave 1,620),
// so the watch logs one error when the store stops answering in time, with
// the cause, and one line when it answers again, with how long that took
// and how many slots were skipped meanwhile. The slots themselves are still
// events.
//
// Requests are judged by when they were sent: once the store answers in
// time again, the failures and late answers of requests sent before that
// (the backlog of the outage, answered as the store catches up) are the
// outage that just ended, not a new one. Without that, each late answer of
// the backlog took the store down again and the next answer brought it
// back: 9 pairs of lines within 100 ms after a 5 s stall.
type storeWatch struct {
	down atomic.Bool // read on every answer: the only cost while all is well

	mu      sync.Mutex
	since   time.Time // when the first request that failed was sent
	back    time.Time // when the store last answered in time after an outage
	skipped int64
	err     string
}

// failed records a claim (e, s) or clock reading (e nil), sent at asked,
// that failed or came late.
func (w *storeWatch) failed(m *Manager, e *entry, s *Slot, asked time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err.Error()
	if w.down.Load() {
		if e != nil {
			w.skipped++
		}
		return
	}
	if asked.Before(w.back) {
		return // the backlog of the outage that ended at back
	}
	w.down.Store(true)
	w.since = asked
	w.skipped = 0
	attrs := []slog.Attr{slog.String("worker", m.worker), slog.String("error", w.err)}
	if e != nil {
		w.skipped = 1
		attrs = append(attrs, slog.String("rule", e.rule.Identifier), slog.Int64("slot", s.N))
	}
	m.logger.LogAttrs(context.Background(), slog.LevelError, "ngxtasks: the store does not answer in time: Preemption slots are skipped until it does", attrs...)
}

// answered records a claim or clock reading that the store answered in
// time, at.
func (w *storeWatch) answered(m *Manager, at time.Time) {
	if !w.down.Load() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.down.Load() {
		return
	}
	w.down.Store(false)
	w.back = at
	m.logger.LogAttrs(context.Background(), slog.LevelInfo, "ngxtasks: the store answers again",
		slog.String("worker", m.worker), slog.Duration("after", at.Sub(w.since)),
		slog.Int64("skipped", w.skipped), slog.String("last_error", w.err))
}

// Health is what a worker knows of its dictionary and of its clock.
type Health struct {
	// StoreDown is set from a claim (or clock reading) that failed or came
	// after its slot ended until the next answered in time; failures of
	// requests sent before that answer (the outage's backlog) do not set
	// it again.
	StoreDown      bool
	StoreDownSince time.Time
	// StoreSkipped counts Preemption slots skipped since StoreDownSince.
	StoreSkipped int64
	// StoreError is the last failure's text, kept once the store is back.
	StoreError string

	// ClockOffset is how far the store's clock was ahead of this worker's
	// at ClockMeasured, which is zero when the dictionary cannot tell the
	// time (or is the manager's own).
	ClockOffset   time.Duration
	ClockMeasured time.Time
	// ClockSkewed is set while ClockOffset is beyond half the
	// SkewTolerance and UseStoreClock does not correct for it: this worker
	// then skips its Preemption slots (SkipClockSkewed), which would
	// otherwise run twice.
	ClockSkewed bool
	// FirstStep is the present, on the clock the slots follow, of the
	// first drive step (in any drive mode) that found rules; zero before
	// it. Every slot in progress then or later is this worker's to run.
	FirstStep time.Time
}

// Health reports the state of this worker's dictionary and clock.
func (m *Manager) Health() Health {
	var h Health
	m.watch.mu.Lock()
	h.StoreDown = m.watch.down.Load()
	if h.StoreDown {
		h.StoreDownSince, h.StoreSkipped = m.watch.since, m.watch.skipped
	}
	h.StoreError = m.watch.err
	m.watch.mu.Unlock()
	if at := m.clk.measured.Load(); at != 0 {
		h.ClockOffset = time.Duration(m.clk.offset.Load())
		h.ClockMeasured = m.localNow().Add(-time.Duration(m.sinceEpoch() - at))
	}
	h.ClockSkewed = m.clk.skewed.Load()
	if ns := m.firstStep.Load(); ns != 0 {
		h.FirstStep = time.Unix(0, ns)
	}
	return h
}
