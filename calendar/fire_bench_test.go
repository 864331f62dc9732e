package calendar_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/calendar"
)

// BenchmarkFireBoundary is the cost of a firing when 10,000 rules fall due
// on one minute boundary, for rules on a one-minute interval and for rules
// on the calendar "* * * * *" in Europe/Berlin, through the same drive
// step (Run, on a clock stepped a minute at a time): what a calendar adds
// to taking and running a slot. One op is one firing.
func BenchmarkFireBoundary(b *testing.B) {
	every, err := calendar.Parse("* * * * *", calendar.Options{Zone: "Europe/Berlin"})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		rule func(r *ngxtasks.Rule)
	}{
		{"interval", func(r *ngxtasks.Rule) { r.Interval = time.Minute }},
		{"calendar", func(r *ngxtasks.Rule) { r.Schedule = every }},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 10000
			var now atomic.Int64
			now.Store(time.Date(2027, 1, 4, 9, 0, 30, 0, time.UTC).UnixNano())
			m := &ngxtasks.Manager{Clock: zonedClock{&now, time.UTC}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			rules := make([]ngxtasks.Rule, n)
			for i := range rules {
				rules[i] = ngxtasks.Rule{Identifier: "r" + strconv.Itoa(i), Type: ngxtasks.Normal,
					Callback: func(context.Context, ngxtasks.Firing) error { return nil }}
				c.rule(&rules[i])
			}
			if err := m.Push(rules...); err != nil {
				b.Fatal(err)
			}
			defer m.Shutdown(context.Background())
			fired := 0
			var st0 int64
			for _, s := range m.Stats() {
				st0 += s.Runs
			}
			b.ReportAllocs()
			b.ResetTimer()
			for fired < b.N {
				now.Add(int64(time.Minute))
				if err := m.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				fired += n
			}
			b.StopTimer()
			var runs int64
			for _, s := range m.Stats() {
				runs += s.Runs
			}
			if runs-st0 != int64(fired) {
				b.Fatalf("%d runs for %d firings", runs-st0, fired)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fired), "ns/firing")
		})
	}
}
