package ngxtasks

import (
	"errors"
	"math"
	"sync"
	"time"
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
	Duration time.Duration // of a run that ended
	Err      string        // the run's or the claim's error, cut to maxErrorText bytes
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
// another rule. The ring starts with one record and grows fourfold up to
// its size (1, 4, 16; 64, 256… when HistoryLen asks for more), so that a
// rule that runs rarely (a million hourly rules) does not hold a full
// ring, and a rule that runs often stops allocating after a few slots
// (doubling cost a 100,000-rule run a tenth of its CPU in copies and
// allocations for its first minute).
type history struct {
	mu   sync.Mutex
	recs []record
	errs []*string // by index in recs; nil until a slot has an error
	// next is where the next record goes, once the ring is full; size is
	// the most records kept. int32 (size is at most maxHistory): the
	// history is 64 bytes, a size class, rather than 72 (80).
	next, size int32
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

// at returns the index of slot s's record, making one if the ring holds
// none. Events of a slot come in order (won, fired, finished) and slots
// come in order, so a slot after the newest record gets a new one at once;
// otherwise the ring is searched from the newest back (a slot claimed or
// skipped while the previous one's run goes on). Callers hold h.mu.
func (h *history) at(s *Slot) int {
	start := s.Start.UnixNano()
	if k := len(h.recs); k > 0 && h.recs[h.newest()].start >= start {
		for j, i := h.newest(), 0; i < k; i++ { // no division: at runs twice a run
			if h.recs[j].start == start {
				return j
			}
			if j--; j < 0 {
				j = k - 1
			}
		}
	}
	var i int
	if len(h.recs) < int(h.size) {
		if len(h.recs) == cap(h.recs) {
			grown := make([]record, len(h.recs), min(max(4*cap(h.recs), 1), int(h.size)))
			copy(grown, h.recs)
			h.recs = grown
		}
		h.recs = h.recs[:len(h.recs)+1]
		i = len(h.recs) - 1
	} else {
		i = int(h.next)
		if h.next++; int(h.next) == len(h.recs) {
			h.next = 0
		}
	}
	h.recs[i] = record{start: start}
	if h.errs != nil {
		h.errs[i] = nil
	}
	return i
}

// newest is the index of the latest record. Callers hold h.mu.
func (h *history) newest() int {
	if len(h.recs) < int(h.size) || h.next == 0 {
		return len(h.recs) - 1
	}
	return int(h.next) - 1
}

// note records an event of slot s; msg is its error's text, if any.
func (h *history) note(kind EventKind, s *Slot, reason SkipReason, d time.Duration, msg *string, result Outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := h.at(s)
	r := &h.recs[i]
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
		r.outcome, r.late = OutcomeRunning, micros(d) // d is the run's lateness
		r.flags |= recRan
	case EventFinished:
		r.outcome, r.dur = result, int64(d)
	}
	if msg != nil {
		if h.errs == nil {
			h.errs = make([]*string, h.size)
		}
		h.errs[i] = msg
		r.flags |= recErr
	}
}

// behind records slots missed from s on.
func (h *history) behind(s *Slot, missed int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &h.recs[h.at(s)]
	r.outcome, r.reason, r.aux = OutcomeSkipped, SkipBehind, int32(min(missed, math.MaxInt32))
}

// records returns the ring's records, oldest first, their slots as keys
// cuts them for rule r.
func (h *history) records(keys KeyGenerator, r *Rule) []SlotRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SlotRecord, len(h.recs))
	start := 0
	if len(h.recs) == int(h.size) {
		start = int(h.next)
	}
	for i := range h.recs {
		j := (start + i) % len(h.recs)
		out[i] = h.recs[j].public(keys, r)
		if h.recs[j].flags&recErr != 0 {
			out[i].Err = *h.errs[j]
		}
	}
	return out
}

func (r *record) public(keys KeyGenerator, rule *Rule) SlotRecord {
	p := SlotRecord{
		Slot:     keys.Slot(rule, time.Unix(0, r.start)),
		Outcome:  r.outcome,
		Reason:   r.reason,
		Won:      r.flags&recWon != 0,
		Duration: time.Duration(r.dur),
	}
	if r.reason == SkipBehind {
		p.Missed = int64(r.aux)
	} else {
		p.Claim = time.Duration(r.aux) * time.Microsecond
	}
	if r.flags&recRan != 0 {
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
		return h.records(m.keys, &e.rule), nil
	}
	return nil, nil
}
