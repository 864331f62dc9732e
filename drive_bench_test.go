package ngxtasks

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"
)

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// BenchmarkTimerFire is the timer loop's cost per firing: taking due rules
// from the queue, starting each on its goroutine, running a no-op callback
// and recording it. One op is one firing. See BenchTimerFire.
func BenchmarkTimerFire(b *testing.B) {
	BenchTimerFire(b, nil)
}

// BenchmarkTakeBurst is the timer loop's share of a burst: taking 100,000
// rules due on the same boundary from the queue, in chunks, without running
// them. One op is one slot taken.
func BenchmarkTakeBurst(b *testing.B) {
	const n = 100000
	clock := &stepClock{t: time.Unix(1_800_000_000, 0)}
	m := &Manager{Clock: clock, Logger: slog.New(slog.DiscardHandler)}
	rules := make([]Rule, n)
	for i := range rules {
		rules[i] = Rule{Identifier: "r" + strconv.Itoa(i), Interval: time.Second, Type: Normal,
			Callback: func(context.Context, Firing) error { return nil }}
	}
	if err := m.Push(rules...); err != nil {
		b.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	buf := make([]turn, chunk)
	taken := 0
	b.ReportAllocs()
	b.ResetTimer()
	for taken < b.N {
		clock.t = clock.t.Add(time.Second)
		for {
			got := m.take(DriveTimer, clock.t, buf[:0], chunk)
			taken += len(got)
			if len(got) < chunk {
				break
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(taken), "ns/slot")
}
