package ngxtasks

import (
	"context"
	"time"
)

// claimBatch filters and claims, in one round trip, the Preemption firings
// of a batch the timer loop took, when the dictionary can take batches: with
// 10,000 rules due in one second that is 40 round trips, not 10,000. Each
// firing leaves with claimWon or claimSettled; the order filter → claim →
// run is the same as for a single firing. Firings stay pending when there is
// nothing to batch.
func (m *Manager) claimBatch(fs []firing) {
	ba, ok := m.dict.(BatchAdder)
	if !ok {
		return
	}
	n := 0
	for i := range fs {
		if fs[i].e.rule.Type == Preemption {
			n++
		}
	}
	if n < 2 {
		return
	}
	idx := make([]int, 0, n)
	adds := make([]Add, 0, n)
	var deadline time.Time
	for i := range fs {
		f := &fs[i]
		e := f.e
		if e.rule.Type != Preemption {
			continue
		}
		if e.rule.Filter != nil && !m.filter(m.base, Firing{Rule: &e.rule, Slot: f.slot, Worker: m.worker}) {
			m.emit(e, EventSkipped, &f.slot, SkipFiltered, 0, nil)
			f.claim = claimSettled
			continue
		}
		if err := m.current(f.slot); err != nil {
			m.claimed(e, &f.slot, false, err)
			f.claim = claimSettled
			continue
		}
		idx = append(idx, i)
		adds = append(adds, Add{Key: m.claimKey(e, f.slot), Value: m.worker, TTL: m.claimTTL(e)})
		if deadline.IsZero() || f.slot.End.Before(deadline) {
			deadline = f.slot.End
		}
	}
	if len(adds) == 0 {
		return
	}
	// Every answer must come before the earliest of the slots ends.
	err := m.clockReady()
	if err == nil {
		ctx, cancel := context.WithTimeoutCause(m.base, deadline.Sub(m.now()), errLate)
		err = ba.AddBatch(ctx, adds)
		if context.Cause(ctx) == errLate {
			err = lateErr(err)
		}
		cancel()
	}
	for j, i := range idx {
		f := &fs[i]
		aerr := err
		if aerr == nil {
			aerr = adds[j].Err
		}
		if aerr == nil && adds[j].Added {
			aerr = m.current(f.slot) // the clock moved while we asked
		}
		f.claim = claimSettled
		if run, _ := m.claimed(f.e, &f.slot, adds[j].Added && aerr == nil, aerr); run {
			f.claim = claimWon
		}
	}
}
