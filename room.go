package ngxtasks

import (
	"context"
	"slices"
	"sync"
	"time"
)

// room bounds the callbacks running at once (Manager.MaxRunning,
// Rule.MaxRunning). A turn enters while fewer than its limit run, or waits
// its turn: the turn with the earliest latest start first, so that a
// backlog drains in the order its slots end and never starves the slots
// after it. A turn that finds no room by its latest start gives up.
//
// It sits before the rule is marked running, so a turn waiting here is not
// in the way of the rule's next slot, which may well overtake it.
type room struct {
	mu      sync.Mutex
	running int
	waiting []*roomWaiter // by latest start, earliest first
}

type roomWaiter struct {
	limit    int
	deadline time.Time     // the latest start, on the real clock
	ready    chan struct{} // closed when let in
	in       bool          // let in; under room.mu
}

// enterRoom waits for room for f's callback. When there is none by the
// slot's latest start, or the manager shuts down meanwhile, it reports the
// skip and returns false.
//
//go:noinline
func (m *Manager) enterRoom(ctx context.Context, f *turn, limit int) bool {
	// The latest start is on the slots' clock (a store's, a test's); the
	// wait is on the real one.
	latest := f.slot.End.Add(-min(slotLen(&f.slot)/10, time.Second))
	now := time.Now()
	if m.room.enter(ctx, limit, now.Add(latest.Sub(m.onSlotClock(now)))) {
		return true
	}
	reason := SkipBusy
	if ctx.Err() != nil {
		reason = SkipClosed
	}
	m.emit(f.e, EventSkipped, &f.slot, reason, 0, nil, 0)
	return false
}

// enter waits until fewer than limit callbacks run, until deadline, or
// until ctx is done; it reports whether it got in, and then the caller
// must call leave.
func (r *room) enter(ctx context.Context, limit int, deadline time.Time) bool {
	r.mu.Lock()
	if r.running < limit {
		r.running++
		r.mu.Unlock()
		return true
	}
	w := &roomWaiter{limit: limit, deadline: deadline, ready: make(chan struct{})}
	// After the waiters with the same deadline: they came first.
	i, _ := slices.BinarySearchFunc(r.waiting, deadline, func(x *roomWaiter, t time.Time) int {
		if x.deadline.After(t) {
			return 1
		}
		return -1
	})
	r.waiting = slices.Insert(r.waiting, i, w)
	r.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-w.ready:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.in { // let in as the wait ended
		return true
	}
	r.waiting = slices.DeleteFunc(r.waiting, func(x *roomWaiter) bool { return x == w })
	return false
}

// leave ends a callback that entered, letting in the first waiters that
// now fit.
func (r *room) leave() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	for i := 0; i < len(r.waiting); {
		w := r.waiting[i]
		if r.running >= w.limit {
			i++
			continue
		}
		r.running++
		w.in = true
		close(w.ready)
		r.waiting = slices.Delete(r.waiting, i, i+1)
	}
}
