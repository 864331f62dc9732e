package ngxtasks_test

import (
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkTimerFireMetrics is BenchmarkTimerFire without and with a
// metrics collector watching the manager, in one run, so that benchstat
// -col /collector gives the collector's share of a firing.
func BenchmarkTimerFireMetrics(b *testing.B) {
	b.Run("collector=none", func(b *testing.B) { ngxtasks.BenchTimerFire(b, nil) })
	b.Run("collector=watch", func(b *testing.B) {
		ngxtasks.BenchTimerFire(b, func(m *ngxtasks.Manager) { b.Cleanup(m.Watch(func(*ngxtasks.Event) {})) })
	})
	b.Run("collector=on", func(b *testing.B) {
		ngxtasks.BenchTimerFire(b, func(m *ngxtasks.Manager) {
			c, err := metrics.New(m)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			prometheus.NewRegistry().MustRegister(c)
		})
	})
}
