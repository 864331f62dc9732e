package ngxtasks_test

import (
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestEpochKeysSlots(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name     string
		rule     ngxtasks.Rule
		at       time.Time
		n        int64
		start    time.Time
		duration time.Duration
	}{
		{"epoch", ngxtasks.Rule{Interval: 10 * sec}, time.Unix(0, 0), 0, time.Unix(0, 0), 10 * sec},
		{"inside", ngxtasks.Rule{Interval: 10 * sec}, time.Unix(1234, 5), 123, time.Unix(1230, 0), 10 * sec},
		{"boundary belongs to next", ngxtasks.Rule{Interval: 10 * sec}, time.Unix(1240, 0), 124, time.Unix(1240, 0), 10 * sec},
		{"just before boundary", ngxtasks.Rule{Interval: 10 * sec}, time.Unix(1239, 999999999), 123, time.Unix(1230, 0), 10 * sec},
		{"before epoch floors", ngxtasks.Rule{Interval: 10 * sec}, time.Unix(-1, 0), -1, time.Unix(-10, 0), 10 * sec},
		{"sub-second", ngxtasks.Rule{Interval: 250 * time.Millisecond}, time.Unix(1, 600e6), 6, time.Unix(1, 500e6), 250 * time.Millisecond},
		{"offset", ngxtasks.Rule{Interval: 10 * sec, Offset: 3 * sec}, time.Unix(1232, 0), 122, time.Unix(1223, 0), 10 * sec},
		{"offset boundary", ngxtasks.Rule{Interval: 10 * sec, Offset: 3 * sec}, time.Unix(1233, 0), 123, time.Unix(1233, 0), 10 * sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ngxtasks.EpochKeys{}.Slot(&tt.rule, tt.at)
			if s.N != tt.n || !s.Start.Equal(tt.start) || s.End.Sub(s.Start) != tt.duration {
				t.Fatalf("Slot(%v) = %d [%v, %v), want %d [%v, +%v)", tt.at, s.N, s.Start, s.End, tt.n, tt.start, tt.duration)
			}
			if tt.at.Before(s.Start) || !tt.at.Before(s.End) {
				t.Fatalf("slot [%v, %v) does not hold %v", s.Start, s.End, tt.at)
			}
		})
	}
}

func TestEpochKeysAgreeAcrossTimeZones(t *testing.T) {
	r := ngxtasks.Rule{Identifier: "x", Interval: 7 * time.Minute}
	at := time.Date(2026, 3, 29, 1, 59, 0, 0, time.UTC)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	ny, _ := time.LoadLocation("America/New_York")
	var k ngxtasks.EpochKeys
	a, b := k.Slot(&r, at.In(tokyo)), k.Slot(&r, at.In(ny))
	if a.N != b.N || k.Name(&r, a) != k.Name(&r, b) {
		t.Fatalf("workers in Tokyo and New York disagree: %d vs %d", a.N, b.N)
	}
}

func TestSpreadPhaseIsStableAndInRange(t *testing.T) {
	seen := map[time.Duration]bool{}
	for i := range 200 {
		r := ngxtasks.Rule{Identifier: "rule-" + string(rune('a'+i%26)) + time.Duration(i).String(), Interval: time.Second, Spread: true}
		p := r.Phase()
		if p < 0 || p >= r.Interval {
			t.Fatalf("phase %v out of [0, %v)", p, r.Interval)
		}
		if q := r.Phase(); q != p {
			t.Fatalf("phase not stable: %v then %v", p, q)
		}
		seen[p/(100*time.Millisecond)] = true
		s := ngxtasks.EpochKeys{}.Slot(&r, time.Unix(1000, 0))
		if got := s.Start.Sub(time.Unix(0, 0)) % time.Second; got != p {
			t.Fatalf("slot starts at phase %v, want %v", got, p)
		}
	}
	if len(seen) < 8 {
		t.Fatalf("200 spread rules fell in only %d of 10 tenths of the interval", len(seen))
	}
	// Offset adds to the spread phase, modulo the interval.
	r := ngxtasks.Rule{Identifier: "a", Interval: time.Second, Spread: true}
	r2 := r
	r2.Offset = 300 * time.Millisecond
	if want := (r.Phase() + 300*time.Millisecond) % time.Second; r2.Phase() != want {
		t.Fatalf("offset+spread phase %v, want %v", r2.Phase(), want)
	}
}

func TestBaseTimeKeys(t *testing.T) {
	base := time.Unix(1000, 300e6)
	k := ngxtasks.BaseTimeKeys{Base: base}
	r := ngxtasks.Rule{Identifier: "DONG", Interval: time.Minute}
	s := k.Slot(&r, base.Add(150*time.Second))
	if s.N != 2 || !s.Start.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("slot %d at %v, want 2 at %v", s.N, s.Start, base.Add(2*time.Minute))
	}
	if s := k.Slot(&r, base.Add(-time.Second)); s.N != -1 {
		t.Fatalf("before base: slot %d, want -1", s.N)
	}
	if got := k.Name(&r, s); got != "DONGPreemption" {
		t.Fatalf("name %q", got)
	}
}

func TestMidnightKeysLikeTheOriginal(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	k := ngxtasks.MidnightKeys{Location: paris}
	r := ngxtasks.Rule{Identifier: "TRYDONG", Interval: 7 * time.Hour} // does not divide a day
	tests := []struct {
		at       time.Time
		n        int64
		name     string
		duration time.Duration
	}{
		{time.Date(2026, 11, 24, 0, 0, 0, 0, paris), 0, "TRYDONGPreemption.20261124", 7 * time.Hour},
		{time.Date(2026, 11, 24, 13, 59, 0, 0, paris), 1, "TRYDONGPreemption.20261124", 7 * time.Hour},
		// the last slot of the day is cut short at midnight, as in the original
		{time.Date(2026, 11, 24, 23, 59, 59, 0, paris), 3, "TRYDONGPreemption.20261124", 3 * time.Hour},
		// across midnight: slot numbers restart and the date in the name changes
		{time.Date(2026, 11, 25, 0, 0, 1, 0, paris), 0, "TRYDONGPreemption.20261125", 7 * time.Hour},
	}
	for _, tt := range tests {
		s := k.Slot(&r, tt.at)
		if s.N != tt.n || k.Name(&r, s) != tt.name || s.End.Sub(s.Start) != tt.duration {
			t.Errorf("at %v: slot %d %q len %v, want %d %q len %v", tt.at, s.N, k.Name(&r, s), s.End.Sub(s.Start), tt.n, tt.name, tt.duration)
		}
	}
	// Two workers in different time zones disagree under this scheme: the
	// reason it is not the default.
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	kt := ngxtasks.MidnightKeys{Location: tokyo}
	a, b := k.Slot(&r, at), kt.Slot(&r, at)
	if a.N == b.N && k.Name(&r, a) == kt.Name(&r, b) {
		t.Fatalf("Paris and Tokyo agree (%d), the original scheme should not", a.N)
	}
}

func TestMidnightKeysDSTDay(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	k := ngxtasks.MidnightKeys{Location: paris}
	r := ngxtasks.Rule{Identifier: "x", Interval: 5 * time.Hour}
	// 2026-03-29 has 23 hours in Paris: 5 slots, the last one 3 hours.
	s := k.Slot(&r, time.Date(2026, 3, 29, 23, 0, 0, 0, paris))
	if s.N != 4 || s.End.Sub(s.Start) != 3*time.Hour {
		t.Fatalf("last slot of a 23 h day: %d, %v", s.N, s.End.Sub(s.Start))
	}
}
