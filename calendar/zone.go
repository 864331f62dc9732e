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
	// tableBefore and tableAfter are the reach of a zone's table from the
	// time of Parse; tableSpans bounds its size.
	tableBefore = 366 * secsPerDay
	tableAfter  = 3 * 366 * secsPerDay
	tableSpans  = 24
)

// A zone is a location with a table of its spans over a few years: a span
// from the table takes a binary search of a dozen entries, one from the
// location two lookups, each of which parses the zone's TZ rule string
// where the tz data lists no changes (Go's embedded data, past a zone's
// last change of rules). The table is made once and only read.
type zone struct {
	loc   *time.Location
	table []span // contiguous, in order
}

// newZone returns loc with a table of the spans that overlap [from, to).
func newZone(loc *time.Location, from, to int64) zone {
	z := zone{loc: loc}
	p := spanAt(loc, from)
	z.table = append(z.table, p)
	for p.end < to && p.end < farFuture && len(z.table) < tableSpans {
		p = z.after(p)
		z.table = append(z.table, p)
	}
	return z
}

// at returns the span holding instant u.
func (z *zone) at(u int64) span {
	t := z.table
	if len(t) == 0 || u < t[0].start || u >= t[len(t)-1].end {
		return spanAt(z.loc, u)
	}
	lo, hi := 0, len(t)-1
	for lo < hi { // the first span ending after u
		if m := int(uint(lo+hi) >> 1); t[m].end <= u {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return t[lo]
}

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
func (z *zone) after(p span) span {
	q := z.at(p.end)
	q.start = p.end
	return q
}

func (z *zone) before(p span) span {
	q := z.at(p.start - 1)
	q.end = p.start
	return q
}

// nearby holds the spans of a zone around an instant, in order.
type nearby struct {
	s [8]span
	n int
}

// around returns the spans overlapping [lo, hi], p among them.
func (z *zone) around(p span, lo, hi int64) nearby {
	var back [3]span
	nb := 0
	for c := p; c.start > lo && c.start > farPast && nb < len(back); nb++ {
		c = z.before(c)
		back[nb] = c
	}
	var out nearby
	for i := nb - 1; i >= 0; i-- {
		out.s[out.n] = back[i]
		out.n++
	}
	out.s[out.n] = p
	out.n++
	for c := p; c.end <= hi && c.end < farFuture && out.n < len(out.s); out.n++ {
		c = z.after(c)
		out.s[out.n] = c
	}
	return out
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
