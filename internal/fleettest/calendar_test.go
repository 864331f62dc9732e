package fleettest_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/calendar"
	"github.com/ngxtasks/ngxtasks/internal/fleettest"
)

// TestCalendarAcrossProcessesInManyZonesThroughBothChanges: four worker
// processes, each with its own TZ (Berlin, New York, Kolkata, Lord Howe),
// on a fake clock that the fleet shares, set to half a minute before a
// daylight-saving change of Europe/Berlin in 2027 (spring forward, then
// fall back), run Preemption rules on Berlin calendars with seconds: every
// slot runs exactly once in the fleet, none is missed, none runs before it
// begins, and the fixed times run where the table says. On SQLite and on
// Redis.
func TestCalendarAcrossProcessesInManyZonesThroughBothChanges(t *testing.T) {
	berlin := func(id, spec string, o calendar.Options) fleettest.CalendarRule {
		o.Zone = "Europe/Berlin"
		return fleettest.CalendarRule{ID: id, Spec: spec, Options: o}
	}
	utc := func(s string) time.Time { at, _ := time.Parse("2006-01-02 15:04:05", s); return at }
	cadence := []fleettest.CalendarRule{
		berlin("every-2s", "*/2 * * * * *", calendar.Options{}), // keeps its rhythm through the change
		berlin("every-minute", "0 * * * * *", calendar.Options{}),
		berlin("hourly", "@hourly", calendar.Options{}),
		{ID: "every-5s-new-york", Spec: "*/5 * * * * *", Options: calendar.Options{Zone: "America/New_York"}}, // no change there
	}
	type change struct {
		name  string
		at    time.Time                              // the change, UTC
		fixed map[fleettest.CalendarRule][]time.Time // fixed-time rules and their runs near the change (those the fleet drove through are checked)
	}
	changes := []change{
		{"spring", utc("2027-03-28 01:00:00"), map[fleettest.CalendarRule][]time.Time{ // 02:00 CET is 03:00 CEST
			berlin("before", "50 59 1 * * *", calendar.Options{}):                              {utc("2027-03-28 00:59:50")},
			berlin("in-gap", "10 30 2 * * *", calendar.Options{}):                              {utc("2027-03-28 01:00:00")}, // in the gap: at the change
			berlin("in-gap-skipped", "10 30 2 * * *", calendar.Options{Gap: calendar.SkipGap}): nil,
			berlin("merged", "0 */20 2-3 * * *", calendar.Options{}):                           {utc("2027-03-28 01:00:00")}, // 02:00, 02:20, 02:40 and 03:00 merged
			berlin("after", "10 0 3 * * *", calendar.Options{}):                                {utc("2027-03-28 01:00:10")},
		}},
		{"autumn", utc("2027-10-31 01:00:00"), map[fleettest.CalendarRule][]time.Time{ // 03:00 CEST is 02:00 CET
			berlin("first-pass", "10,50 0,59 2 * * *", calendar.Options{}):                             {utc("2027-10-31 00:59:50")},                             // 02:59:50 CEST
			berlin("last-pass", "10,50 0,59 2 * * *", calendar.Options{Repeat: calendar.LastPass}):     {utc("2027-10-31 01:00:10"), utc("2027-10-31 01:00:50")}, // 02:00:10 and 02:00:50 CET
			berlin("both-passes", "10,50 0,59 2 * * *", calendar.Options{Repeat: calendar.BothPasses}): {utc("2027-10-31 00:59:50"), utc("2027-10-31 01:00:10"), utc("2027-10-31 01:00:50")},
			berlin("after", "10 0 3 * * *", calendar.Options{}):                                        nil, // an hour after the fleet stops
			berlin("before", "50 59 1 * * *", calendar.Options{Repeat: calendar.BothPasses}):           nil,
		}},
	}
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"}
	for _, b := range backends {
		if b.name != "sqlite" && b.name != "redis" {
			continue
		}
		for _, ch := range changes {
			t.Run(b.name+"/"+ch.name, func(t *testing.T) {
				t.Parallel()
				rules := slices.Clone(cadence)
				for r := range ch.fixed {
					rules = append(rules, r)
				}
				cfg := fleettest.Config{Dict: url(t, b.env), Namespace: fmt.Sprintf("cal-%s-%s-%s", b.name, ch.name, time.Now().Format("150405.000")),
					Workers: 4, Zones: zones, Calendar: rules, For: 50 * time.Second,
					Shift: time.Until(ch.at.Add(-30 * time.Second))}
				res := fleettest.Run(t, cfg)
				n := res.Check(t, func(k fleettest.Key, s ngxtasks.Slot) bool { return res.StoreFailed(k, s) || res.Busy(k, s) })
				checkUnanswered(t, res, n)
				from, to := res.FirstDrive().Add(cfg.Shift), res.End.Add(cfg.Shift-time.Second)
				if !from.Before(ch.at.Add(-10*time.Second)) || to.Before(ch.at.Add(10*time.Second)) {
					t.Fatalf("the fleet drove from %v to %v (UTC): it must cover the change at %v ± 10 s", from.UTC(), to.UTC(), ch.at)
				}
				late := time.Duration(0)
				for k, ats := range res.RanAt {
					for _, at := range ats {
						if s := slotOfKey(t, cfg, k, at); at.Before(s.Start) || s.N != k.Slot {
							t.Errorf("%s: slot %d ran at %v, outside it (%v to %v, slot %d)", k.Rule, k.Slot, at.UTC(), s.Start.UTC(), s.End.UTC(), s.N)
						} else {
							late = max(late, at.Sub(s.Start))
						}
					}
				}
				every2 := cadence[0] // real time between its runs: 2 s, through the change too
				rule, _ := cfg.CalendarOf(slices.Index(cfg.Calendar, every2))
				for s := rule.Schedule.Slot(from); s.End.Before(to); s = rule.Schedule.Slot(s.End) {
					if s.End.Sub(s.Start) != 2*time.Second || s.Start.UTC().Second()%2 != 0 {
						t.Errorf("%s: a slot from %v to %v", every2.Spec, s.Start.UTC(), s.End.UTC())
					}
				}
				for r, want := range ch.fixed {
					s, err := calendar.Parse(r.Spec, r.Options)
					if err != nil {
						t.Fatal(err)
					}
					var got []time.Time
					for o := s.Next(from.Add(-time.Nanosecond)); !o.At.After(to); o = s.Next(o.At) {
						got = append(got, o.At.UTC())
						if len(res.Ran[fleettest.Key{Rule: r.ID, Slot: o.ID()}]) != 1 {
							t.Errorf("%s (%s): the occurrence at %v did not run once: %v", r.Spec, r.ID, o.At.UTC(), res.Ran[fleettest.Key{Rule: r.ID, Slot: o.ID()}])
						}
					}
					want = slices.DeleteFunc(slices.Clone(want), func(at time.Time) bool { return at.Before(from) || at.After(to) })
					if !slices.EqualFunc(got, want, time.Time.Equal) {
						t.Errorf("%s (%s): runs at %v, the table says %v", r.Spec, r.ID, got, want)
					}
				}
				t.Logf("%d slots checked from %v to %v UTC (workers in %v): each ran once, none early, the latest %v after its start; %d unanswered in time",
					n, from.UTC().Format("15:04:05.000"), to.UTC().Format("15:04:05.000"), zones, late.Round(time.Millisecond), res.Unanswered)
			})
		}
	}
}

// slotOfKey is the slot of the rule named in k that holds at.
func slotOfKey(t *testing.T, cfg fleettest.Config, k fleettest.Key, at time.Time) ngxtasks.Slot {
	t.Helper()
	for i, r := range cfg.Calendar {
		if r.ID == k.Rule {
			rule, err := cfg.CalendarOf(i)
			if err != nil {
				t.Fatal(err)
			}
			return rule.Schedule.Slot(at)
		}
	}
	t.Fatalf("no calendar rule %s", k.Rule)
	return ngxtasks.Slot{}
}
