package metrics_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkFireMetrics is the cost of a firing without and with a metrics
// collector watching the manager, in one run, so that benchstat -col
// /collector gives the collector's share of a firing.
//
// It was BenchmarkTimerFireMetrics in the root module, on the body of the
// core's BenchmarkTimerFire, which drives the timer loop's unexported
// dispatch. This module sees only the core's API, so the manager is driven
// by Run and its rules are Background, each run on its own goroutine as the
// timer loop runs them: the same firing path (events, watchers, the
// collector's histograms on both cores), not the same loop. Its figures
// are not comparable with TimerFireMetrics's.
func BenchmarkFireMetrics(b *testing.B) {
	b.Run("collector=none", func(b *testing.B) { benchFire(b, nil) })
	b.Run("collector=watch", func(b *testing.B) {
		benchFire(b, func(m *ngxtasks.Manager) { b.Cleanup(m.Watch(func(*ngxtasks.Event) {})) })
	})
	b.Run("collector=on", func(b *testing.B) {
		benchFire(b, func(m *ngxtasks.Manager) {
			c, err := metrics.New(m)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			prometheus.NewRegistry().MustRegister(c)
		})
	})
}

// benchFire runs n spread rules of one second, stepping the clock by a
// millisecond and calling Run at each step: n/1000 firings a step. attach,
// when not nil, is given the manager after its rules are pushed. One op is
// one firing (about: the steps are b.N*1000/n, the firings are counted).
func benchFire(b *testing.B, attach func(*ngxtasks.Manager)) {
	const n = 10000
	b.Run("rules="+strconv.Itoa(n), func(b *testing.B) {
		clock := newFakeClock(time.Unix(1_800_000_000, 0))
		m := &ngxtasks.Manager{Clock: clock, Logger: slog.New(slog.DiscardHandler)}
		rules := make([]ngxtasks.Rule, n)
		for i := range rules {
			rules[i] = ngxtasks.Rule{Identifier: "r" + strconv.Itoa(i), Interval: time.Second, Type: ngxtasks.Normal,
				Spread: true, Background: true, Callback: func(context.Context, ngxtasks.Firing) error { return nil }}
		}
		if err := m.Push(rules...); err != nil {
			b.Fatal(err)
		}
		if attach != nil {
			attach(m)
		}
		ctx := context.Background()
		// Every rule's slot in progress is due at the first step: run
		// them all before the timer starts, and count only the firings after.
		if err := m.Run(ctx); err != nil {
			b.Fatal(err)
		}
		settled(b, m, n)
		b.ReportAllocs()
		b.ResetTimer()
		for steps := b.N*1000/n + 1; steps > 0; steps-- {
			clock.Add(time.Millisecond)
			if err := m.Run(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.Shutdown(ctx); err != nil { // waits for the runs
			b.Fatal(err)
		}
		b.StopTimer()
		var runs, skips int64
		for _, st := range m.Stats() {
			runs += st.Runs
			skips += st.Skips
		}
		runs -= n
		fired := runs + skips
		if fired == 0 {
			b.Fatal("nothing fired")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fired), "ns/firing")
		b.ReportMetric(float64(skips)/float64(fired), "skips/firing")
		if runs > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(runs), "ns/run")
		}
	})
}

// settled waits until want runs have started and ended.
func settled(b *testing.B, m *ngxtasks.Manager, want int64) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var runs, ended, skips int64
		for _, st := range m.Stats() {
			runs += st.Runs
			ended += st.Succeeded + st.Errors
			skips += st.Skips
		}
		if skips != 0 {
			b.Fatalf("%d skips before the benchmark", skips)
		}
		if runs == want && ended == want {
			return
		}
	}
	b.Fatalf("the first %d runs did not end within a minute", want)
}
