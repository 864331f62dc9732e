package calendar

import "sync/atomic"

// A memo keeps the slot that Slot found last. Rules that share a Schedule
// fall due together, and each asks for the slot holding the same boundary:
// a boundary of 100,000 rules on one schedule then computes one slot, and
// reads it 99,999 times. It is a sequence lock over the slot's numbers, so
// that a call neither allocates nor waits: seq is odd while a slot is
// written, and a reader that sees it change reads nothing. A writer that
// finds another writing leaves the memo to it.
type memo struct {
	seq           atomic.Uint64 // 0: empty
	n, start, end atomic.Int64  // the slot's number, and its bounds in Unix seconds
}

// load returns the slot kept if it holds instant b (Unix seconds).
func (m *memo) load(b int64) (n, start, end int64, ok bool) {
	seq := m.seq.Load()
	if seq == 0 || seq&1 != 0 {
		return 0, 0, 0, false
	}
	n, start, end = m.n.Load(), m.start.Load(), m.end.Load()
	if m.seq.Load() != seq || b < start || b >= end {
		return 0, 0, 0, false
	}
	return n, start, end, true
}

// store keeps a slot, unless another call is keeping one.
func (m *memo) store(n, start, end int64) {
	seq := m.seq.Load()
	if seq&1 != 0 || !m.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	m.n.Store(n)
	m.start.Store(start)
	m.end.Store(end)
	m.seq.Store(seq + 2)
}
