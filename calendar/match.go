package calendar

import (
	"math/bits"
	"time"

	cron "github.com/netresearch/go-cron"
)

const secsPerDay = 86400

// starBit is the parser's mark of a field written * or ?.
const starBit = 1 << 63

// fields are an expression's values as bitmasks, bit v for value v; wall
// times are read from them as if in UTC.
type fields struct {
	sec, min, hour  uint64
	dom, month, dow uint64 // dom bits 1-31, month bits 1-12, dow bits 0-6 (Sunday 0)
	// either: both day fields are restricted, so a day matches if either
	// does (Vixie cron); otherwise both must, and a * matches every day.
	either  bool
	domOnly bool // the day of the week is *: only the day of the month counts
}

// newFields keeps the bits of values each field can take.
func newFields(s *cron.SpecSchedule) fields {
	return fields{
		sec:     s.Second & (1<<60 - 1),
		min:     s.Minute & (1<<60 - 1),
		hour:    s.Hour & (1<<24 - 1),
		dom:     s.Dom & (1<<32 - 2),
		month:   s.Month & (1<<13 - 2),
		dow:     s.Dow & (1<<7 - 1),
		either:  s.Dom&starBit == 0 && s.Dow&starBit == 0,
		domOnly: s.Dom&starBit == 0 && s.Dow&starBit != 0,
	}
}

// occurs reports whether some day matches. Only the day of the month can
// rule out every day: each weekday comes in every month.
func (f *fields) occurs() bool {
	if !f.domOnly {
		return true
	}
	for m := 1; m <= 12; m++ {
		if f.month&(1<<m) != 0 && f.dom&(1<<(daysIn(2000, time.Month(m))+1)-1) != 0 {
			return true // 2000 is a leap year: 29 February counts
		}
	}
	return false
}

// dayOf returns the date and weekday of day n since 1970-01-01.
func dayOf(n int64) (y int, m time.Month, d int, wd int) {
	t := time.Unix(n*secsPerDay, 0).UTC()
	y, m, d = t.Date()
	return y, m, d, int(t.Weekday())
}

// dayNumber returns the number since 1970-01-01 of day d of month m of y.
func dayNumber(y int, m time.Month, d int) int64 {
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), secsPerDay)
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// nextDay returns the first matching day of a month at or after day d,
// a weekday wd, if it is at most last; 0 if none.
func (f *fields) nextDay(d, wd, last int) int {
	dom := int(above(f.dom, int64(d)))
	if dom < 0 || dom > last {
		dom = 0
	}
	dow := d + int(above(f.dow|f.dow<<7, int64(wd))) - wd // the week's mask twice: it wraps
	if dow > last {
		dow = 0
	}
	switch {
	case f.domOnly:
		return dom
	case !f.either:
		return dow
	case dom == 0 || dow != 0 && dow < dom:
		return dow
	}
	return dom
}

// prevDay returns the last matching day of a month at or before day d, a
// weekday wd; 0 if none.
func (f *fields) prevDay(d, wd int) int {
	dom := max(int(below(f.dom, int64(d))), 0)
	dow := max(d-(wd+7-int(below(f.dow|f.dow<<7, int64(wd+7)))), 0)
	switch {
	case f.domOnly:
		return dom
	case !f.either:
		return dow
	}
	return max(dom, dow)
}

// matches reports whether wall time w matches.
func (f *fields) matches(w int64) bool {
	n := floorDiv(w, secsPerDay)
	s := w - n*secsPerDay
	y, m, d, wd := dayOf(n)
	return f.month&(1<<m) != 0 && f.nextDay(d, wd, daysIn(y, m)) == d &&
		f.hour&(1<<(s/3600)) != 0 && f.min&(1<<(s/60%60)) != 0 && f.sec&(1<<(s%60)) != 0
}

// next returns the first matching wall time in [w, limit).
func (f *fields) next(w, limit int64) (int64, bool) {
	n := floorDiv(w, secsPerDay)
	s := w - n*secsPerDay
	for n*secsPerDay < limit {
		y, m, d, wd := dayOf(n)
		if f.month&(1<<m) == 0 {
			nm := above(f.month, int64(m)+1)
			if nm < 0 {
				y, nm = y+1, above(f.month, 1)
			}
			n, s = dayNumber(y, time.Month(nm), 1), 0
			continue
		}
		last := daysIn(y, m)
		dd := f.nextDay(d, wd, last)
		if dd == 0 {
			n, s = n+int64(last-d+1), 0
			continue
		}
		if dd != d {
			n, s = n+int64(dd-d), 0
		}
		if t := f.nextInDay(s); t >= 0 {
			if r := n*secsPerDay + t; r < limit {
				return r, true
			}
			return 0, false
		}
		n, s = n+1, 0
	}
	return 0, false
}

// prev returns the last matching wall time in [floor, w].
func (f *fields) prev(w, floor int64) (int64, bool) {
	n := floorDiv(w, secsPerDay)
	s := w - n*secsPerDay
	for (n+1)*secsPerDay > floor {
		y, m, d, wd := dayOf(n)
		if f.month&(1<<m) == 0 {
			pm := below(f.month, int64(m)-1)
			if pm < 0 {
				y, pm = y-1, below(f.month, 12)
			}
			n, s = dayNumber(y, time.Month(pm), daysIn(y, time.Month(pm))), secsPerDay-1
			continue
		}
		dd := f.prevDay(d, wd)
		if dd == 0 {
			n, s = n-int64(d), secsPerDay-1
			continue
		}
		if dd != d {
			n, s = n-int64(d-dd), secsPerDay-1
		}
		if t := f.prevInDay(s); t >= 0 {
			if r := n*secsPerDay + t; r >= floor {
				return r, true
			}
			return 0, false
		}
		n, s = n-1, secsPerDay-1
	}
	return 0, false
}

// nextInDay returns the first matching second of a day at or after s, or -1.
func (f *fields) nextInDay(s int64) int64 {
	h, m, sec := s/3600, s/60%60, s%60
	if f.hour&(1<<h) != 0 {
		if f.min&(1<<m) != 0 {
			if x := above(f.sec, sec); x >= 0 {
				return h*3600 + m*60 + x
			}
		}
		if x := above(f.min, m+1); x >= 0 {
			return h*3600 + x*60 + above(f.sec, 0)
		}
	}
	if x := above(f.hour, h+1); x >= 0 {
		return x*3600 + above(f.min, 0)*60 + above(f.sec, 0)
	}
	return -1
}

// prevInDay returns the last matching second of a day at or before s, or -1.
func (f *fields) prevInDay(s int64) int64 {
	h, m, sec := s/3600, s/60%60, s%60
	if f.hour&(1<<h) != 0 {
		if f.min&(1<<m) != 0 {
			if x := below(f.sec, sec); x >= 0 {
				return h*3600 + m*60 + x
			}
		}
		if x := below(f.min, m-1); x >= 0 {
			return h*3600 + x*60 + below(f.sec, 59)
		}
	}
	if x := below(f.hour, h-1); x >= 0 {
		return x*3600 + below(f.min, 59)*60 + below(f.sec, 59)
	}
	return -1
}

// above returns the lowest bit of mask at or above i, or -1.
func above(mask uint64, i int64) int64 {
	if i > 63 {
		return -1
	}
	if mask >>= uint(i); mask == 0 {
		return -1
	}
	return i + int64(bits.TrailingZeros64(mask))
}

// below returns the highest bit of mask at or below i, or -1.
func below(mask uint64, i int64) int64 {
	if i < 0 {
		return -1
	}
	if i < 63 {
		mask &= 1<<(uint(i)+1) - 1
	}
	if mask == 0 {
		return -1
	}
	return int64(63 - bits.LeadingZeros64(mask))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
