package calendar

import (
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// A Schedule is a parsed expression read in a zone under gap and repeat
// policies. It is immutable but for a memo of the last slot found, so safe
// for concurrent use, and meant to be shared by the rules that have it.
type Schedule struct {
	text   string
	z      zone
	f      fields
	fixed  bool // the hour field names hours: gaps move or drop, repeats run once
	gap    GapPolicy
	repeat RepeatPolicy
	last   memo // of Slot
}

// An Occurrence is one run of a schedule.
type Occurrence struct {
	At     time.Time // the instant it runs, in the schedule's zone
	Wall   time.Time // the wall time it was written for, read as UTC: it may not exist in the zone
	Pass   int       // 0, or 1 / 2 for the first / second pass of a repeated hour when both run
	Moved  bool      // its wall time was in a gap, and it runs at the transition
	Merged int       // how many wall times of a gap this run stands for (0 when not Moved)
}

// ID is the occurrence's identity: its wall time in seconds (read as UTC)
// times 4 plus its pass. A run once in a repeated hour has pass 0 whichever
// pass it runs at, so that workers disagreeing on the policy's pass still
// claim one key.
func (o Occurrence) ID() int64 { return o.Wall.Unix()*4 + int64(o.Pass) }

// searchSpan bounds a search. Every expression Parse accepts occurs within
// eight years (29 February in 2096, then 2104); beyond it the search has
// run past the dates the zone data knows.
const searchSpan = 100 * 366 * secsPerDay

// searchable reports whether instant u is far enough from the ends of
// int64 for the search's arithmetic on it, its wall times and its horizon.
func searchable(u int64) bool { return farPast/2 < u && u < farFuture/2 }

// occ is an occurrence in seconds; ok is false for none.
type occ struct {
	at, wall     int64
	pass, merged int
	ok           bool
}

func (s *Schedule) occurrence(o occ) Occurrence {
	if !o.ok {
		return Occurrence{}
	}
	return Occurrence{
		At:     time.Unix(o.at, 0).In(s.z.loc),
		Wall:   time.Unix(o.wall, 0).UTC(),
		Pass:   o.pass,
		Moved:  o.merged > 0,
		Merged: o.merged,
	}
}

func (o occ) id() int64 { return o.wall*4 + int64(o.pass) }

// Next returns the first occurrence strictly after t. It returns the zero
// Occurrence when none comes within a century, which happens only tens of
// billions of years away.
func (s *Schedule) Next(t time.Time) Occurrence {
	a := t.Unix() + 1 // occurrences fall on whole seconds
	if !searchable(a) {
		return Occurrence{}
	}
	return s.occurrence(s.next(a, s.z.at(a)))
}

// Prev returns the latest occurrence at or before t, or the zero
// Occurrence as Next does.
func (s *Schedule) Prev(t time.Time) Occurrence {
	b := t.Unix()
	if !searchable(b) {
		return Occurrence{}
	}
	return s.occurrence(s.prev(b, s.z.at(b)))
}

// Slot returns the slot holding t: from Prev(t) to Next(t), numbered by
// Prev(t)'s identity; the zero Slot where Prev or Next is zero.
func (s *Schedule) Slot(t time.Time) ngxtasks.Slot {
	b := t.Unix()
	n, start, end, ok := s.last.load(b)
	if !ok {
		if n, start, end, ok = s.slot(b); !ok {
			return ngxtasks.Slot{}
		}
		s.last.store(n, start, end)
	}
	return ngxtasks.Slot{N: n, Start: time.Unix(start, 0).In(s.z.loc), End: time.Unix(end, 0).In(s.z.loc)}
}

// slot finds the slot holding instant b: its number, and its bounds.
func (s *Schedule) slot(b int64) (n, start, end int64, ok bool) {
	if !searchable(b) || !searchable(b+1) {
		return 0, 0, 0, false
	}
	p := s.z.at(b)
	prev := s.prev(b, p)
	q := p
	if b+1 >= p.end {
		q = s.z.after(p)
	}
	next := s.next(b+1, q)
	if !prev.ok || !next.ok {
		return 0, 0, 0, false
	}
	return prev.id(), prev.at, next.at, true
}

// next returns the first occurrence at or after instant a, which p holds.
// It walks the spans forward and, in each, the matching wall times the span
// reads; between two spans it looks for a gap's run at the transition.
func (s *Schedule) next(a int64, p span) occ {
	if a == p.start {
		if o, ok := s.gapRun(s.z.before(p), p); ok {
			return o
		}
	}
	horizon := a + p.off + searchSpan
	for lo := a; ; {
		limit := min(p.end+p.off, horizon)
		for w, ok := s.f.next(lo+p.off, limit); ok; w, ok = s.f.next(w+1, limit) {
			if pass, ok := s.runs(p, w); ok {
				return occ{at: w - p.off, wall: w, pass: pass, ok: true}
			}
		}
		if limit == horizon || p.end >= farFuture {
			return occ{}
		}
		q := s.z.after(p)
		if o, ok := s.gapRun(p, q); ok {
			return o
		}
		p, lo = q, q.start
	}
}

// prev returns the latest occurrence at or before instant b, which p holds:
// next's walk backwards. The instant a span starts at is looked at last,
// as it may hold the run of the gap before it instead of its first wall time.
func (s *Schedule) prev(b int64, p span) occ {
	floor := b + p.off - searchSpan
	for hi := b; ; {
		first := p.start + p.off
		for w, ok := s.f.prev(hi+p.off, max(first+1, floor)); ok; w, ok = s.f.prev(w-1, max(first+1, floor)) {
			if pass, ok := s.runs(p, w); ok {
				return occ{at: w - p.off, wall: w, pass: pass, ok: true}
			}
		}
		if first < floor || p.start <= farPast {
			return occ{}
		}
		q := s.z.before(p)
		if o, ok := s.gapRun(q, p); ok {
			return o
		}
		if s.f.matches(first) {
			if pass, ok := s.runs(p, first); ok {
				return occ{at: p.start, wall: first, pass: pass, ok: true}
			}
		}
		p, hi = q, q.end-1
	}
}

// runs reports whether wall time w, read in span p, runs at that reading,
// and with which pass. A wall time read once runs. One read in several
// spans runs at each (cadence, or BothPasses) or once, as the policy says.
func (s *Schedule) runs(p span, w int64) (pass int, ok bool) {
	u := w - p.off
	if u-p.start >= reach && p.end-u > reach {
		return 0, true // no other span is near enough to read w
	}
	z := s.z.around(p, u-reach, u+reach)
	at, k := z.instants(w)
	if k <= 1 {
		return 0, true
	}
	i := 0
	for i < k-1 && at[i] != u {
		i++
	}
	switch {
	case !s.fixed || s.repeat == BothPasses:
		return i + 1, true
	case s.repeat == FirstPass:
		return 0, i == 0
	default:
		return 0, i == k-1
	}
}

// gapRun returns the run, at the transition from p to q, of the fixed
// times the clock skipped there: one run for all of them, named after the
// first. It stands for q's first wall time too, which runs at that instant.
func (s *Schedule) gapRun(p, q span) (occ, bool) {
	if !s.fixed || s.gap == SkipGap || q.off <= p.off {
		return occ{}, false
	}
	t := q.start
	lo, hi := t+p.off, t+q.off // the wall times the clock jumped over
	var z nearby
	o := occ{at: t, ok: true}
	for w, ok := s.f.next(lo, hi); ok; w, ok = s.f.next(w+1, hi) {
		if z.n == 0 {
			z = s.z.around(q, t-reach, t+reach)
		}
		if _, k := z.instants(w); k > 0 {
			continue // read in another span: not skipped after all
		}
		if o.merged == 0 {
			o.wall = w
		}
		o.merged++
	}
	return o, o.merged > 0
}

// Location returns the schedule's zone.
func (s *Schedule) Location() *time.Location { return s.z.loc }

// String returns the expression as written, fields separated by one
// space, then the zone's name and the policies that are not the default:
// two schedules with the same String have the same occurrences.
func (s *Schedule) String() string { return s.text }
