package calendar

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// propertyZones cover the kinds of change: an hour at 02:00 or 01:00 (EU,
// US), at midnight (Havana, Santiago, Asuncion, Cairo), half an hour (Lord
// Howe), two hours (Troll), negative DST (Dublin), Ramadan's many changes
// (Casablanca), odd offsets (St Johns, Chatham, Kathmandu), changes of
// standard offset (Almaty 2024, Asuncion 2024), and none (UTC, Kolkata,
// Tehran, Sao Paulo).
var propertyZones = []string{
	"UTC", "Europe/Berlin", "Europe/London", "Europe/Dublin", "Europe/Moscow",
	"America/New_York", "America/Los_Angeles", "America/St_Johns", "America/Havana",
	"America/Santiago", "America/Asuncion", "America/Sao_Paulo", "America/Nuuk",
	"America/Ciudad_Juarez", "Australia/Lord_Howe", "Australia/Sydney", "Australia/Adelaide",
	"Pacific/Auckland", "Pacific/Chatham", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tehran",
	"Asia/Almaty", "Asia/Gaza", "Africa/Cairo", "Africa/Casablanca", "Antarctica/Troll",
}

var (
	propertyFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	propertyTo   = time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC)
	tableAnchor  = time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

type specOptions struct {
	spec string
	o    Options
}

// TestPropertyTenYears walks every occurrence of a few schedules over ten
// years in each zone and checks the order, the identities, Prev and Next
// against each other, and that Slot finds each slot again from its start,
// from inside and from just before its end.
func TestPropertyTenYears(t *testing.T) {
	specs := []specOptions{
		{"30 2 * * *", Options{}},
		{"0 0 * * 0", Options{Gap: SkipGap, Repeat: LastPass}},
		{"0 */6 * * *", Options{}},
		{"45 1 1,15 * *", Options{Repeat: BothPasses}},
		{"*/30 0-3 * 3,4,10 *", Options{Repeat: BothPasses}},
	}
	for _, zone := range propertyZones {
		t.Run(zone, func(t *testing.T) {
			t.Parallel()
			n := 0
			for _, c := range specs {
				c.o.Zone = zone
				// The zone's table covers 2028-2031: the walk goes in and out.
				s, err := parse(c.spec, c.o, tableAnchor)
				if err != nil {
					t.Fatal(err)
				}
				n += walk(t, s, propertyFrom, propertyTo)
			}
			t.Logf("%d occurrences", n)
		})
	}
}

func walk(t *testing.T, s *Schedule, from, to time.Time) int {
	t.Helper()
	seen := map[int64]time.Time{}
	fail := 0
	bad := func(format string, a ...any) {
		t.Errorf("%v (%v, %v): %s", s, s.gap, s.repeat, fmt.Sprintf(format, a...))
		fail++
	}
	o := s.Next(from)
	for o.At.Before(to) && fail < 5 {
		n := s.Next(o.At)
		if !n.At.After(o.At) {
			bad("Next(%v) = %v, not after", o.At, n.At)
			break
		}
		if at, dup := seen[o.ID()]; dup {
			bad("identity %d of %v taken by %v", o.ID(), o.At, at)
		}
		seen[o.ID()] = o.At
		if p := s.Prev(o.At); !sameOcc(p, o) {
			bad("Prev(%v) = %+v, want %+v", o.At, p, o)
		}
		last := n.At.Add(-time.Nanosecond)
		if p := s.Prev(last); !sameOcc(p, o) {
			bad("Prev(%v) = %+v, want %+v", last, p, o)
		}
		if q := s.Next(last); !sameOcc(q, n) {
			bad("Next(%v) = %+v, want %+v", last, q, n)
		}
		want := slotOf(o, n)
		for _, at := range []time.Time{o.At, o.At.Add(n.At.Sub(o.At) / 2), last} {
			if sl := s.Slot(at); !sameSlot(sl, want) {
				bad("Slot(%v) = %v, want %v", at, sl, want)
			}
		}
		o = n
	}
	return len(seen)
}

// TestPropertyAgainstOracle compares the runs around every change of
// offset from 2024 to 2034 with those of a plain reading of the rules:
// every matching wall time, the instants whose offset makes them read it,
// then the policies.
func TestPropertyAgainstOracle(t *testing.T) {
	var specs []specOptions
	for _, spec := range []string{"30 2 * * *", "0 0 * * *", "45 1 * * *", "*/20 0-3 * * *", "30 23 * * *", "0 2,3 * * *"} {
		for _, g := range []GapPolicy{RunAtTransition, SkipGap} {
			for _, r := range []RepeatPolicy{FirstPass, LastPass, BothPasses} {
				specs = append(specs, specOptions{spec, Options{Gap: g, Repeat: r}})
			}
		}
	}
	for _, spec := range []string{"*/15 * * * *", "0 * * * *", "30 */2 * * *"} {
		specs = append(specs, specOptions{spec, Options{}})
	}
	windows, runs := 0, 0
	for _, zone := range propertyZones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range changes(loc, propertyFrom, propertyTo) {
			windows++
			from, to := tr.Add(-6*time.Hour).Unix(), tr.Add(6*time.Hour).Unix()
			for _, c := range specs {
				c.o.Zone = zone
				s, err := parse(c.spec, c.o, tableAnchor)
				if err != nil {
					t.Fatal(err)
				}
				want := oracle(s, fixedHour(c.spec), from, to)
				var got []ref
				for o := s.Next(time.Unix(from-1, 0)); o.At.Unix() <= to; o = s.Next(o.At) {
					got = append(got, ref{o.At.Unix(), o.Wall.Unix(), o.Pass, o.Merged})
				}
				runs += len(got)
				if !slices.Equal(got, want) {
					t.Errorf("%v (%v, %v) around %v:\n got  %v\n want %v", s, c.o.Gap, c.o.Repeat, tr.In(loc), got, want)
				}
			}
		}
	}
	t.Logf("%d changes of offset, %d schedules, %d runs compared", windows, len(specs), runs)
	if windows < 300 {
		t.Errorf("only %d changes of offset in the zones", windows)
	}
}

// changes returns the instants in [from, to) at which loc's offset changes.
func changes(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	for t := from.In(loc); ; {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			return out
		}
		if !end.After(t) { // go.dev/issue/81583, as in spanAt
			end = t.Truncate(24 * time.Hour).Add(24 * time.Hour)
		}
		_, a := end.Add(-time.Second).Zone()
		if _, b := end.Zone(); a != b {
			out = append(out, end)
		}
		t = end
	}
}

func fixedHour(spec string) bool {
	return !strings.ContainsAny(strings.Fields(spec)[1], "*/")
}

// A ref is an occurrence for comparison: instant, wall time, pass, merged.
type ref struct {
	at, wall     int64
	pass, merged int
}

func (r ref) String() string {
	s := time.Unix(r.at, 0).UTC().Format("01-02T15:04Z") + "/" + time.Unix(r.wall, 0).UTC().Format("01-02T15:04")
	if r.pass != 0 {
		s += fmt.Sprintf("~p%d", r.pass)
	}
	if r.merged != 0 {
		s += fmt.Sprintf("+%d", r.merged)
	}
	return s
}

// oracle returns the occurrences with instants in [from, to], found from
// the zone's offsets at single instants only.
func oracle(s *Schedule, fixed bool, from, to int64) []ref {
	offAt := func(u int64) int64 {
		_, o := time.Unix(u, 0).In(s.z.loc).Zone()
		return int64(o)
	}
	var offs []int64
	for u := from - reach; u <= to+reach; u += 900 {
		if o := offAt(u); !slices.Contains(offs, o) {
			offs = append(offs, o)
		}
	}
	minO, maxO := slices.Min(offs), slices.Max(offs)
	var out []ref
	gaps := map[int64]*ref{} // by transition
	for m := floorDiv(from+minO, 60) * 60; m <= to+maxO; m += 60 {
		for sec := int64(0); sec < 60; sec++ {
			w := m + sec
			if s.f.sec&(1<<sec) == 0 || !s.f.matches(w) {
				continue
			}
			var at []int64
			for _, o := range offs {
				if offAt(w-o) == o {
					at = append(at, w-o)
				}
			}
			slices.Sort(at)
			switch {
			case len(at) == 0:
				if !fixed || s.gap == SkipGap {
					continue
				}
				// The transition: the first instant reading past w.
				lo, hi := w-maxO, w-minO
				for lo < hi {
					if mid := lo + (hi-lo)/2; mid+offAt(mid) > w {
						hi = mid
					} else {
						lo = mid + 1
					}
				}
				if g := gaps[lo]; g != nil {
					g.merged++
				} else {
					gaps[lo] = &ref{at: lo, wall: w, merged: 1}
				}
			case len(at) == 1:
				out = append(out, ref{at: at[0], wall: w})
			case !fixed || s.repeat == BothPasses:
				for i, u := range at {
					out = append(out, ref{at: u, wall: w, pass: i + 1})
				}
			case s.repeat == FirstPass:
				out = append(out, ref{at: at[0], wall: w})
			default:
				out = append(out, ref{at: at[len(at)-1], wall: w})
			}
		}
	}
	for at, g := range gaps {
		out = slices.DeleteFunc(out, func(r ref) bool { return r.at == at })
		out = append(out, *g)
	}
	out = slices.DeleteFunc(out, func(r ref) bool { return r.at < from || r.at > to })
	slices.SortFunc(out, func(a, b ref) int { return int(a.at - b.at) })
	return out
}
