package calendar

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// typical are the schedules the speed goal is set for, in Europe/Berlin.
var typical = []struct{ name, spec string }{
	{"weekdays", "0 2 * * 1-5"},
	{"quarter", "*/15 * * * *"},
	{"daily", "@daily"},
	{"yearly", "0 0 1 1 *"},
}

// benchAnchor stands for the time of Parse, fixed so that the figures do
// not depend on the day they are taken.
var benchAnchor = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// instants are spread over the four years of the zone's table, so a call
// may be near a change of offset as often as the calendar has them.
func instants() []time.Time {
	r := rand.New(rand.NewPCG(3, 4))
	from := benchAnchor - tableBefore + secsPerDay
	ts := make([]time.Time, 1024)
	for i := range ts {
		ts[i] = time.Unix(from+r.Int64N(tableBefore+tableAfter-2*secsPerDay), r.Int64N(1e9))
	}
	return ts
}

var sinkOcc Occurrence

func benchSchedules(b *testing.B, f func(b *testing.B, s *Schedule, ts []time.Time)) {
	ts := instants()
	for _, c := range typical {
		s, err := parse(c.spec, Options{Zone: "Europe/Berlin"}, benchAnchor)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			f(b, s, ts)
		})
	}
}

func BenchmarkNext(b *testing.B) {
	benchSchedules(b, func(b *testing.B, s *Schedule, ts []time.Time) {
		i := 0
		for b.Loop() {
			sinkOcc = s.Next(ts[i&1023])
			i++
		}
	})
}

// BenchmarkNextUntabled is BenchmarkNext with every span from the
// location, as for instants outside the table.
func BenchmarkNextUntabled(b *testing.B) {
	benchSchedules(b, func(b *testing.B, s *Schedule, ts []time.Time) {
		z := s.z
		z.table = nil
		u := s.withZone(z)
		i := 0
		for b.Loop() {
			sinkOcc = u.Next(ts[i&1023])
			i++
		}
	})
}

func BenchmarkPrev(b *testing.B) {
	benchSchedules(b, func(b *testing.B, s *Schedule, ts []time.Time) {
		i := 0
		for b.Loop() {
			sinkOcc = s.Prev(ts[i&1023])
			i++
		}
	})
}

func BenchmarkSlot(b *testing.B) {
	benchSchedules(b, func(b *testing.B, s *Schedule, ts []time.Time) {
		i := 0
		for b.Loop() {
			sl := s.Slot(ts[i&1023])
			sinkOcc.At = sl.End
			i++
		}
	})
}

// BenchmarkNextAtChange calls Next within an hour before Berlin's changes,
// where the wall times near the edge of a span are checked against the
// spans around it.
func BenchmarkNextAtChange(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	var ts []time.Time
	for _, c := range changes(loc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		ts = append(ts, c.Add(-50*time.Minute))
	}
	for _, spec := range []string{"30 2 * * *", "*/15 * * * *"} {
		s, err := parse(spec, Options{Zone: "Europe/Berlin"}, benchAnchor)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				sinkOcc = s.Next(ts[i%len(ts)])
				i++
			}
		})
	}
}

// TestConcurrentUse has goroutines share one Schedule; with -race it
// proves the calls read it only.
func TestConcurrentUse(t *testing.T) {
	s, err := Parse("*/15 * * * *", Options{Zone: "Australia/Lord_Howe"})
	if err != nil {
		t.Fatal(err)
	}
	ts := instants()[:200]
	want := make([]Occurrence, len(ts))
	for i, at := range ts {
		want[i] = s.Next(at)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, at := range ts {
				if o := s.Next(at); !sameOcc(o, want[i]) {
					t.Errorf("Next(%v) = %v, want %v", at, o, want[i])
				}
				s.Slot(at)
			}
		})
	}
	wg.Wait()
}
