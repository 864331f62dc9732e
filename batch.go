package ngxtasks

import (
	"sync"
	"sync/atomic"
)

// A batch runs the turns that one tick of the timer loop took, on as few
// goroutines as keep it moving. Each worker takes the next turn and, if it
// was the last spare (not inside a callback), first starts another worker,
// so a callback that blocks never holds up the rest of the batch; fast
// callbacks are run one after another on the same goroutine. That spares
// the loop starting one goroutine per turn, which at 100,000 rules due at
// once is what made runs late.
//
// When the dictionary takes batches, the batch's Preemption turns are
// settled in one round trip while its Normal turns already run: Normal
// rules never touch the dictionary, so they never wait for it.
//
// Batches are reused once their last worker is gone: at 100,000 rules on
// one boundary, fresh ones were megabytes of garbage a second, and the
// collections they set off ran in the middle of the burst.
type batch struct {
	m        *Manager
	turns    []turn
	claimsAt int            // turns from here on are settled by one claim round trip
	claims   sync.WaitGroup // done once they are
	next     atomic.Int64   // index of the next turn to take
	spare    atomic.Int64   // workers not inside a callback
	workers  atomic.Int64   // workers not yet returned
	buf      [chunk]turn
}

// newBatch returns an idle batch whose buf the timer loop may take into.
func (m *Manager) newBatch() *batch {
	if b, ok := m.batches.Get().(*batch); ok {
		return b
	}
	return &batch{m: m}
}

// runBatch runs admitted turns, held in b.buf; it returns at once.
func (m *Manager) runBatch(b *batch, fs []turn) {
	if len(fs) == 0 {
		m.batches.Put(b)
		return
	}
	b.turns = fs
	b.claimsAt = len(fs)
	if _, ok := m.dict.(BatchAdder); ok {
		if at := normalFirst(fs); len(fs)-at > 1 {
			b.claimsAt = at
		}
	}
	b.next.Store(0)
	b.spare.Store(1)
	b.workers.Store(1)
	if b.claimsAt == len(fs) {
		go b.work()
		return
	}
	b.claims.Add(1)
	settle := func() {
		_ = m.settle(m.base, fs[b.claimsAt:], nil) // failures are reported as events
		b.claims.Done()
	}
	if b.claimsAt == 0 {
		go func() { settle(); b.work() }()
		return
	}
	go settle()
	go b.work()
}

// normalFirst moves the Normal turns to the front and returns how many
// there are.
func normalFirst(fs []turn) int {
	n := 0
	for i := range fs {
		if fs[i].e.rule.Type != Preemption {
			if i != n {
				fs[i], fs[n] = fs[n], fs[i]
			}
			n++
		}
	}
	return n
}

func (b *batch) work() {
	n := int64(len(b.turns))
	for {
		i := b.next.Add(1) - 1
		if i >= n {
			b.spare.Add(-1)
			if b.workers.Add(-1) == 0 { // no one is left to touch b
				m := b.m
				b.turns = nil
				m.batches.Put(b)
				m.retire(n)
			}
			return
		}
		if i >= int64(b.claimsAt) {
			// Still spare while waiting: no other worker is started for
			// turns that cannot go on before the claims are answered.
			b.claims.Wait()
		}
		if b.spare.Add(-1) == 0 && i+1 < n {
			b.spare.Add(1)
			b.workers.Add(1)
			go b.work()
		}
		f := b.turns[i]
		b.turns[i] = turn{} // let the entry go if it is removed meanwhile
		_ = b.m.fire(b.m.base, &f, nil)
		b.spare.Add(1)
	}
}
