package ngxtasks

import (
	"errors"
	"math"
	"math/bits"
	"sync"
	"time"
	"unsafe"
)

// DefaultHistory is how many recent slots a manager keeps per rule when
// Manager.HistoryLen is zero. A full ring of 16 is 576 bytes (16 records
// of 32 and the ring's own 64): a rule that runs holds about 0.9 KB in
// all, 0.9 GB at a million rules, where 64 slots, the former default, made
// it 2.5 KB and 2.5 GB. Sixteen slots still hold what Explain and the
// status page look at, the recent slots (the last 16 s of a 1 s rule, 16
// min of a 1 min one); set HistoryLen to keep more.
const DefaultHistory = 16

// maxHistory bounds Manager.HistoryLen: a ring is kept per rule.
const maxHistory = 1 << 16

// Outcome is what became of a slot in this worker.
type Outcome uint8

const (
	OutcomeWon       Outcome = iota + 1 // claimed here; the run has not begun
	OutcomeRunning                      // the run began and has not ended
	OutcomeSucceeded                    // the run returned nil
	OutcomeFailed                       // the run returned an error
	OutcomePanicked                     // the run panicked (recovered)
	OutcomeTimedOut                     // the run outlived the rule's Timeout
	OutcomeLost                         // another worker holds the claim
	OutcomeSkipped                      // not run here; SlotRecord.Reason says why
)

var outcomeNames = [...]string{"", "won", "running", "succeeded", "failed", "panicked", "timed out", "lost", "skipped"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return "unknown"
}

// resultOf classifies how a run ended.
func resultOf(err error) Outcome {
	if err == nil {
		return OutcomeSucceeded
	}
	return failureOf(err)
}

// failureOf classifies a run's error; kept apart so that resultOf's
// common case does not allocate the target errors.As needs.
func failureOf(err error) Outcome {
	var p *PanicError
	switch {
	case errors.As(err, &p):
		return OutcomePanicked
	case errors.Is(err, ErrTimeout):
		return OutcomeTimedOut
	}
	return OutcomeFailed
}

// A SlotRecord is what this worker did with one slot of a rule.
type SlotRecord struct {
	Slot    Slot
	Outcome Outcome
	Reason  SkipReason // for OutcomeSkipped
	Missed  int64      // for SkipBehind: the slots missed, Slot the first
	// Won is set when this worker claimed the slot (a Preemption rule).
	Won bool
	// Claim is the claim's round trip: from the request to the store's
	// answer (Preemption rules; for a batch, the batch's).
	Claim time.Duration
	// Start is when the run began (zero if it did not), by the manager's
	// clock; Lateness is Start minus Slot.Start. Both, and Claim, are kept
	// to the microsecond.
	Start    time.Time
	Lateness time.Duration
	Duration time.Duration // of a run that ended: its last try's
	Err      string        // the run's or the claim's error, cut to maxErrorText bytes
	// Tries is how many times the slot's run was tried: 1, and one more
	// for each retry (Rule.Retry); 0 when it did not run.
	Tries int
}

// record is a SlotRecord as the ring keeps it: 32 bytes and no pointer,
// so that a full ring of 16 (the default) is 512 bytes that the garbage
// collector never scans (error texts are kept beside it, in history.errs).
// The slot's number and end come from the key generator, given its start;
// times are kept in microseconds where that bounds them to 35 minutes
// (lateness, claims).
type record struct {
	start   int64 // the slot's start (Unix ns)
	dur     int64 // ns, of a run that ended
	late    int32 // µs, of a run: its start minus the slot's start
	aux     int32 // µs, the claim's round trip; for SkipBehind, the slots missed
	outcome Outcome
	reason  SkipReason
	flags   uint8
	tries   uint8 // of a run: 1, and one more for each retry (Rule.Retry)
}

const (
	recWon uint8 = 1 << iota
	recRan
	recErr
)

// micros converts d to whole microseconds, saturating at ±35 minutes.
func micros(d time.Duration) int32 {
	return int32(max(min(d/time.Microsecond, math.MaxInt32), math.MinInt32))
}

// history is one rule's ring of recent slot records, made at the rule's
// first event. Each rule has its own lock: recording never waits for
// another rule.
//
// The ring is kept in up to four blocks of blockLen records, each made
// when the ring first reaches it; the first starts with one record and
// grows fourfold up to blockLen. So a rule that runs rarely (a million
// hourly rules) holds one record, a rule that runs often stops allocating
// after a few slots, and no slot allocates more than a block: 100,000
// rules on one boundary that grew whole rings at once (16 records, 51 MB
// of fresh memory) made that boundary half as late again as the others.
//
// blocks holds each block's first record, the block being an array of
// blockLen records (of cap0 for the first while it grows): one pointer a
// block, where a slice would be three words, keeps the history in 64
// bytes, a size class that is one cache line.
type history struct {
	mu     sync.Mutex
	blocks [ringBlocks]*record
	errs   map[int]string // by ring index; nil until a slot has an error
	// size is the most records kept, made how many there are; once the
	// ring is full, next is where the next record goes. cap0 is the first
	// block's length.
	size, made, next, cap0 int32
}

const ringBlocks = 4

// blockShift is log2 of the blocks' length: the smallest power of two
// with which four blocks hold size records.
func (h *history) blockShift() uint {
	return uint(bits.Len32(uint32(h.size+ringBlocks-1)/ringBlocks - 1))
}

// rec returns the record at ring index i (below h.made). Its block holds
// it: the ring makes indices below made only (see extend).
func (h *history) rec(i int) *record {
	shift := h.blockShift()
	k, off := i>>shift, i&(1<<shift-1)
	return (*record)(unsafe.Add(unsafe.Pointer(h.blocks[k]), uintptr(off)*unsafe.Sizeof(record{})))
}

// historyOf returns e's history, making it on the first event; nil when
// the manager keeps none.
func (m *Manager) historyOf(e *entry) *history {
	if h := e.history.Load(); h != nil || m.history == 0 {
		return h
	}
	e.history.CompareAndSwap(nil, &history{size: int32(m.history)})
	return e.history.Load()
}

// at returns the ring index of slot s's record, making one if the ring
// holds none. Events of a slot come in order (won, fired, finished) and
// slots come in order, so a slot after the newest record gets a new one at
// once; otherwise the ring is searched from the newest back (a slot
// claimed or skipped while the previous one's run goes on). Callers hold
// h.mu.
func (h *history) at(s *Slot) (int, *record) {
	start := s.Start.UnixNano()
	if k := int(h.made); k > 0 {
		j := h.newest()
		r := h.rec(j)
		for i := 0; i < k && r.start >= start; i++ {
			if r.start == start {
				return j, r
			}
			if j--; j < 0 {
				j = k - 1
			}
			r = h.rec(j)
		}
	}
	var i int
	if h.made < h.size {
		i = int(h.made)
		h.extend(i)
		h.made++
	} else {
		i = int(h.next)
		if h.next++; h.next == h.size {
			h.next = 0
		}
	}
	r := h.rec(i)
	*r = record{start: start}
	if h.errs != nil {
		delete(h.errs, i)
	}
	return i, r
}

// extend makes room for ring index i, the next to be made: the first
// block grows fourfold up to a block's length; a later block is made whole
// when i is its first index.
func (h *history) extend(i int) {
	shift := h.blockShift()
	switch k, off := i>>shift, i&(1<<shift-1); {
	case k == 0 && off == int(h.cap0):
		grown := make([]record, min(max(4*int(h.cap0), 1), 1<<shift, int(h.size)))
		if h.cap0 > 0 {
			copy(grown, unsafe.Slice(h.blocks[0], h.cap0))
		}
		h.blocks[0], h.cap0 = &grown[0], int32(len(grown))
	case k > 0 && off == 0:
		h.blocks[k] = &make([]record, min(1<<shift, int(h.size)-i))[0]
	}
}

// newest is the index of the latest record. Callers hold h.mu.
func (h *history) newest() int {
	if h.made < h.size || h.next == 0 {
		return int(h.made) - 1
	}
	return int(h.next) - 1
}

// note records an event of slot s; msg is its error's text, if any.
func (h *history) note(kind EventKind, s *Slot, reason SkipReason, d time.Duration, msg *string, result Outcome, try uint8) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i, r := h.at(s)
	switch kind {
	case EventWon:
		r.outcome, r.aux = OutcomeWon, micros(d)
		r.flags |= recWon
	case EventLost:
		r.outcome, r.aux = OutcomeLost, micros(d)
	case EventSkipped:
		r.outcome, r.reason = OutcomeSkipped, reason
		if reason == SkipClaimError || reason == SkipLate {
			r.aux = micros(d)
		}
	case EventFired:
		r.outcome, r.tries = OutcomeRunning, try+1
		if try == 0 {
			r.late = micros(d) // d is the run's lateness; a retry's is not the slot's
		}
		r.flags |= recRan
	case EventFinished:
		r.outcome, r.dur = result, int64(d)
	}
	if msg != nil {
		if h.errs == nil {
			h.errs = make(map[int]string)
		}
		h.errs[i] = *msg
		r.flags |= recErr
	}
}

// missed records n slots missed from s on, for reason.
func (h *history) missed(s *Slot, reason SkipReason, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, r := h.at(s)
	r.outcome, r.reason, r.aux = OutcomeSkipped, reason, int32(min(n, math.MaxInt32))
}

// records returns the ring's records, oldest first, their slots as keys
// cuts them for rule r.
func (h *history) records(slotOf func(*Rule, time.Time) Slot, r *Rule) []SlotRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SlotRecord, h.made)
	start := 0
	if h.made == h.size {
		start = int(h.next)
	}
	for i := range out {
		j := (start + i) % int(h.made)
		rec := h.rec(j)
		out[i] = rec.public(slotOf, r)
		if rec.flags&recErr != 0 {
			out[i].Err = h.errs[j]
		}
	}
	return out
}

func (r *record) public(slotOf func(*Rule, time.Time) Slot, rule *Rule) SlotRecord {
	p := SlotRecord{
		Slot:     slotOf(rule, time.Unix(0, r.start)),
		Outcome:  r.outcome,
		Reason:   r.reason,
		Won:      r.flags&recWon != 0,
		Duration: time.Duration(r.dur),
	}
	if r.reason == SkipBehind || r.reason == SkipDown {
		p.Missed = int64(r.aux)
	} else {
		p.Claim = time.Duration(r.aux) * time.Microsecond
	}
	if r.flags&recRan != 0 {
		p.Tries = int(r.tries)
		p.Lateness = time.Duration(r.late) * time.Microsecond
		p.Start = p.Slot.Start.Add(p.Lateness)
	}
	return p
}

// History returns what this worker did with the recent slots of a rule,
// oldest first: up to Manager.HistoryLen slots.
func (m *Manager) History(identifier string) ([]SlotRecord, error) {
	e, err := m.ruleNamed(identifier)
	if err != nil {
		return nil, err
	}
	if h := e.history.Load(); h != nil {
		return h.records(m.slotOf, &e.rule), nil
	}
	return nil, nil
}
