package ngxtasks

import (
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// TestHistoryGrowsThenStopsAllocating: a ring of 64 (as HistoryLen 64
// keeps) grows a block at a time (the first of 1, 4, then 16 records, then
// three more of 16), keeps the newest slots once full, and then records a
// slot (claim, run, end) without allocating.
func TestHistoryGrowsThenStopsAllocating(t *testing.T) {
	const size = 64
	h := &history{size: size}
	slot := func(n int64) Slot {
		start := time.Unix(1_800_000_000+n, 0)
		return Slot{N: n, Start: start, End: start.Add(time.Second)}
	}
	type shape struct{ cap0, blocks int }
	var grew []shape
	for n := range int64(100) {
		s := slot(n)
		h.note(EventWon, &s, 0, time.Millisecond, nil, 0, 0)
		h.note(EventFired, &s, 0, 2*time.Millisecond, nil, 0, 0)
		h.note(EventFinished, &s, 0, time.Millisecond, nil, OutcomeSucceeded, 0)
		now := shape{int(h.cap0), 0}
		for _, b := range h.blocks {
			if b != nil {
				now.blocks++
			}
		}
		if len(grew) == 0 || grew[len(grew)-1] != now {
			grew = append(grew, now)
		}
	}
	if want := []shape{{1, 1}, {4, 1}, {16, 1}, {16, 2}, {16, 3}, {16, 4}}; !slices.Equal(grew, want) {
		t.Fatalf("grew as %v, want %v", grew, want)
	}
	recs := h.records(EpochKeys{}.Slot, &Rule{Interval: time.Second})
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
		h.note(EventWon, &s, 0, time.Millisecond, nil, 0, 0)
		h.note(EventFired, &s, 0, 0, nil, 0, 0)
		h.note(EventFinished, &s, 0, time.Millisecond, nil, OutcomeSucceeded, 0)
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

// TestHistoryOfAnySizeKeepsTheNewest: rings of every size up to 40, blocks
// of a length that does not divide the size included, keep the newest
// slots in order, with their error texts, as they wrap many times.
func TestHistoryOfAnySizeKeepsTheNewest(t *testing.T) {
	for size := int32(1); size <= 40; size++ {
		h := &history{size: size}
		for n := range int64(3*size + 5) {
			start := time.Unix(1_800_000_000+n, 0)
			s := Slot{N: n, Start: start, End: start.Add(time.Second)}
			var msg *string
			if n%3 == 0 {
				text := "failed in " + strconv.FormatInt(n, 10)
				msg = &text
			}
			h.note(EventFired, &s, 0, 0, nil, 0, 0)
			h.note(EventFinished, &s, 0, time.Duration(n), msg, OutcomeSucceeded, 0)
			recs := h.records(EpochKeys{}.Slot, &Rule{Interval: time.Second})
			if want := min(n+1, int64(size)); int64(len(recs)) != want {
				t.Fatalf("size %d, after slot %d: %d records, want %d", size, n, len(recs), want)
			}
			for i, r := range recs {
				m := n + 1 - int64(len(recs)) + int64(i)
				var want string
				if m%3 == 0 {
					want = "failed in " + strconv.FormatInt(m, 10)
				}
				if r.Slot.Start.Unix() != 1_800_000_000+m || r.Duration != time.Duration(m) || r.Err != want {
					t.Fatalf("size %d, after slot %d: record %d is of slot %d, %v, %q; want slot %d, %v, %q",
						size, n, i, r.Slot.Start.Unix()-1_800_000_000, r.Duration, r.Err, m, time.Duration(m), want)
				}
			}
		}
	}
}

// BenchmarkHistoryNote is what a run costs the history of a rule with a
// full ring (the default 16 slots): its fired and finished events.
func BenchmarkHistoryNote(b *testing.B) {
	h := &history{size: DefaultHistory}
	start := time.Unix(1_800_000_000, 0)
	b.ReportAllocs()
	for n := range int64(b.N) {
		s := Slot{N: n, Start: start.Add(time.Duration(n) * time.Second), End: start.Add(time.Duration(n+1) * time.Second)}
		h.note(EventFired, &s, 0, time.Millisecond, nil, 0, 0)
		h.note(EventFinished, &s, 0, time.Millisecond, nil, OutcomeSucceeded, 0)
	}
}
