package rulefile

import (
	"context"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestScheduleRulesCarryTheirCalendarToCore: schedule:, zone:, the DST
// choices, jitter: and catch_up: reach the Manager's rule; the slots are
// the calendar's in its zone, moved by the jitter, and a change of zone or
// policy changes the rule's fingerprint, so a reload replaces the rule.
func TestScheduleRulesCarryTheirCalendarToCore(t *testing.T) {
	const src = "rules:\n" +
		"  - {id: a, schedule: '30 2 * * 1-5', zone: Europe/Berlin, type: preemption, catch_up: 1h, exec: {argv: [true]}}\n" +
		"  - {id: b, schedule: '30 2 * * 1-5', zone: Europe/Berlin, gap: skip, repeat: both, type: normal, exec: {argv: [true]}}\n" +
		"  - {id: c, schedule: '@daily', jitter: 10m, type: normal, exec: {argv: [true]}}\n" +
		"  - {id: d, schedule: '30 2 * * 1-5', zone: Europe/London, type: preemption, catch_up: 1h, exec: {argv: [true]}}\n"
	f, err := Parse("/etc/ngxtasks/rules.yaml", []byte(src), Env{})
	if err != nil {
		t.Fatal(err)
	}
	cores := map[string]ngxtasks.Rule{}
	for _, r := range f.Rules {
		c := r.Core()
		c.Callback = func(context.Context, ngxtasks.Firing) error { return nil }
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		cores[r.ID] = c
	}
	monday := time.Date(2027, 3, 22, 12, 0, 0, 0, time.UTC) // a Monday
	next := cores["a"].Schedule.Slot(monday).End
	if want := time.Date(2027, 3, 23, 1, 30, 0, 0, time.UTC); !next.Equal(want) { // 02:30 CET
		t.Errorf("a: next slot at %v, want %v", next, want)
	}
	if cores["a"].CatchUp != time.Hour || cores["a"].Interval != 0 {
		t.Errorf("a: CatchUp %v, Interval %v", cores["a"].CatchUp, cores["a"].Interval)
	}
	day := time.Date(2027, 3, 22, 0, 0, 0, 0, time.UTC)
	s := cores["c"].Schedule.Slot(day.Add(11 * time.Minute))
	if s.Start.Before(day) || !s.Start.Before(day.Add(10*time.Minute)) {
		t.Errorf("c: the slot of 00:11 starts at %v, want within 10 minutes of midnight", s.Start)
	}
	for _, change := range []string{"zone: Europe/London", "zone: Europe/Berlin, gap: skip", "zone: Europe/Berlin, catch_up: 2h", "zone: Europe/Berlin, jitter: 1s"} {
		other := "rules:\n  - {id: a, schedule: '30 2 * * 1-5', " + change + ", type: preemption, catch_up: 1h, exec: {argv: [true]}}\n"
		if change == "zone: Europe/Berlin, catch_up: 2h" {
			other = "rules:\n  - {id: a, schedule: '30 2 * * 1-5', zone: Europe/Berlin, type: preemption, catch_up: 2h, exec: {argv: [true]}}\n"
		}
		g, err := Parse("/etc/ngxtasks/rules.yaml", []byte(other), Env{})
		if err != nil {
			t.Fatal(err)
		}
		if g.Rules[0].Fingerprint == f.Rules[0].Fingerprint {
			t.Errorf("%s does not change the fingerprint", change)
		}
	}
	if got := cores["b"].Schedule.String(); got == cores["a"].Schedule.String() {
		t.Errorf("b's policies are not in its schedule's text %q", got)
	}
}

// TestRulesWrittenAlikeShareTheirSchedule: rules whose schedule, zone and
// policies are written alike share one parsed Schedule (whose memo of the
// last slot then serves them all); any difference parses another.
func TestRulesWrittenAlikeShareTheirSchedule(t *testing.T) {
	const src = "rules:\n" +
		"  - {id: a, schedule: '* * * * *', zone: Europe/Berlin, type: normal, exec: {argv: [true]}}\n" +
		"  - {id: b, schedule: '* * * * *', zone: Europe/Berlin, type: preemption, exec: {argv: [true]}}\n" +
		"  - {id: c, schedule: '* * * * *', zone: Europe/Berlin, gap: skip, type: normal, exec: {argv: [true]}}\n" +
		"  - {id: d, schedule: '* * * * *', type: normal, exec: {argv: [true]}}\n" +
		"  - {id: e, schedule: '* * * * *', zone: Europe/Berlin, jitter: 10s, type: normal, exec: {argv: [true]}}\n"
	f, err := Parse("/etc/ngxtasks/rules.yaml", []byte(src), Env{})
	if err != nil {
		t.Fatal(err)
	}
	s := map[string]any{}
	for _, r := range f.Rules {
		s[r.ID] = r.Schedule
	}
	if s["a"] != s["b"] {
		t.Error("a and b, written alike, do not share their schedule")
	}
	if s["a"] == s["c"] || s["a"] == s["d"] || s["c"] == s["d"] {
		t.Error("rules whose schedules differ share one")
	}
	if s["e"] != s["a"] {
		t.Error("e, jittered, does not share the schedule its jitter moves")
	}
}
