package ngxtasks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// With UseStoreClock, a manager reads the dictionary's clock (StoreClock)
// every storeClockEvery and keeps the offset between it and its own clock,
// adding it to every reading. Slots then follow the store's clock, so the
// workers' own clocks may be off by any amount: what is left is the error of
// one measurement (half its round trip) plus drift between measurements,
// both far below SkewTolerance. Until the first measurement succeeds,
// Preemption slots are not claimed (fail closed).
const storeClockEvery = 10 * time.Second

// ErrClockNotSynced is the claim error of a manager using the store's clock
// before it could read that clock.
var ErrClockNotSynced = errors.New("ngxtasks: store clock not read yet")

// clockReady says whether claims may be made with the current clock.
func (m *Manager) clockReady() error {
	if !m.UseStoreClock {
		return nil
	}
	m.maybeSyncClock()
	if !m.synced.Load() {
		return ErrClockNotSynced
	}
	return nil
}

// maybeSyncClock starts a measurement of the store's clock if the last one
// is older than storeClockEvery and none is under way.
func (m *Manager) maybeSyncClock() {
	if !m.UseStoreClock || m.sinceEpoch()-m.lastSync.Load() < int64(storeClockEvery) && m.synced.Load() {
		return
	}
	if m.syncing.CompareAndSwap(false, true) {
		go m.syncClock()
	}
}

func (m *Manager) syncClock() {
	defer m.syncing.Store(false)
	sc := m.dict.(StoreClock) // checked by setup
	ctx, cancel := context.WithTimeout(m.base, 5*time.Second)
	defer cancel()
	t0 := m.localNow()
	st, err := sc.Now(ctx)
	t1 := m.localNow()
	if err != nil {
		m.logger.Warn("ngxtasks: cannot read the store's clock; Preemption claims wait for it", "worker", m.worker, "error", err)
		return
	}
	rtt := t1.Sub(t0)
	m.offset.Store(int64(st.Sub(t0.Add(rtt / 2))))
	m.lastSync.Store(m.sinceEpoch())
	m.synced.Store(true)
}

// localNow is this worker's own clock, without the store's offset.
func (m *Manager) localNow() time.Time {
	if m.clock != nil {
		return m.clock.Now()
	}
	return time.Now()
}

// checkStoreClock validates UseStoreClock against the dictionary.
func (m *Manager) checkStoreClock() error {
	if !m.UseStoreClock {
		return nil
	}
	if _, ok := m.dict.(StoreClock); !ok {
		return fmt.Errorf("ngxtasks: %w: UseStoreClock needs a dictionary that can tell the time (StoreClock); %T cannot", ErrInvalidConfig, m.dict)
	}
	return nil
}

// ClockOffset returns how far the store's clock is ahead of this worker's,
// and whether it has been measured; always (0, false) without UseStoreClock.
func (m *Manager) ClockOffset() (time.Duration, bool) {
	m.once.Do(m.setup)
	if !m.UseStoreClock || !m.synced.Load() {
		return 0, false
	}
	return time.Duration(m.offset.Load()), true
}
