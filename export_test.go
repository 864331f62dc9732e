package ngxtasks

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"
)

// BenchTimerFire is the body of BenchmarkTimerFire, the timer loop's cost
// per firing: taking due rules from the queue, starting each on its
// goroutine, running a no-op callback and recording it. One op is one
// firing. attach, when not nil, is given the manager after its rules are
// pushed and before the timer runs (a watcher, say). The metrics module
// measures its own cost on the public API (metrics.BenchmarkFireMetrics).
func BenchTimerFire(b *testing.B, attach func(*Manager)) {
	for _, n := range []int{10000, 100000} {
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
			if attach != nil {
				attach(m)
			}
			fired := 0
			b.ReportAllocs()
			b.ResetTimer()
			for fired < b.N {
				clock.t = clock.t.Add(time.Millisecond) // one tick of the loop
				for {                                   // as Start does
					n, _ := m.step(m.base, DriveTimer, clock.t, nil, chunk)
					fired += n
					if n < chunk {
						break
					}
				}
			}
			for m.inflight.Load() > 0 {
				time.Sleep(10 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fired), "ns/firing")
			var skips int64
			for _, st := range m.Stats() {
				skips += st.Skips
			}
			// Firings the benchmark's clock outruns can be skipped as
			// overlaps, which cost less than runs: the cost of a run is
			// the figure to compare across versions.
			b.ReportMetric(float64(skips)/float64(fired), "skips/firing")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fired-int(skips)), "ns/run")
		})
	}
}
