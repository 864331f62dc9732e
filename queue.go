package ngxtasks

// queue is a binary min-heap of entries by due time (Unix nanoseconds), so
// a drive step pops only what is due: its cost follows the due rules, not
// all rules. Due times sit in the heap's own array, so sifting does not
// touch the entries, which matters for cache misses at 100,000 rules.
// Removed entries are dropped lazily, when they reach the top.
type queue []item

type item struct {
	due int64
	seq uint32 // the entry's: equal due times pop in push order
	e   *entry
}

// before orders items by due time, then push order.
func (a *item) before(b *item) bool {
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

func (q *queue) grow(n int) {
	if free := cap(*q) - len(*q); free < n {
		grown := make(queue, len(*q), len(*q)+n)
		copy(grown, *q)
		*q = grown
	}
}

func (q *queue) push(it item) {
	*q = append(*q, it)
	q.up(len(*q) - 1)
}

// heapify restores the heap order after due times were changed in place.
func (q queue) heapify() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

// pop removes the top item.
func (q *queue) pop() {
	last := len(*q) - 1
	(*q)[0] = (*q)[last]
	(*q)[last] = item{}
	*q = (*q)[:last]
	if last > 0 {
		q.down(0)
	}
}

// dropRemoved pops removed entries off the top, so the top is live.
func (q *queue) dropRemoved() {
	for len(*q) > 0 && (*q)[0].e.leftWhy() != stillPushed {
		q.pop()
	}
}

func (q queue) up(i int) {
	it := q[i]
	for i > 0 {
		p := (i - 1) / 2
		if !it.before(&q[p]) {
			break
		}
		q[i] = q[p]
		i = p
	}
	q[i] = it
}

func (q queue) down(i int) {
	it := q[i]
	for {
		c := 2*i + 1
		if c >= len(q) {
			break
		}
		if r := c + 1; r < len(q) && q[r].before(&q[c]) {
			c = r
		}
		if !q[c].before(&it) {
			break
		}
		q[i] = q[c]
		i = c
	}
	q[i] = it
}
