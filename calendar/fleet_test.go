package calendar_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/calendar"
)

// zonedClock is the fleet's one fake instant, read in a worker's own zone:
// a worker whose TZ differs sees other wall clocks, the same instants.
type zonedClock struct {
	ns  *atomic.Int64
	loc *time.Location
}

func (c zonedClock) Now() time.Time { return time.Unix(0, c.ns.Load()).In(c.loc) }

// TestFleetAcrossBothChangesRunsEachSlotOnceWhereTheTableSays: four
// workers whose clocks read in four zones share a dictionary and run
// Preemption rules on Europe/Berlin calendars, each parsing its own copy
// as separate processes would, through the night of each daylight-saving
// change of 2027, a minute at a time: every slot runs exactly once in the
// fleet, none is missed, and the fixed times run where the table says.
func TestFleetAcrossBothChangesRunsEachSlotOnceWhereTheTableSays(t *testing.T) {
	rules := []struct {
		id, spec string
		o        calendar.Options
	}{
		{"fixed", "30 2 * * *", calendar.Options{Zone: "Europe/Berlin"}},
		{"skip", "30 2 * * *", calendar.Options{Zone: "Europe/Berlin", Gap: calendar.SkipGap}},
		{"both", "30 2 * * *", calendar.Options{Zone: "Europe/Berlin", Repeat: calendar.BothPasses}},
		{"last", "30 2 * * *", calendar.Options{Zone: "Europe/Berlin", Repeat: calendar.LastPass}},
		{"quarter", "*/15 * * * *", calendar.Options{Zone: "Europe/Berlin"}},
		{"hourly", "@hourly", calendar.Options{Zone: "Europe/Berlin"}},
	}
	// The runs of the fixed-time rules, UTC, written out: spring skips
	// 02:00–03:00 CET on 28 March, autumn repeats 02:00–03:00 on 31 October.
	utc := func(s string) time.Time { t, _ := time.Parse("2006-01-02 15:04", s); return t }
	table := map[string][]time.Time{
		"fixed": {utc("2027-03-27 01:30"), utc("2027-03-28 01:00"), utc("2027-03-29 00:30"), utc("2027-10-30 00:30"), utc("2027-10-31 00:30"), utc("2027-11-01 01:30")},
		"skip":  {utc("2027-03-27 01:30"), utc("2027-03-29 00:30"), utc("2027-10-30 00:30"), utc("2027-10-31 00:30"), utc("2027-11-01 01:30")},
		"both":  {utc("2027-03-27 01:30"), utc("2027-03-28 01:00"), utc("2027-03-29 00:30"), utc("2027-10-30 00:30"), utc("2027-10-31 00:30"), utc("2027-10-31 01:30"), utc("2027-11-01 01:30")},
		"last":  {utc("2027-03-27 01:30"), utc("2027-03-28 01:00"), utc("2027-03-29 00:30"), utc("2027-10-30 00:30"), utc("2027-10-31 01:30"), utc("2027-11-01 01:30")},
	}
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"}
	nights := [][2]time.Time{
		{utc("2027-03-26 22:00"), utc("2027-03-29 06:00")},
		{utc("2027-10-29 22:00"), utc("2027-11-01 06:00")},
	}
	checked := 0
	for _, night := range nights {
		var now atomic.Int64
		now.Store(night[0].UnixNano())
		d := &ngxtasks.MemoryDict{Clock: zonedClock{&now, time.UTC}}
		var mu sync.Mutex
		ran := map[string]map[int64][]time.Time{} // rule → slot N → when it ran
		var ms []*ngxtasks.Manager
		for i, z := range zones {
			loc, err := time.LoadLocation(z)
			if err != nil {
				t.Fatal(err)
			}
			m := &ngxtasks.Manager{Dict: d, Clock: zonedClock{&now, loc}, Worker: fmt.Sprintf("w%d-%s", i, z),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			for _, r := range rules {
				s, err := calendar.Parse(r.spec, r.o)
				if err != nil {
					t.Fatal(err)
				}
				err = m.Push(ngxtasks.Rule{Identifier: r.id, Schedule: s, Type: ngxtasks.Preemption,
					Callback: func(_ context.Context, f ngxtasks.Firing) error {
						mu.Lock()
						defer mu.Unlock()
						if ran[f.Rule.Identifier] == nil {
							ran[f.Rule.Identifier] = map[int64][]time.Time{}
						}
						ran[f.Rule.Identifier][f.Slot.N] = append(ran[f.Rule.Identifier][f.Slot.N], time.Unix(0, now.Load()))
						return nil
					}})
				if err != nil {
					t.Fatal(err)
				}
			}
			ms = append(ms, m)
		}
		for now.Load() < night[1].UnixNano() {
			var wg sync.WaitGroup
			for _, m := range ms {
				wg.Go(func() {
					if err := m.Run(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			now.Add(int64(time.Minute))
		}
		for _, m := range ms {
			_ = m.Shutdown(context.Background())
		}
		// Every occurrence after the first minute, up to the last, ran once,
		// at its start (the fleet steps a minute at a time).
		for _, r := range rules {
			s, _ := calendar.Parse(r.spec, r.o)
			var want []time.Time
			for o := s.Next(night[0]); o.At.Before(night[1]); o = s.Next(o.At) {
				want = append(want, o.At)
				runs := ran[r.id][o.ID()]
				if len(runs) != 1 || !runs[0].Equal(o.At) {
					t.Errorf("%s: the slot of %v (wall %v, pass %d) ran at %v, want once at its start", r.id, o.At.UTC(), o.Wall.Format("15:04"), o.Pass, runs)
				}
			}
			checked += len(want)
			if len(ran[r.id]) != len(want) {
				t.Errorf("%s: %d slots ran, want %d", r.id, len(ran[r.id]), len(want))
			}
			if tab, ok := table[r.id]; ok {
				var in []time.Time
				for _, at := range tab {
					if !at.Before(night[0]) && at.Before(night[1]) {
						in = append(in, at)
					}
				}
				if !slices.EqualFunc(in, want, time.Time.Equal) {
					t.Errorf("%s: runs at %v, the table says %v", r.id, want, in)
				}
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d slots checked", checked)
	}
	t.Logf("%d slots checked, each ran once at its start in a fleet of workers in %v", checked, zones)
}
