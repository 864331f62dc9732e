package ngxtasks

import (
	"time"
)

// A Slot is one interval of a rule's schedule. A rule runs at most once per
// slot in a worker (Normal) or across the workers (Preemption).
type Slot struct {
	N     int64     // slot number, as the key generator counts
	Start time.Time // when the slot began
	End   time.Time // when the next slot begins; after Start
}

// A Schedule places a rule's slots on the calendar, where an Interval
// places them on a grid: package calendar makes one from a cron expression
// in a time zone. A slot runs from one occurrence to the next. Every worker
// that shares a dictionary must compute the same slots from a rule's
// schedule, whatever its own clock's zone. Implementations must be safe for
// concurrent use.
type Schedule interface {
	// Slot returns the slot holding t: from the latest occurrence at or
	// before t to the next one.
	Slot(t time.Time) Slot
	// SlotName is the slot's identity in its claim key, in place of its
	// number: workers that name a slot alike claim it once. A calendar's
	// names the local wall time, the zone and, in a repeated hour whose
	// passes both run, the pass.
	SlotName(s Slot) string
	// String is the schedule as written, for people.
	String() string
}

// slotOf is the slot of r holding t: its Schedule's, or its grid's as the
// manager's KeyGenerator counts.
func (m *Manager) slotOf(r *Rule, t time.Time) Slot {
	if r.Schedule != nil {
		return r.Schedule.Slot(t)
	}
	return m.keys.Slot(r, t)
}

// slotLen is how long s lasts: Interval for a rule on a grid.
func slotLen(s *Slot) time.Duration { return s.End.Sub(s.Start) }

// A KeyGenerator maps a rule and an instant to the slot holding that instant,
// and a slot to the dictionary name under which it is claimed. It is the
// original module's replaceable keys(self, task, now). The claim key is made of the
// manager's namespace, Name and the slot number, so a Name without the slot in
// it (as in the original's example) still yields one winner per slot.
//
// Every worker that shares a dictionary must use the same generator with the
// same settings, or they will not agree on slots. Implementations must be safe
// for concurrent use. For a rule with a Schedule, the schedule places the
// slots and names them; the generator gives the key's name only.
type KeyGenerator interface {
	Slot(r *Rule, t time.Time) Slot
	Name(r *Rule, s Slot) string
}

// EpochKeys is the default generator: slot n covers
// [epoch + phase + n·Interval, epoch + phase + (n+1)·Interval), with the Unix
// epoch as base, so workers in any time zone agree. The name is the identifier.
type EpochKeys struct{}

// Slot implements KeyGenerator.
func (EpochKeys) Slot(r *Rule, t time.Time) Slot { return gridSlot(0, r, t) }

// Name implements KeyGenerator.
func (EpochKeys) Name(r *Rule, _ Slot) string { return r.Identifier }

// BaseTimeKeys counts slots from Base instead of the epoch, as the original's
// example generator does with a start time saved at init: every worker must be
// given the same Base. The name is Identifier + "Preemption", as in the original.
type BaseTimeKeys struct {
	Base time.Time
}

// Slot implements KeyGenerator.
func (k BaseTimeKeys) Slot(r *Rule, t time.Time) Slot { return gridSlot(k.Base.UnixNano(), r, t) }

// Name implements KeyGenerator.
func (BaseTimeKeys) Name(r *Rule, _ Slot) string { return r.Identifier + "Preemption" }

// gridSlot is the arithmetic behind EpochKeys and BaseTimeKeys: a regular grid
// of Interval-long slots starting at base + phase (nanoseconds since epoch).
func gridSlot(base int64, r *Rule, t time.Time) Slot {
	iv := int64(r.Interval)
	origin := base + int64(r.Phase())
	n := floorDiv(t.UnixNano()-origin, iv)
	start := origin + n*iv
	return Slot{N: n, Start: time.Unix(0, start), End: time.Unix(0, start+iv)}
}

// floorDiv rounds towards minus infinity, so instants before the base still
// fall in the slot that holds them.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// MidnightKeys reproduces the original module's scheme, for a fleet that
// still runs it side by side: slot n is the n-th Interval since local midnight
// in Location (time.Local when nil), the last slot of a day is cut short at
// the next midnight, and the name is Identifier + "Preemption." + YYYYMMDD.
// Workers in different time zones disagree on slots under this scheme; that is
// why it is not the default. It ignores Offset and Spread, as the original had
// neither.
type MidnightKeys struct {
	Location *time.Location
}

func (k MidnightKeys) loc() *time.Location {
	if k.Location == nil {
		return time.Local
	}
	return k.Location
}

// Slot implements KeyGenerator.
func (k MidnightKeys) Slot(r *Rule, t time.Time) Slot {
	t = t.In(k.loc())
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	next := time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
	n := int64(t.Sub(midnight) / r.Interval)
	start := midnight.Add(time.Duration(n) * r.Interval)
	end := start.Add(r.Interval)
	if end.After(next) {
		end = next
	}
	return Slot{N: n, Start: start, End: end}
}

// Name implements KeyGenerator.
func (k MidnightKeys) Name(r *Rule, s Slot) string {
	return r.Identifier + "Preemption." + s.Start.In(k.loc()).Format("20060102")
}
