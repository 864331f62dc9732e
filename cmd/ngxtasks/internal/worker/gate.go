package worker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// gate bounds the runs (programs, requests) going on at once in a worker.
// Without it the first step of a big file starts every rule at once —
// thousands of processes, open files by the thousand, and runs so slow
// that the next slots find them still going and are skipped as overlaps.
//
// A rule enters while fewer than its max_running runs go on, else it
// waits its turn: earliest latest-start first, so that a backlog drains
// in the order its slots end and never starves the slots after it. A run
// that cannot start by its latest start — before its slot ends — is not
// started at all, and says so.
type gate struct {
	mu      sync.Mutex
	running int
	waiting []*waiter // by latest start, earliest first
}

type waiter struct {
	limit  int
	latest time.Time
	ready  chan struct{} // closed when admitted
	in     bool          // admitted; under gate.mu
}

// errNotStarted is the error of a run that found no room in time.
type errNotStarted struct {
	running, limit int
	latest         time.Time
}

func (e *errNotStarted) Error() string {
	return fmt.Sprintf("not started: %d runs were going on in this worker (this rule's max_running is %d) until %s, the latest start in its slot",
		e.running, e.limit, e.latest.Format(time.RFC3339Nano))
}

// enter waits until fewer than limit runs go on, until latest, or until
// ctx is done, and returns how long it waited. Once it returned nil, the
// caller must call leave.
func (g *gate) enter(ctx context.Context, limit int, latest time.Time) (time.Duration, error) {
	g.mu.Lock()
	if g.running < limit {
		g.running++
		g.mu.Unlock()
		return 0, nil
	}
	w := &waiter{limit: limit, latest: latest, ready: make(chan struct{})}
	i, _ := slices.BinarySearchFunc(g.waiting, latest, func(x *waiter, t time.Time) int { return x.latest.Compare(t) })
	g.waiting = slices.Insert(g.waiting, i+countEqual(g.waiting[i:], latest), w)
	g.mu.Unlock()

	began := time.Now()
	timer := time.NewTimer(time.Until(latest))
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return time.Since(began), nil
	case <-timer.C:
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.in { // admitted as the wait ended: take it
		return time.Since(began), nil
	}
	g.waiting = slices.DeleteFunc(g.waiting, func(x *waiter) bool { return x == w })
	if err == nil {
		err = &errNotStarted{running: g.running, limit: limit, latest: latest}
	}
	return time.Since(began), err
}

// countEqual counts the leading waiters of ws whose latest start is t, so
// that equal ones keep their arrival order.
func countEqual(ws []*waiter, t time.Time) int {
	n := 0
	for n < len(ws) && ws[n].latest.Equal(t) {
		n++
	}
	return n
}

// leave ends a run that entered, admitting the first waiters that now
// fit.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	for i := 0; i < len(g.waiting); {
		w := g.waiting[i]
		if g.running >= w.limit {
			i++
			continue
		}
		g.running++
		w.in = true
		close(w.ready)
		g.waiting = slices.Delete(g.waiting, i, i+1)
	}
}

// latestStart is the last moment a run of a slot ending at end may start:
// a tenth of the interval before the end (at most a second), so that a
// run started late does not run into the next slot.
func latestStart(end time.Time, interval time.Duration) time.Time {
	return end.Add(-min(interval/10, time.Second))
}
