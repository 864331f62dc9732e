package ngxtasks

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"testing"
	"time"
)

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// BenchmarkTimerFire is the timer loop's cost per firing: taking due rules
// from the queue, starting each on its goroutine, running a no-op callback
// and recording it. One op is one firing.
func BenchmarkTimerFire(b *testing.B) {
	for _, n := range []int{10000} {
		b.Run("rules="+strconv.Itoa(n), func(b *testing.B) {
			clock := &stepClock{t: time.Unix(1_800_000_000, 0)}
			m := &Manager{Clock: clock, Logger: slog.New(slog.DiscardHandler)}
			rules := make([]Rule, n)
			for i := range rules {
				rules[i] = Rule{Identifier: "r" + strconv.Itoa(i), Interval: time.Second, Type: Normal, Spread: true,
					Callback: func(context.Context, Firing) error { return nil }}
			}
			if err := m.Push(rules...); err != nil {
				b.Fatal(err)
			}
			defer m.Shutdown(context.Background())
			fired := 0
			b.ReportAllocs()
			b.ResetTimer()
			for fired < b.N {
				clock.t = clock.t.Add(time.Millisecond) // one tick of the loop
				taken := m.take(clock.t, nil, math.MaxInt)
				begun := taken[:0]
				for _, f := range taken {
					if m.begin(f) {
						begun = append(begun, f)
					}
				}
				m.runBatch(begun)
				fired += len(taken)
			}
			for m.inflight.Load() > 0 {
				time.Sleep(10 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fired), "ns/firing")
		})
	}
}
