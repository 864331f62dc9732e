package ngxtasks

import (
	"context"
	"errors"
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
// Without UseStoreClock slots follow the worker's own clock, and the
// offset guards its Preemption claims: a worker claims only while its
// clock is known to be within SkewTolerance/2 of the store's, so that any
// two workers that claim are within SkewTolerance of each other, which is
// what P1 needs. Known means: measured, and the measurement carried to the
// present by the real monotonic clock, so that a clock stepped since (by
// NTP, by hand) is seen at the next claim, not at the next reading; the
// step also triggers a reading at once. A worker beyond that skips its
// Preemption slots (SkipClockSkewed), logs an error once and shows it in
// Health, and claims again once a reading finds it back. Claims wait for
// the first reading, within their slot (it is started by the manager's
// first use, so it has mostly come by the first drive step). Normal rules
// never wait and are never skipped for the clock: they claim nothing.
//
// Skipping rather than following the store's clock keeps every slot of a
// worker on one clock: following would move its slots by the offset in
// the middle of a run, forward (the slots jumped over reported missed) or
// back (slots claimed under the old clock already run, their claims
// expiring before the other workers reach them). Workers whose clocks are
// right run the skewed ones' slots; a fleet whose clocks drift should set
// UseStoreClock. The store's clock is not the default for slots because it
// would make every rule, Normal ones included, wait for the store at
// start, and a store that cannot be reached then would stop a worker that
// could run its Normal rules. A manager with its own private dictionary
// has no fleet to be apart from and measures nothing; a dictionary that
// cannot tell the time (or a StoreClock whose Now fails with
// ErrNoStoreClock) leaves claims to the workers' clocks, as before.
const storeClockEvery = 10 * time.Second

// clockRetry is how soon the timer loop looks again for the first reading
// of the store's clock when none came (a reading pokes it sooner).
const clockRetry = 100 * time.Millisecond

// clockRetryMax bounds the wait between failed readings before the first
// good one: claims wait for that one (see above).
const clockRetryMax = time.Second

type clockSync struct {
	sc       StoreClock   // nil: nothing to measure
	offset   atomic.Int64 // the store's clock minus this worker's, last measured
	measured atomic.Int64 // sinceEpoch of that measurement; 0 before the first
	next     atomic.Int64 // sinceEpoch when the next reading is due
	reading  atomic.Bool  // a reading is under way
	skewed   atomic.Bool  // the offset is beyond half the tolerance (without UseStoreClock)
	noClock  atomic.Bool  // the dictionary said it cannot tell the time (ErrNoStoreClock)
	retry    time.Duration

	last  atomic.Pointer[measurement] // the last, for the claims' guard
	start time.Time                   // a monotonic reading: measurements' mono counts from here
	first chan struct{}               // closed by the first measurement
}

// A measurement of the store's clock, with what carries it to the present:
// the worker's own clock (wall, Unix ns) and the real monotonic clock
// (since clockSync.start) when it was taken.
type measurement struct {
	offset     time.Duration
	wall, mono int64
}

func (c *clockSync) init(m *Manager) {
	c.start = time.Now()
	c.first = make(chan struct{})
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
	if m.clk.sc == nil || m.clk.noClock.Load() || m.sinceEpoch() < m.clk.next.Load() {
		return
	}
	if m.clk.reading.CompareAndSwap(false, true) {
		go m.syncClock()
	}
}

func (m *Manager) syncClock() {
	defer m.clk.reading.Store(false)
	asked := time.Now()
	got, err := m.readStoreClock()
	if err != nil {
		if m.base.Err() != nil {
			return // shut down
		}
		if errors.Is(err, ErrNoStoreClock) && !m.fields.useStoreClock {
			m.clk.noClock.Store(true) // claims go by this worker's clock
			close(m.clk.first)
			return
		}
		// Failed readings are retried sooner than good ones are repeated,
		// backing off from 100 ms; before the first good one, claims wait
		// for it, so the back-off stops at a second.
		limit := storeClockEvery
		if m.clk.measured.Load() == 0 {
			limit = clockRetryMax
		}
		m.clk.retry = min(max(2*m.clk.retry, clockRetry), limit)
		m.clk.next.Store(m.sinceEpoch() + int64(m.clk.retry))
		m.watch.failed(m, nil, nil, asked, fmt.Errorf("reading the store's clock: %w", err))
		return
	}
	m.clk.retry = 0
	m.watchSkew(got.offset)
	m.clk.last.Store(&got)
	m.clk.offset.Store(int64(got.offset))
	now := m.sinceEpoch()
	first := m.clk.measured.Swap(max(now, 1)) == 0
	m.clk.next.Store(now + int64(storeClockEvery))
	m.watch.answered(m, time.Now())
	if first {
		close(m.clk.first)
	}
	m.poke() // the timer loop may be waiting for the first reading
}

// clockSamples is how many readings one measurement takes. The one with
// the shortest round trip wins: its error, half that round trip, is the
// smallest, and the first reading on a cold connection (a dial, a
// handshake before the query) can be off by tens of milliseconds.
const clockSamples = 3

// readStoreClock measures how far the store's clock is ahead of this
// worker's, at the middle of the reading it keeps (the one with the
// shortest round trip).
func (m *Manager) readStoreClock() (measurement, error) {
	ctx, cancel := context.WithTimeout(m.base, 5*time.Second)
	defer cancel()
	var best measurement
	bestRTT := time.Duration(-1)
	for range clockSamples {
		real := time.Since(m.clk.start)
		t0 := m.localNow()
		st, err := m.clk.sc.Now(ctx)
		t1 := m.localNow()
		if err != nil {
			return measurement{}, err
		}
		if rtt := t1.Sub(t0); bestRTT < 0 || rtt < bestRTT {
			mid := t0.Add(rtt / 2)
			bestRTT = rtt
			best = measurement{offset: st.Sub(mid), wall: mid.UnixNano(), mono: int64(real + rtt/2)}
		}
	}
	return best, nil
}

// ErrNoStoreClock, returned (or wrapped) by a StoreClock's Now, says that
// the dictionary cannot tell the time after all: a wrapper whose store is
// opened late (Now fails with another error until then) returns it once it
// finds that the store it opened cannot. Without UseStoreClock the manager
// then stops reading and claims by its own clock, as with a Dict that does
// not implement StoreClock; with UseStoreClock it is a failed reading.
var ErrNoStoreClock = errors.New("ngxtasks: the dictionary cannot tell the time")

// errClockUnread and errClockSkewed tell why a Preemption slot was skipped
// for the clock (SkipClockSkewed).
var (
	errClockUnread = errors.New("the store's clock was not read before the slot ended")
	errClockSkewed = errors.New("this worker's clock is beyond SkewTolerance/2 from the store's")
)

// clockVouched says whether this worker may claim by its own clock: always
// with UseStoreClock (slots follow the store's), or when the store cannot
// tell the time; otherwise only while its clock is known to be within
// SkewTolerance/2 of the store's. A claim made before the first reading
// waits for it until deadline (or ctx) is done. It returns nil, or why
// not.
func (m *Manager) clockVouched(ctx context.Context, deadline time.Time) error {
	if m.clk.sc == nil || m.fields.useStoreClock {
		return nil
	}
	if m.clk.measured.Load() == 0 && !m.clk.noClock.Load() {
		m.maybeSyncClock()
		wait := time.NewTimer(deadline.Sub(m.now()))
		select {
		case <-m.clk.first:
		case <-ctx.Done():
		case <-wait.C:
		}
		wait.Stop()
		if m.clk.noClock.Load() {
			return nil
		}
		if m.clk.measured.Load() == 0 {
			return errClockUnread
		}
	}
	if m.clk.noClock.Load() {
		return nil
	}
	if off := m.offsetNow(); off > m.tolerance/2 || off < -m.tolerance/2 {
		return fmt.Errorf("%w: the store's clock is %v ahead of it (tolerance %v)", errClockSkewed, off.Round(time.Millisecond), m.tolerance)
	}
	return nil
}

// offsetNow is how far the store's clock is ahead of this worker's now:
// the last measurement, less however far this worker's clock has moved
// against the real monotonic clock since (the two run at one rate unless
// the clock was stepped; the store's runs with the real one). A step
// beyond a quarter of the tolerance also asks for a reading at once. An
// injected Clock that carries no monotonic reading (a fake one, stepped
// by its test) is taken at its last measurement.
func (m *Manager) offsetNow() time.Duration {
	last := m.clk.last.Load()
	off := last.offset
	local := m.localNow()
	if local == local.Round(0) { // no monotonic reading: not a real-time clock
		return off
	}
	moved := local.UnixNano() - last.wall
	real := int64(time.Since(m.clk.start)) - last.mono
	if step := time.Duration(moved - real); step != 0 {
		if step > m.tolerance/4 || step < -m.tolerance/4 {
			m.clk.next.Store(0)
			m.maybeSyncClock()
		}
		off -= step
	}
	return off
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
		m.logger.Error("ngxtasks: this worker's clock is further than SkewTolerance/2 from the store's: it skips its Preemption slots (reason \"clock skewed\") until it is back, and leaves them to the other workers; fix the clock or set UseStoreClock",
			"worker", m.worker, "offset", offset, "tolerance", m.tolerance)
	} else {
		m.logger.Warn("ngxtasks: this worker's clock is back near the store's: it claims Preemption slots again",
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
		return fmt.Errorf("%w: UseStoreClock needs a dictionary that can tell the time (StoreClock); %T cannot", ErrInvalidConfig, m.dict)
	}
	return nil
}

// ClockOffset returns how far the store's clock was ahead of this worker's
// when last measured, and whether it has been measured: managers measure it
// whenever their dictionary can tell the time, with or without
// UseStoreClock (which corrects for it).
func (m *Manager) ClockOffset() (time.Duration, bool) {
	if m.clk.measured.Load() == 0 {
		return 0, false
	}
	return time.Duration(m.clk.offset.Load()), true
}
