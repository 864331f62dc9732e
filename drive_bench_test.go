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
			var batch []firing
			fired := 0
			b.ReportAllocs()
			b.ResetTimer()
			for fired < b.N {
				clock.t = clock.t.Add(time.Millisecond) // one tick of the loop
				batch = m.take(clock.t, batch[:0])
				for _, f := range batch {
					if m.begin(f) {
						go m.execute(m.base, f, nil)
					}
				}
				fired += len(batch)
			}
			for m.inflight.Load() > 0 {
				time.Sleep(10 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fired), "ns/firing")
		})
	}
}
