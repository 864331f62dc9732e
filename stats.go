package ngxtasks

import (
	"sync/atomic"
	"time"
)

// RuleStats is what a worker knows about one of its rules.
type RuleStats struct {
	Identifier string
	Name       string
	Type       Type
	Interval   time.Duration // zero for a rule with a Schedule
	Schedule   string        // the rule's Schedule as written; empty for an Interval rule
	// Location is the Schedule's time zone, when it has one (a calendar's
	// has): NextDue and the slots are shown in it.
	Location *time.Location
	Drive    Drive

	Runs int64 // runs started, retries included
	// Retries counts the runs that were a failed run's retry (Rule.Retry).
	Retries int64
	// Succeeded, Failed, Panicked and TimedOut count the runs that ended,
	// by how; Errors is the sum of the last three.
	Succeeded, Failed, Panicked, TimedOut int64
	Errors                                int64
	Skips                                 int64 // due slots not run here, for any reason
	// SkipsBy counts the skips by reason (only reasons that occurred).
	SkipsBy map[SkipReason]int64
	Won     int64 // Preemption slots this worker claimed
	Lost    int64 // Preemption slots another worker held
	// CaughtUp counts the slots CatchUp let go on to run (or, for a
	// Preemption rule, to be claimed): begun before this worker's first
	// step, when no worker had run them. The slots missed before them are
	// SkipsBy[SkipDown].
	CaughtUp int64

	LastSlot     int64 // slot of the last run started
	LastStart    time.Time
	LastLateness time.Duration // of the last run: its start minus its slot's start
	LastDuration time.Duration // of the last run that ended
	LastResult   Outcome       // of the last run that ended: succeeded, failed, panicked, timed out
	LastError    string        // of the last run that failed
	LastSuccess  time.Time     // when the last run that succeeded ended
	// LastSkip and LastSkipError are the last skip's reason and error
	// (claim errors and late answers have one).
	LastSkip      SkipReason
	LastSkipError string
	NextDue       time.Time
	Running       bool
	// Paused is the rule's pause as this worker last read it; nil when it
	// is not paused.
	Paused *Pause
	// Disagreement is the last claim of the rule's slots this worker found
	// made under another Version (fingerprint.go); nil when none was.
	Disagreement *Disagreement
}

// numResults is how many ways a run can end: succeeded, failed, panicked,
// timed out (consecutive Outcomes).
const numResults = OutcomeTimedOut - OutcomeSucceeded + 1

// maxErrorText bounds an error text kept in Stats and History.
const maxErrorText = 512

// counters are an entry's statistics. Those every run writes come first,
// together, so that a run touches as few cache lines as it can (with
// 100,000 rules an entry is rarely in cache when its slot comes). What
// only a run that did not succeed or a skipped slot writes is kept apart,
// in rare, made the first time one comes: most rules never need it, and
// without it an entry is 256 bytes, a size class, rather than 368 (384).
type counters struct {
	runs, lastSlot, lastStart atomic.Int64
	lastLate, lastDur         atomic.Int64
	lastSuccess               atomic.Int64 // Unix ns
	succeeded                 atomic.Int64

	won, lost atomic.Int64
	rare      atomic.Pointer[rareCounters] // nil until a run fails or a slot is skipped (see rareOf)
}

// rareCounters are the counters of runs that did not succeed and of skips.
type rareCounters struct {
	ended                [numResults - 1]atomic.Int64 // by result, from OutcomeFailed on
	skips                [numSkipReasons]atomic.Int64 // by reason
	lastErr, lastSkipErr atomic.Pointer[string]
	lastSkip             atomic.Uint32
	caughtUp             atomic.Int64
	retries              atomic.Int64
	// owed is set when the store did not settle a CatchUp rule's slot:
	// its next turn asks caughtUp first (catchup.go).
	owed atomic.Bool
}

// rareOf returns c's rare counters, making them the first time.
func (c *counters) rareOf() *rareCounters {
	if r := c.rare.Load(); r != nil {
		return r
	}
	c.rare.CompareAndSwap(nil, new(rareCounters))
	return c.rare.Load()
}

// record counts an event; msg is its error's text, if any, and result how
// a run ended.
func (c *counters) record(kind EventKind, slot int64, reason SkipReason, d time.Duration, msg *string, result Outcome, try uint8) {
	switch kind {
	case EventFired:
		c.runs.Add(1)
		if try > 0 {
			c.rareOf().retries.Add(1)
			break // the slot's lateness is its first try's
		}
		c.lastSlot.Store(slot)
		c.lastLate.Store(int64(d))
	case EventFinished:
		c.lastDur.Store(int64(d))
		if result == OutcomeSucceeded {
			c.succeeded.Add(1)
		} else if result > OutcomeSucceeded && result < OutcomeSucceeded+numResults {
			c.rareOf().ended[result-OutcomeFailed].Add(1)
		}
		if msg != nil {
			c.rareOf().lastErr.Store(msg)
		}
	case EventWon:
		c.won.Add(1)
	case EventLost:
		c.lost.Add(1)
	case EventSkipped:
		c.skipped(reason, 1, msg)
	}
}

// skipped counts n skips for reason.
func (c *counters) skipped(reason SkipReason, n int64, msg *string) {
	r := c.rareOf()
	if reason < numSkipReasons {
		r.skips[reason].Add(n)
	}
	if r.lastSkip.Load() != uint32(reason) {
		r.lastSkip.Store(uint32(reason))
	}
	if msg != nil || r.lastSkipErr.Load() != nil {
		r.lastSkipErr.Store(msg)
	}
}

// Stats returns statistics of every rule, in push order.
func (m *Manager) Stats() []RuleStats {
	es := m.entries()
	out := make([]RuleStats, len(es))
	now, since := m.now(), m.sinceEpoch()
	m.mu.Lock()
	due := make([]int64, len(es))
	for i, e := range es {
		due[i] = e.lastEnd // where the next slot begins, once one was taken
		if due[i] == 0 {
			due[i] = now.Add(-time.Duration(since - e.pushed)).UnixNano() // due since its Push
		}
	}
	m.mu.Unlock()
	for i, e := range es {
		out[i] = e.statsNow(due[i])
	}
	if m.ctl.any.Load() {
		for i := range out {
			if p, ok := m.Paused(out[i].Identifier); ok {
				out[i].Paused = &p
			}
		}
	}
	m.agree.mu.Lock()
	for i := range out {
		if d, ok := m.agree.found[out[i].Identifier]; ok {
			out[i].Disagreement = &d
		}
	}
	m.agree.mu.Unlock()
	return out
}

// statsNow reads an entry's counters; due is its next due time.
func (e *entry) statsNow(due int64) RuleStats {
	c := &e.stats
	s := RuleStats{
		Identifier:   e.rule.Identifier,
		Name:         e.rule.Name,
		Type:         e.rule.Type,
		Interval:     e.rule.Interval,
		Drive:        e.rule.Drive,
		Runs:         c.runs.Load(),
		Succeeded:    c.succeeded.Load(),
		Won:          c.won.Load(),
		Lost:         c.lost.Load(),
		LastSlot:     c.lastSlot.Load(),
		LastLateness: time.Duration(c.lastLate.Load()),
		LastDuration: time.Duration(c.lastDur.Load()),
		LastResult:   e.lastResult(),
		NextDue:      time.Unix(0, due),
		Running:      e.runSince.Load() != 0,
	}
	if rc := c.rare.Load(); rc != nil {
		s.Failed = rc.ended[0].Load() // from OutcomeFailed on
		s.Panicked = rc.ended[OutcomePanicked-OutcomeFailed].Load()
		s.TimedOut = rc.ended[OutcomeTimedOut-OutcomeFailed].Load()
		for r := range rc.skips {
			if n := rc.skips[r].Load(); n > 0 {
				if s.SkipsBy == nil {
					s.SkipsBy = make(map[SkipReason]int64)
				}
				s.SkipsBy[SkipReason(r)] = n
				s.Skips += n
			}
		}
		s.CaughtUp = rc.caughtUp.Load()
		s.Retries = rc.retries.Load()
		s.LastSkip = SkipReason(rc.lastSkip.Load())
		if p := rc.lastErr.Load(); p != nil {
			s.LastError = *p
		}
		if p := rc.lastSkipErr.Load(); p != nil {
			s.LastSkipError = *p
		}
	}
	if e.rule.Schedule != nil {
		s.Schedule, s.Location = e.rule.Schedule.String(), zoneOf(e.rule.Schedule)
	}
	s.Errors = s.Failed + s.Panicked + s.TimedOut
	if t := c.lastStart.Load(); t != 0 {
		s.LastStart = time.Unix(0, t)
	}
	if t := c.lastSuccess.Load(); t != 0 {
		s.LastSuccess = time.Unix(0, t)
	}
	return s
}
