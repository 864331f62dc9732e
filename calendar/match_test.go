package calendar

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// randField writes a random field over [lo, hi] and returns the set it
// names; star reports a field written *.
func randField(r *rand.Rand, lo, hi int) (text string, set map[int]bool, star bool) {
	set = map[int]bool{}
	span := hi - lo + 1
	switch r.IntN(6) {
	case 0:
		for v := lo; v <= hi; v++ {
			set[v] = true
		}
		return "*", set, true
	case 1:
		v := lo + r.IntN(span)
		set[v] = true
		return fmt.Sprint(v), set, false
	case 2:
		a := lo + r.IntN(span)
		b := a + r.IntN(hi-a+1)
		for v := a; v <= b; v++ {
			set[v] = true
		}
		return fmt.Sprintf("%d-%d", a, b), set, false
	case 3:
		k := 2 + r.IntN(span/2)
		for v := lo; v <= hi; v += k {
			set[v] = true
		}
		return fmt.Sprintf("*/%d", k), set, false
	case 4:
		a := lo + r.IntN(span/2)
		b := a + 2 + r.IntN(hi-a-1)
		k := 1 + r.IntN(b-a)
		for v := a; v <= b; v += k {
			set[v] = true
		}
		return fmt.Sprintf("%d-%d/%d", a, b, k), set, false
	default:
		var parts []string
		for range 1 + r.IntN(3) {
			v := lo + r.IntN(span)
			set[v] = true
			parts = append(parts, fmt.Sprint(v))
		}
		return strings.Join(parts, ","), set, false
	}
}

// naive is an expression as sets, matched through time.Time.
type naive struct {
	sec, min, hour, dom, month, dow map[int]bool
	domStar, dowStar                bool
}

func (n *naive) day(t time.Time) bool {
	if !n.month[int(t.Month())] {
		return false
	}
	dom, dow := n.dom[t.Day()], n.dow[int(t.Weekday())]
	if n.domStar || n.dowStar {
		return dom && dow
	}
	return dom || dow
}

// next scans days, then hours, minutes and seconds, for the first match at
// or after w; false if none within limit days.
func (n *naive) next(w int64, days int) (int64, bool) {
	day := time.Unix(floorDiv(w, secsPerDay)*secsPerDay, 0).UTC()
	for range days {
		if n.day(day) {
			for h := 0; h < 24; h++ {
				for m := 0; m < 60 && n.hour[h]; m++ {
					for s := 0; s < 60 && n.min[m]; s++ {
						if x := day.Unix() + int64(h*3600+m*60+s); x >= w && n.sec[s] {
							return x, true
						}
					}
				}
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return 0, false
}

func (n *naive) prev(w int64, days int) (int64, bool) {
	day := time.Unix(floorDiv(w, secsPerDay)*secsPerDay, 0).UTC()
	for range days {
		if n.day(day) {
			for h := 23; h >= 0; h-- {
				for m := 59; m >= 0 && n.hour[h]; m-- {
					for s := 59; s >= 0 && n.min[m]; s-- {
						if x := day.Unix() + int64(h*3600+m*60+s); x <= w && n.sec[s] {
							return x, true
						}
					}
				}
			}
		}
		day = day.AddDate(0, 0, -1)
	}
	return 0, false
}

// TestFieldsAgainstScan checks the bit arithmetic of the wall-time search
// against a plain scan, over random expressions read by the parser.
func TestFieldsAgainstScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const days = 3 * 366 // a scan's reach; expressions that occur later are skipped
	tried := 0
	compared := 0
	defer func() { t.Logf("%d expressions, %d comparisons", tried, compared) }()
	for tried < 400 {
		var n naive
		var text [6]string
		bounds := [6][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}}
		sets := [6]*map[int]bool{&n.sec, &n.min, &n.hour, &n.dom, &n.month, &n.dow}
		for i, b := range bounds {
			var star bool
			text[i], *sets[i], star = randField(r, b[0], b[1])
			switch i {
			case 0:
				if r.IntN(3) > 0 { // seconds mostly 0, as five fields have them
					text[0], n.sec = "0", map[int]bool{0: true}
				}
			case 3:
				n.domStar = star
			case 5:
				n.dowStar = star
			}
		}
		spec := strings.Join(text[:], " ")
		s, err := Parse(spec, Options{})
		if err != nil {
			if !strings.Contains(err.Error(), "never occurs") {
				t.Fatalf("Parse(%q): %v", spec, err)
			}
			continue
		}
		tried++
		for range 4 {
			w := time.Date(2000+r.IntN(100), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC).Unix()
			want, ok := n.next(w, days)
			if ok {
				compared++
				got, gok := s.f.next(w, w+days*secsPerDay)
				if !gok || got != want {
					t.Errorf("%q: next(%v) = %v, %v; want %v", spec, wall(w), wall(got), gok, wall(want))
				}
				if !s.f.matches(want) {
					t.Errorf("%q: %v does not match", spec, wall(want))
				}
			}
			want, ok = n.prev(w, days)
			if ok {
				compared++
				got, gok := s.f.prev(w, w-days*secsPerDay)
				if !gok || got != want {
					t.Errorf("%q: prev(%v) = %v, %v; want %v", spec, wall(w), wall(got), gok, wall(want))
				}
			}
		}
	}
}

func wall(w int64) string { return time.Unix(w, 0).UTC().Format("2006-01-02T15:04:05 Mon") }
