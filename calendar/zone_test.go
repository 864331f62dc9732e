package calendar

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// ruleZones are zones as their TZ rule strings alone describe them from
// 1970 on: the tz data Go embeds (time/tzdata, $GOROOT/lib/time) lists no
// changes after a zone's last change of rules, so its future is read from
// that string, where ZoneBounds has had bugs the full data on most Linux
// systems never meets (go.dev/issue/81583).
var ruleZones = []struct {
	name, rule string
	std        int32 // the standard offset, in seconds
}{
	{"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", 3600},
	{"Europe/Dublin", "IST-1GMT0,M10.5.0,M3.5.0/1", 3600},
	{"America/New_York", "EST5EDT,M3.2.0,M11.1.0", -18000},
	{"America/Havana", "CST5CDT,M3.2.0/0,M11.1.0/1", -18000},
	{"America/Santiago", "<-04>4<-03>,M9.1.6/24,M4.1.6/24", -14400},
	{"Australia/Lord_Howe", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 37800},
	{"Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3", 36000},
	{"Pacific/Chatham", "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 45900},
	{"Antarctica/Troll", "<+00>0<+02>-2,M3.5.0/1,M10.5.0/3", 0},
}

// ruleOnly returns a zone with one listed change, at the epoch, to the
// standard offset, and the rule string for everything after: a TZif file
// of version 2 (RFC 8536) written out.
func ruleOnly(t *testing.T, name, rule string, std int32) *time.Location {
	var b bytes.Buffer
	be := func(v any) { _ = binary.Write(&b, binary.BigEndian, v) }
	for _, long := range []bool{false, true} {
		b.WriteString("TZif2")
		b.Write(make([]byte, 15))
		be([6]uint32{0, 0, 0, 1, 1, 4}) // UT and standard indicators, leap seconds, changes, types, name bytes
		if long {
			be(int64(0))
		} else {
			be(int32(0))
		}
		b.WriteByte(0)        // the change's type
		be(std)               // the type: offset,
		b.Write([]byte{0, 0}) // not DST, name at 0
		b.WriteString("STD\x00")
	}
	b.WriteString("\n" + rule + "\n")
	loc, err := time.LoadLocationFromTZData(name, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestRuleOnlyZones checks the ten-year properties in zones read from
// their rule strings, and that they give the same occurrences as the
// zones loaded from the tz data.
func TestRuleOnlyZones(t *testing.T) {
	specs := []specOptions{
		{"30 2 * * *", Options{}},
		{"0 0 * * *", Options{Repeat: LastPass}},
		{"0 */6 * * *", Options{}},
		{"*/30 0-3 * 3,4,9,10,11 *", Options{Gap: SkipGap, Repeat: BothPasses}},
	}
	for _, z := range ruleZones {
		t.Run(z.name, func(t *testing.T) {
			rule := ruleOnly(t, z.name, z.rule, z.std)
			for _, c := range specs {
				c.o.Zone = z.name
				full, err := Parse(c.spec, c.o)
				if err != nil {
					t.Fatal(err)
				}
				s := full.withZone(newZone(rule, tableAnchor-tableBefore, tableAnchor+tableAfter))
				walk(t, s, propertyFrom, propertyTo)
				a, b := full.Next(propertyFrom), s.Next(propertyFrom)
				for a.At.Before(propertyTo) {
					if !a.At.Equal(b.At) || a.ID() != b.ID() {
						t.Fatalf("%v: from the tz data %v (%d), from the rule %v (%d)", full, a.At, a.ID(), b.At, b.ID())
					}
					a, b = full.Next(a.At), s.Next(b.At)
				}
			}
		})
	}
}

// TestLeapYearEnd is go.dev/issue/81583's case: the last day of a leap
// year, in a zone read from its rule string.
func TestLeapYearEnd(t *testing.T) {
	rule := ruleOnly(t, "Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", 3600)
	s, err := Parse("@hourly", Options{Zone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2028, 12, 31, 12, 30, 0, 0, time.UTC)
	for _, z := range []zone{{loc: rule}, newZone(rule, at.Unix()-tableBefore, at.Unix()+tableAfter)} {
		s.z = z
		leapYearEnd(t, s, at)
	}
}

func leapYearEnd(t *testing.T, s *Schedule, at time.Time) {
	t.Helper()
	sl := s.Slot(at)
	if want := "2028-12-31T13:00:00@Europe/Berlin"; s.SlotName(sl) != want || !sl.Start.Equal(at.Add(-30*time.Minute)) || sl.End.Sub(sl.Start) != time.Hour {
		t.Errorf("Slot(%v) = %v %s, want the hour from 12:00Z, %s", at, sl, s.SlotName(sl), want)
	}
	if o := s.Next(time.Date(2028, 12, 31, 23, 30, 0, 0, time.UTC)); o.At.UTC() != time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("Next at the year's end = %v", o.At)
	}
	// A search from that day past the next change must see the change.
	july, err := Parse("0 12 1 7 *", Options{Zone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	july.z = s.z
	if o := july.Next(at); o.At.UTC() != time.Date(2029, 7, 1, 10, 0, 0, 0, time.UTC) {
		t.Errorf("Next(%v) = %v, want 2029-07-01T12:00+02:00", at, o.At)
	}
}

// TestZoneTable checks that a zone's table is contiguous, that each span
// has the zone's offset throughout, and that a span from the table and one
// from the location agree.
func TestZoneTable(t *testing.T) {
	from, to := propertyFrom.Unix(), propertyTo.Unix()
	offAt := func(loc *time.Location, u int64) int64 {
		_, o := time.Unix(u, 0).In(loc).Zone()
		return int64(o)
	}
	for _, name := range propertyZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		z := newZone(loc, from, to)
		if len(z.table) == 0 || len(z.table) > tableSpans {
			t.Fatalf("%s: %d spans", name, len(z.table))
		}
		for i, p := range z.table {
			if i > 0 && p.start != z.table[i-1].end {
				t.Errorf("%s: span %d starts at %d, the one before ends at %d", name, i, p.start, z.table[i-1].end)
			}
			for _, u := range []int64{max(p.start, farPast/2), min(p.end, farFuture/2) - 1} {
				if o := offAt(loc, u); o != p.off {
					t.Errorf("%s: span %d has offset %d, the zone %d at %d", name, i, p.off, o, u)
				}
			}
		}
		for u := from - 400*secsPerDay; u < to+400*secsPerDay; u += 3 * 3607 {
			p, q := z.at(u), spanAt(loc, u)
			if p.off != q.off || p.start > u || u >= p.end || q.start > u || u >= q.end {
				t.Fatalf("%s at %d: table %+v, location %+v", name, u, p, q)
			}
		}
	}
}

// TestSlotMemoAgreesUnderConcurrentUse: goroutines asking one Schedule for
// the slots of instants at random, across a daylight-saving change, get
// from its memo what the search finds.
func TestSlotMemoAgreesUnderConcurrentUse(t *testing.T) {
	s, err := Parse("*/7 * * * * *", Options{Zone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2027, 10, 31, 0, 59, 0, 0, time.UTC).Unix()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 7))
			for range 20000 {
				b := from + rnd.Int64N(120)
				got := s.Slot(time.Unix(b, int64(rnd.IntN(1e9))))
				n, start, end, ok := s.slot(b)
				if !ok || got.N != n || got.Start.Unix() != start || got.End.Unix() != end {
					t.Errorf("at %d: Slot %v, the search %d %d %d", b, got, n, start, end)
					return
				}
			}
		})
	}
	wg.Wait()
}
