package ngxtasks

import "math"

// A lane holds the rules of one Drive value. A drive mode takes slots from
// two lanes, DriveAny's and its own, so a rule restricted to one mode is
// never seen by the others, and each mode's gate (and the timer's sleep)
// follows only the rules it may take.
type lane struct {
	queue queue // by due time
	fresh queue // pushed, never taken: by the end of their current slot
	// freshSeen is when a drive step first found fresh entries (sinceEpoch;
	// 0 while there are none): their slots count as missed from then on.
	freshSeen int64
}

// dropRemoved drops removed entries from the heads of both heaps.
func (l *lane) dropRemoved() {
	l.queue.dropRemoved()
	l.fresh.dropRemoved()
}

// next picks where the next slot comes from: the queue whose head is due
// soonest, if one is due at nowNs, else the fresh heap whose head's slot
// ends soonest. It returns a nil queue when there is nothing to take.
func next(ls *[2]*lane, nowNs int64) (*lane, *queue) {
	var bl *lane
	var bq *queue
	for _, l := range ls {
		if len(l.queue) > 0 && l.queue[0].due <= nowNs && (bq == nil || l.queue[0].due < (*bq)[0].due) {
			bl, bq = l, &l.queue
		}
	}
	if bq != nil {
		return bl, bq
	}
	for _, l := range ls {
		if len(l.fresh) > 0 && (bq == nil || l.fresh[0].due < (*bq)[0].due) {
			bl, bq = l, &l.fresh
		}
	}
	return bl, bq
}

// headDue is when the lane's earliest rule falls due (Unix ns): at once
// when it has rules never taken, never when it is empty.
func (l *lane) headDue() int64 {
	switch {
	case len(l.fresh) > 0:
		return math.MinInt64
	case len(l.queue) > 0:
		return l.queue[0].due
	}
	return math.MaxInt64
}

// setGates stores, for each drive mode, when the earliest rule it may take
// falls due, in the gates' time scale (sinceEpoch). Callers hold mu.
//
// It reads both clocks afresh, at one instant, to carry due times over to
// the gates' scale: a reading taken earlier (a burst of 100,000 turns is
// taken in chunks under one reading) would put the gates late by however
// long ago that was.
func (m *Manager) setGates() {
	if m.closed.Load() {
		for mode := range m.gates {
			m.gates[mode].Store(0) // every drive step goes the slow way, to ErrClosed
		}
		return
	}
	var since, nowNs int64
	anyDue := m.lanes[DriveAny].headDue()
	for mode := DriveAny + 1; mode < numDrives; mode++ {
		due := min(anyDue, m.lanes[mode].headDue())
		switch due {
		case math.MaxInt64:
			m.gates[mode].Store(math.MaxInt64)
		case math.MinInt64:
			m.gates[mode].Store(0) // pushed rules are due at once
		default:
			if since == 0 {
				since, nowNs = m.sinceEpoch(), m.now().UnixNano()
			}
			m.gates[mode].Store(since + due - nowNs)
		}
	}
}
