package ngxtasks

import "time"

// Jittered returns s with each slot's start moved later by up to bound: by
// a hash of key (the rule's identifier, say) and the slot's number, so that
// every worker computes the same start, and rules on one schedule do not
// all start at once. A slot keeps its number and name; its start never
// reaches the next occurrence of s, so slots stay in order and none is
// lost. For example, a nightly rule at 02:00 with a bound of 10 minutes
// starts somewhere in 02:00–02:10, the same minute every worker agrees on,
// and a different one each night.
func Jittered(s Schedule, bound time.Duration, key string) Schedule {
	if bound <= 0 {
		return s
	}
	return jittered{s: s, bound: bound, seed: fnv1a(key)}
}

type jittered struct {
	s     Schedule
	bound time.Duration
	seed  uint64
}

// delay is how far slot u of the underlying schedule starts late: below
// both the bound and u's length.
func (j jittered) delay(u *Slot) time.Duration {
	h := j.seed ^ uint64(u.N)
	h ^= h >> 33 // a 64-bit finalizer (MurmurHash3's): nearby slot numbers spread apart
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return time.Duration(h % uint64(min(j.bound, slotLen(u))))
}

// Slot implements Schedule: the underlying slot holding t, its start moved,
// unless t comes before that moved start, when it is the slot before.
func (j jittered) Slot(t time.Time) Slot {
	u := j.s.Slot(t)
	start := u.Start.Add(j.delay(&u))
	if t.Before(start) {
		prev := j.s.Slot(u.Start.Add(-1))
		return Slot{N: prev.N, Start: prev.Start.Add(j.delay(&prev)), End: start}
	}
	next := j.s.Slot(u.End)
	return Slot{N: u.N, Start: start, End: next.Start.Add(j.delay(&next))}
}

// SlotName implements Schedule: the slot's name is that of the underlying
// slot, the one holding its moved start.
func (j jittered) SlotName(sl Slot) string { return j.s.SlotName(j.s.Slot(sl.Start)) }

// String implements Schedule.
func (j jittered) String() string { return j.s.String() + " jitter " + j.bound.String() }

// zoneOf is the time zone of a schedule that has one (a calendar's), seen
// through Jittered; nil otherwise.
func zoneOf(s Schedule) *time.Location {
	if j, ok := s.(jittered); ok {
		s = j.s
	}
	if z, ok := s.(interface{ Location() *time.Location }); ok {
		return z.Location()
	}
	return nil
}

// fnv1a hashes s (FNV-1a), written out so that it does not allocate.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
