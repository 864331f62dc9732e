package ngxtasks_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestWatchersGetEveryEventUntilTheyStop: every watcher gets every event,
// with the Observer, until it stops watching; watching and stopping race
// safely with events.
func TestWatchersGetEveryEventUntilTheyStop(t *testing.T) {
	clock := newFakeClock(t0)
	var observed atomic.Int64
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet(), Observer: func(ngxtasks.Event) { observed.Add(1) }}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); err != nil {
		t.Fatal(err)
	}
	var first, second atomic.Int64
	var kinds [8]atomic.Int64
	stopFirst := m.Watch(func(ev *ngxtasks.Event) { first.Add(1); kinds[ev.Kind].Add(1) })
	stopSecond := m.Watch(func(*ngxtasks.Event) { second.Add(1) })
	step := func() {
		_ = m.Run(context.Background())
		clock.Add(time.Second)
	}
	step() // fired, finished
	stopFirst()
	step()
	stopSecond()
	stopSecond() // a second stop does nothing
	step()
	if first.Load() != 2 || second.Load() != 4 || observed.Load() != 6 {
		t.Fatalf("first watcher %d events (want 2), second %d (want 4), Observer %d (want 6)", first.Load(), second.Load(), observed.Load())
	}
	if kinds[ngxtasks.EventFired].Load() != 1 || kinds[ngxtasks.EventFinished].Load() != 1 {
		t.Fatalf("kinds seen: fired %d, finished %d", kinds[ngxtasks.EventFired].Load(), kinds[ngxtasks.EventFinished].Load())
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			stop := m.Watch(func(*ngxtasks.Event) {})
			stop()
		}
	}()
	for range 200 {
		step()
	}
	<-done
}
