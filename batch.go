package ngxtasks

import "sync/atomic"

// A batch runs the firings that one tick of the timer loop took, on as few
// goroutines as keep it moving. Each worker takes the next firing and, if it
// was the last spare (not inside a callback), first starts another worker,
// so a callback that blocks never holds up the rest of the batch; fast
// callbacks are run one after another on the same goroutine. That spares
// the loop starting one goroutine per firing, which at 100,000 rules due at
// once is what made runs late.
type batch struct {
	m       *Manager
	firings []firing
	next    atomic.Int64 // index of the next firing to take
	spare   atomic.Int64 // workers not inside a callback
}

// runBatch runs begun firings; it returns at once.
func (m *Manager) runBatch(fs []firing) {
	if len(fs) == 0 {
		return
	}
	b := &batch{m: m, firings: fs}
	b.spare.Store(1)
	go func() {
		m.claimBatch(fs)
		b.work()
	}()
}

func (b *batch) work() {
	n := int64(len(b.firings))
	for {
		i := b.next.Add(1) - 1
		if i >= n {
			b.spare.Add(-1)
			return
		}
		if b.spare.Add(-1) == 0 && i+1 < n {
			b.spare.Add(1)
			go b.work()
		}
		f := b.firings[i]
		b.firings[i] = firing{} // let the entry go if it is removed meanwhile
		b.m.execute(b.m.base, f, nil)
		b.spare.Add(1)
	}
}
