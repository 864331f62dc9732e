package ngxtasks

import (
	"testing"
	"time"
	"unsafe"
)

// TestHistoryGrowsThenStopsAllocating: a ring grows fourfold to its size
// (64 here, as HistoryLen 64 keeps), keeps the newest slots once full, and
// then records a slot (claim, run, end) without allocating.
func TestHistoryGrowsThenStopsAllocating(t *testing.T) {
	const size = 64
	h := &history{size: size}
	slot := func(n int64) Slot {
		start := time.Unix(1_800_000_000+n, 0)
		return Slot{N: n, Start: start, End: start.Add(time.Second)}
	}
	var caps []int
	for n := range int64(100) {
		s := slot(n)
		h.note(EventWon, &s, 0, time.Millisecond, nil, 0)
		h.note(EventFired, &s, 0, 2*time.Millisecond, nil, 0)
		h.note(EventFinished, &s, 0, time.Millisecond, nil, OutcomeSucceeded)
		if len(caps) == 0 || caps[len(caps)-1] != cap(h.recs) {
			caps = append(caps, cap(h.recs))
		}
	}
	if want := []int{1, 4, 16, 64}; len(caps) != len(want) || caps[0] != 1 || caps[3] != 64 {
		t.Fatalf("capacities %v, want %v", caps, want)
	}
	recs := h.records(EpochKeys{}, &Rule{Interval: time.Second})
	if len(recs) != size || !recs[0].Slot.Start.Equal(slot(100-size).Start) || !recs[len(recs)-1].Slot.Start.Equal(slot(99).Start) {
		t.Fatalf("%d records from %v to %v, want the last %d", len(recs), recs[0].Slot.Start, recs[len(recs)-1].Slot.Start, size)
	}
	r := recs[len(recs)-1]
	if r.Outcome != OutcomeSucceeded || !r.Won || r.Claim != time.Millisecond || r.Lateness != 2*time.Millisecond || r.Duration != time.Millisecond {
		t.Fatalf("record %+v", r)
	}
	n := int64(100)
	allocs := testing.AllocsPerRun(1000, func() {
		s := slot(n)
		h.note(EventWon, &s, 0, time.Millisecond, nil, 0)
		h.note(EventFired, &s, 0, 0, nil, 0)
		h.note(EventFinished, &s, 0, time.Millisecond, nil, OutcomeSucceeded)
		n++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per slot recorded in a full ring", allocs)
	}
}

// TestRecordSize: a slot's record stays 32 bytes, so that the default ring
// of a rule is 512 bytes.
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(record{}); n != 32 {
		t.Fatalf("a record is %d bytes, want 32", n)
	}
}

// TestEntrySize: a pushed rule's entry and its history stay within the
// size classes that keep a rule under 400 bytes of heap after Push (256
// and 64 bytes): a field added to either must make room first, or move to
// the counters made on first use (rareCounters).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 256 {
		t.Errorf("an entry is %d bytes, more than 256", n)
	}
	if n := unsafe.Sizeof(history{}); n > 64 {
		t.Errorf("a history is %d bytes, more than 64", n)
	}
}
