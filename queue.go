package ngxtasks

import "sync/atomic"

// An entry is a pushed rule with its schedule state and statistics.
type entry struct {
	rule Rule
	seq  uint64 // push order

	// Guarded by Manager.mu.
	due   int64 // Unix nanoseconds when the next slot not yet taken begins
	index int   // position in the queue; -1 once removed
	last  int64 // last slot taken
	taken bool  // whether any slot was taken

	running atomic.Bool // a run of this rule is going in this worker
	removed atomic.Bool
	stats   counters
}

// queue is a binary min-heap of entries by due time: the drive step pops
// only what is due, so its cost follows the due rules, not all rules.
type queue []*entry

func (q *queue) grow(n int) {
	if free := cap(*q) - len(*q); free < n {
		grown := make(queue, len(*q), len(*q)+n)
		copy(grown, *q)
		*q = grown
	}
}

func (q *queue) push(e *entry) {
	e.index = len(*q)
	*q = append(*q, e)
	q.up(e.index)
}

func (q *queue) remove(e *entry) {
	i, last := e.index, len(*q)-1
	if i < 0 {
		return
	}
	if i != last {
		q.swap(i, last)
	}
	(*q)[last] = nil
	*q = (*q)[:last]
	e.index = -1
	if i != last {
		q.fix(i)
	}
}

// fix restores order after the due time of the entry at i changed.
func (q queue) fix(i int) {
	if !q.down(i) {
		q.up(i)
	}
}

func (q queue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if q[p].due <= q[i].due {
			return
		}
		q.swap(i, p)
		i = p
	}
}

func (q queue) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(q) {
			break
		}
		c := l
		if r := l + 1; r < len(q) && q[r].due < q[l].due {
			c = r
		}
		if q[i].due <= q[c].due {
			break
		}
		q.swap(i, c)
		i = c
	}
	return i > start
}

func (q queue) swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
