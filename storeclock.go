package ngxtasks

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// A manager whose dictionary can tell the time (StoreClock) reads that
// clock every storeClockEvery and keeps the offset between it and its own.
//
// With UseStoreClock it adds the offset to every reading, so slots follow
// the store's clock and the workers' own clocks may be off by any amount:
// what is left is the error of one measurement (half its round trip) plus
// drift between measurements, both far below SkewTolerance. No slot is
// taken before the first reading, in any drive mode: a slot computed from
// the worker's own clock would be computed again, differently, a moment
// later.
//
// Without UseStoreClock the offset is only watched: beyond half the
// SkewTolerance it is logged as an error and shown by Health, since beyond
// the whole tolerance Preemption slots run twice. The store's clock is not
// the default because it would make every rule, Normal ones included, wait
// for the store at start, and a store that cannot be reached then would
// stop a worker that could run its Normal rules; a fleet whose clocks are
// kept by NTP does not need it. A manager with its own private dictionary
// has no fleet to be apart from and measures nothing.
const storeClockEvery = 10 * time.Second

// clockRetry is how soon the timer loop looks again for the first reading
// of the store's clock when none came (a reading pokes it sooner).
const clockRetry = 100 * time.Millisecond

type clockSync struct {
	sc       StoreClock   // nil: nothing to measure
	offset   atomic.Int64 // the store's clock minus this worker's, last measured
	measured atomic.Int64 // sinceEpoch of that measurement; 0 before the first
	next     atomic.Int64 // sinceEpoch when the next reading is due
	reading  atomic.Bool  // a reading is under way
	skewed   atomic.Bool  // the offset is beyond half the tolerance (without UseStoreClock)
	retry    time.Duration
}

func (c *clockSync) init(m *Manager) {
	if sc, ok := m.dict.(StoreClock); ok && (m.fields.useStoreClock || !m.ownDict) {
		c.sc = sc
	}
}

// clockKnown says whether slots may be computed: always, but with
// UseStoreClock before the store's clock has been read.
func (m *Manager) clockKnown() bool {
	return !m.fields.useStoreClock || m.clk.measured.Load() != 0
}

// maybeSyncClock starts a reading of the store's clock when one is due
// and none is under way.
func (m *Manager) maybeSyncClock() {
	if m.clk.sc == nil || m.sinceEpoch() < m.clk.next.Load() {
		return
	}
	if m.clk.reading.CompareAndSwap(false, true) {
		go m.syncClock()
	}
}

func (m *Manager) syncClock() {
	defer m.clk.reading.Store(false)
	offset, err := m.readStoreClock()
	if err != nil {
		if m.base.Err() != nil {
			return // shut down
		}
		// Failed readings are retried sooner than good ones are repeated,
		// backing off from 100 ms.
		m.clk.retry = min(max(2*m.clk.retry, clockRetry), storeClockEvery)
		m.clk.next.Store(m.sinceEpoch() + int64(m.clk.retry))
		m.watch.failed(m, nil, nil, fmt.Errorf("reading the store's clock: %w", err))
		return
	}
	m.clk.retry = 0
	m.clk.offset.Store(int64(offset))
	now := m.sinceEpoch()
	m.clk.measured.Store(max(now, 1))
	m.clk.next.Store(now + int64(storeClockEvery))
	m.watch.answered(m)
	m.watchSkew(offset)
	m.poke() // the timer loop may be waiting for the first reading
}

// clockSamples is how many readings one measurement takes. The one with
// the shortest round trip wins: its error, half that round trip, is the
// smallest, and the first reading on a cold connection (a dial, a
// handshake before the query) can be off by tens of milliseconds.
const clockSamples = 3

// readStoreClock measures how far the store's clock is ahead of this
// worker's.
func (m *Manager) readStoreClock() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(m.base, 5*time.Second)
	defer cancel()
	var offset time.Duration
	best := time.Duration(-1)
	for range clockSamples {
		t0 := m.localNow()
		st, err := m.clk.sc.Now(ctx)
		t1 := m.localNow()
		if err != nil {
			return 0, err
		}
		if rtt := t1.Sub(t0); best < 0 || rtt < best {
			best, offset = rtt, st.Sub(t0.Add(rtt/2))
		}
	}
	return offset, nil
}

// watchSkew raises (and clears) the alarm of a worker whose clock is
// further from the store's than half the SkewTolerance.
func (m *Manager) watchSkew(offset time.Duration) {
	if m.fields.useStoreClock {
		return // corrected for
	}
	far := offset > m.tolerance/2 || offset < -m.tolerance/2
	if far == m.clk.skewed.Load() {
		return
	}
	// Readings are never concurrent, so the flag changes here only, and
	// after its log line: Health does not show what the log has not said.
	if far {
		m.logger.Error("ngxtasks: this worker's clock is far from the store's: beyond SkewTolerance, Preemption slots run twice; fix the clock or set UseStoreClock",
			"worker", m.worker, "offset", offset, "tolerance", m.tolerance)
	} else {
		m.logger.Warn("ngxtasks: this worker's clock is back near the store's",
			"worker", m.worker, "offset", offset, "tolerance", m.tolerance)
	}
	m.clk.skewed.Store(far)
}

// localNow is this worker's own clock, without the store's offset.
// onSlotClock carries a reading of the real clock (time.Now) over to the
// clock the slots follow, without reading it again when it is the same.
func (m *Manager) onSlotClock(t time.Time) time.Time {
	if m.clock != nil {
		return m.now()
	}
	if m.fields.useStoreClock {
		t = t.Add(time.Duration(m.clk.offset.Load()))
	}
	return t
}

func (m *Manager) localNow() time.Time {
	if m.clock != nil {
		return m.clock.Now()
	}
	return time.Now()
}

// checkStoreClock validates UseStoreClock against the dictionary.
func (m *Manager) checkStoreClock() error {
	if !m.fields.useStoreClock {
		return nil
	}
	if _, ok := m.dict.(StoreClock); !ok {
		return fmt.Errorf("ngxtasks: %w: UseStoreClock needs a dictionary that can tell the time (StoreClock); %T cannot", ErrInvalidConfig, m.dict)
	}
	return nil
}

// ClockOffset returns how far the store's clock was ahead of this worker's
// when last measured, and whether it has been measured: managers measure it
// whenever their dictionary can tell the time, with or without
// UseStoreClock (which corrects for it).
func (m *Manager) ClockOffset() (time.Duration, bool) {
	m.once.Do(m.setup)
	if m.clk.measured.Load() == 0 {
		return 0, false
	}
	return time.Duration(m.clk.offset.Load()), true
}
