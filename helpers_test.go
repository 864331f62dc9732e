package ngxtasks_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// fakeClock is a settable clock for slot logic.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time                        { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration)                   { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(t time.Time)                       { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Offset(d time.Duration) ngxtasks.Clock { return offsetClock{c, d} }

// offsetClock is a worker's clock skewed from a shared fake clock.
type offsetClock struct {
	c *fakeClock
	d time.Duration
}

func (o offsetClock) Now() time.Time { return o.c.Now().Add(o.d) }

// quiet is a logger that drops everything, for tests that provoke errors.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runLog counts runs per (rule, slot) and per worker.
type runLog struct {
	mu     sync.Mutex
	runs   map[runKey]int
	byWho  map[runKey]string
	events []ngxtasks.Event
}

type runKey struct {
	rule string
	slot int64
}

func newRunLog() *runLog {
	return &runLog{runs: map[runKey]int{}, byWho: map[runKey]string{}}
}

func (l *runLog) callback(_ context.Context, f ngxtasks.Firing) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := runKey{f.Rule.Identifier, f.Slot.N}
	l.runs[k]++
	l.byWho[k] = f.Worker
	return nil
}

func (l *runLog) observe(ev ngxtasks.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

func (l *runLog) count(rule string, slot int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs[runKey{rule, slot}]
}

func (l *runLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.runs {
		n += c
	}
	return n
}

// skipped maps each (rule, slot) that a worker reported skipped to the
// reasons given: a slot missed by a starved timer loop (SkipBehind) counts
// for every slot it names. A test on the real clock asserts liveness only
// for the slots the library did not itself report skipped, with the
// reason: on a loaded machine a worker may miss a slot, but never silently.
func (l *runLog) skipped() map[runKey][]ngxtasks.SkipReason {
	out := map[runKey][]ngxtasks.SkipReason{}
	for _, ev := range l.kinds(ngxtasks.EventSkipped) {
		for n := range max(ev.Missed, 1) {
			k := runKey{ev.Rule.Identifier, ev.Slot.N + n}
			out[k] = append(out[k], ev.Reason)
		}
	}
	return out
}

func (l *runLog) kinds(kind ngxtasks.EventKind) []ngxtasks.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ngxtasks.Event
	for _, ev := range l.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func noop(context.Context, ngxtasks.Firing) error { return nil }

// shutdown stops m at the end of the test.
func shutdown(t testing.TB, m *ngxtasks.Manager) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}
