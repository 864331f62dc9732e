package calendar

import "time"

const (
	// farPast and farFuture stand for a zone's unbounded first and last
	// spans, far enough from any date and from overflow.
	farPast   = -1 << 62
	farFuture = 1 << 62
	// reach bounds the distance between two instants that read the same
	// wall time: the largest change of offset in the tz data is a day
	// (Pacific/Apia, 2011-12-30).
	reach = 30 * 3600
	// maxPasses bounds the instants one wall time can have. No zone has
	// more than two; the identity keeps two bits for the pass.
	maxPasses = 3
)

// A span is an interval of instants [start, end), in Unix seconds, in which
// the zone's UTC offset is off seconds: wall time = instant + off.
type span struct {
	start, end, off int64
}

// spanAt returns the span of loc holding instant u.
func spanAt(loc *time.Location, u int64) span {
	t := time.Unix(u, 0).In(loc)
	_, off := t.Zone()
	a, b := t.ZoneBounds()
	p := span{start: farPast, end: farFuture, off: int64(off)}
	if !a.IsZero() {
		p.start = min(a.Unix(), u)
	}
	if !b.IsZero() {
		p.end = b.Unix()
	}
	if p.end <= u {
		// Past a zone's last listed change, where its TZ rule string
		// serves, the last day of a leap year is given an end at its
		// start (go.dev/issue/81583). The offset holds to the year's end,
		// the next UTC midnight; else to the next second.
		p.end = (floorDiv(u, secsPerDay) + 1) * secsPerDay
		if _, o := time.Unix(p.end-1, 0).In(loc).Zone(); int64(o) != p.off {
			p.end = u + 1
		}
	}
	return p
}

// after and before return the spans that follow and precede p, made to
// touch it.
func after(loc *time.Location, p span) span {
	q := spanAt(loc, p.end)
	q.start = p.end
	return q
}

func before(loc *time.Location, p span) span {
	q := spanAt(loc, p.start-1)
	q.end = p.start
	return q
}

// nearby holds the spans of a zone around an instant, in order.
type nearby struct {
	s [8]span
	n int
}

// around returns the spans overlapping [lo, hi], p among them.
func around(loc *time.Location, p span, lo, hi int64) nearby {
	var back [3]span
	nb := 0
	for c := p; c.start > lo && c.start > farPast && nb < len(back); nb++ {
		c = before(loc, c)
		back[nb] = c
	}
	var z nearby
	for i := nb - 1; i >= 0; i-- {
		z.s[z.n] = back[i]
		z.n++
	}
	z.s[z.n] = p
	z.n++
	for c := p; c.end <= hi && c.end < farFuture && z.n < len(z.s); z.n++ {
		c = after(loc, c)
		z.s[z.n] = c
	}
	return z
}

// instants returns the instants at which the clock reads wall time w,
// earliest first: w minus each offset of the spans, where the span holds
// the result. None means w is in a gap; two, in a repeated hour.
func (z *nearby) instants(w int64) (at [maxPasses]int64, k int) {
	for _, p := range z.s[:z.n] {
		if u := w - p.off; p.start <= u && u < p.end && k < maxPasses {
			at[k] = u
			k++
		}
	}
	return at, k
}
