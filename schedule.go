package ngxtasks

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The schedule says which rule's slot is due when. Rules sit in lanes, one
// per Drive value, each a heap by due time, so that a drive step pops only
// what is due: its cost follows the due rules, not all rules. take is the
// one place slots are handed out, each once per worker, whatever drives
// the manager; the step (step.go) does the rest.

// schedule is the part of a Manager that holds the rules and when each
// falls due.
type schedule struct {
	mu    sync.Mutex      // guards lanes, rules, seq, removed and entries' slot state
	lanes [numDrives]lane // by Rule.Drive
	rules map[string]*entry
	seq   uint32
	// removed keeps removed rules whose last slot taken has not ended yet,
	// so that pushing one again does not run that slot again.
	removed map[string]removedRule
	pruneAt int // len(removed) at which Remove next drops what has ended

	// gates[mode] is when, in nanoseconds since epoch, the earliest rule
	// that drive mode may take falls due. Reading it is the whole cost of
	// a drive step when nothing is due.
	gates [numDrives]atomic.Int64
	// firstStep is the present (UnixNano, on the slots' clock) of the
	// first drive step that took slots; 0 before it. For Health.
	firstStep atomic.Int64
}

// An entry is a pushed rule with its schedule state and statistics.
//
// What take reads of an entry comes first: its own fields, then the rule,
// whose Interval, Offset, Spread and Drive then lie in the object's second
// cache line. Taking a burst of 100,000 rules waits on memory more than it
// computes, and the two lines are fetched as a pair.
type entry struct {
	// Guarded by Manager.mu.
	// lastEnd is where the last slot taken ended (Unix ns; 0 before the
	// first). Slots are told apart by time rather than number because a
	// generator's numbers may restart, as MidnightKeys' do every day.
	lastEnd int64
	// state holds, in its low byte, why the entry left the manager
	// (stillPushed while it has not; the queues drop it when it
	// surfaces), and in the next, the counters' last result (stats.go):
	// two small values in one word, beside seq, keep an entry in its size
	// class.
	state atomic.Uint32
	// seq is the push order. It wraps after 2^32 pushes, which can only
	// reorder rules due at the same instant.
	seq    uint32
	pushed int64 // when Push added it, on the gate's time scale (sinceEpoch)

	rule Rule

	// runSince is when this worker's run of the rule began (time.Now,
	// UnixNano), 0 when none is going.
	runSince atomic.Int64
	history  atomic.Pointer[history] // made at the first event (see historyOf)
	stats    counters
}

// leftWhy is why the entry left the manager, stillPushed while it has not.
func (e *entry) leftWhy() uint32 { return e.state.Load() & 0xff }

// leave records why the entry left the manager.
func (e *entry) leave(why uint32) {
	for s := e.state.Load(); !e.state.CompareAndSwap(s, s&^0xff|why); s = e.state.Load() {
	}
}

// lastResult is how the rule's last run here ended (0 before one did).
func (e *entry) lastResult() Outcome { return Outcome(e.state.Load() >> 8 & 0xff) }

// noteResult records how a run ended, writing only when that changed: a
// load is cheaper than a store.
func (e *entry) noteResult(o Outcome) {
	for s := e.state.Load(); Outcome(s>>8&0xff) != o; s = e.state.Load() {
		if e.state.CompareAndSwap(s, s&^0xff00|uint32(o)<<8) {
			return
		}
	}
}

// Why an entry left the manager.
const (
	stillPushed = iota
	leftRemoved // by Remove, or by Replace without it: its taken slot is not run
	// leftReplaced is for a rule Replace gave a new definition: a slot the
	// old one took still runs, since the new one inherits it as taken.
	leftReplaced
)

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

// take pops entries due at now that the drive mode may take, moves each to
// its next slot, and appends the slots not taken before to out, until out
// holds limit turns. It is the one place slots are handed out, so every
// drive mode shares the at-most-once-per-slot rule.
//
// Rules whose time has come go first, in due order and those due at the
// same instant in push order (their entries' order in memory, so a burst
// of 100,000 walks them front to back rather than at random), then rules
// pushed and not yet taken, soonest-ending slot first: a start with a
// million rules to catch up on must not keep a one-second rule waiting
// until it has missed its slot.
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
		if len(l.fresh) > 0 {
			// Room in the queue for every fresh rule, in one allocation,
			// so that a big start does not grow it an append at a time.
			l.queue.grow(len(l.fresh))
		}
		if len(l.fresh) > 0 && l.freshSeen == 0 {
			// The first step to find them: order them by when their slot
			// ends now, not when they were pushed (a million rules take
			// seconds to push, and the store's clock may have been read
			// since).
			l.freshSeen = m.sinceEpoch()
			for i := range l.fresh {
				l.fresh[i].due = m.slotOf(&l.fresh[i].e.rule, now).End.UnixNano()
			}
			l.fresh.heapify()
		}
	}
	for len(out) < limit {
		// Pop what is due, touching only the heaps' own arrays; then read
		// the entries. Waiting for their cache lines one by one was more
		// than half the cost of a slot taken at 100,000 rules.
		from := len(out)
		for len(out) < limit {
			_, q := next(&lanes, nowNs)
			if q == nil {
				break
			}
			if len(out) == cap(out) {
				out = slices.Grow(out, min(limit, max(len(out), 64)))
			}
			out = out[:len(out)+1]
			out[len(out)-1].e = (*q)[0].e // the rest is written below
			q.pop()
		}
		if len(out) == from {
			break
		}
		kept := from
		for i := from; i < len(out); i++ {
			if j := i + prefetch; j < len(out) {
				out[j].e.state.Load() // its lines arrive while this one is read
			}
			e := out[i].e
			if e.leftWhy() != stillPushed {
				continue // removed: it leaves the heaps here
			}
			l := &m.lanes[e.rule.Drive]
			s := m.slotOf(&e.rule, now)
			due := s.End.UnixNano()
			if due <= nowNs { // a generator whose slot does not hold now must not spin the loop
				due = nowNs + int64(cmp.Or(e.rule.Interval, time.Second))
			}
			l.queue.push(item{due, e.seq, e})
			if s.Start.UnixNano() < e.lastEnd {
				continue // taken before
			}
			f := turn{e: e, slot: s, first: e.lastEnd == 0, timer: mode == DriveTimer}
			if from, n := m.missedBefore(e, s, now, l.freshSeen); n > 0 {
				f.missedFrom, f.missed = from, n
			}
			e.lastEnd = s.End.UnixNano()
			out[kept] = f
			kept++
		}
		clear(out[kept:])
		out = out[:kept]
	}
	for _, l := range lanes {
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

// prefetch is how far ahead of the entry take reads it touches the next.
const prefetch = 8

// missedBefore counts the slots of e that passed untaken before s: since
// the last slot taken, or, for a rule not taken yet, since the slot that
// held the instant a drive step first found it due (a catch-up too long
// for its slot). Slots before that step were not driven, and are not
// missed. freshSeen is that of e's lane. Callers hold mu.
func (m *Manager) missedBefore(e *entry, s Slot, now time.Time, freshSeen int64) (from, n int64) {
	from = e.lastEnd
	if from == 0 {
		seen := now.Add(-time.Duration(m.sinceEpoch() - max(e.pushed, freshSeen)))
		from = m.slotOf(&e.rule, seen).Start.UnixNano()
	}
	return from, slotsBetween(&e.rule, from, s.Start.UnixNano(), maxCounted)
}

// maxCounted bounds the slots of a Schedule missedBefore counts, stepping
// from one to the next under mu.
const maxCounted = 10000

// slotsBetween counts the slots of r that begin in [from, to): by division
// for an Interval, stepping from one to the next for a Schedule, at most
// limit of those (a count that says "that many or more").
func slotsBetween(r *Rule, from, to, limit int64) (n int64) {
	switch {
	case to <= from:
		return 0
	case r.Schedule == nil:
		return (to - from + int64(r.Interval) - 1) / int64(r.Interval)
	}
	for t := from; t < to && n < limit; n++ {
		end := r.Schedule.Slot(time.Unix(0, t)).End.UnixNano()
		if end <= t {
			break // a schedule whose slot does not hold t: count no further
		}
		t = end
	}
	return n
}
