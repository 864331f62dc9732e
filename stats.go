package ngxtasks

import (
	"sync/atomic"
	"time"
)

// RuleStats is what a worker knows about one of its rules.
type RuleStats struct {
	Identifier   string
	Name         string
	Type         Type
	Interval     time.Duration
	Runs         int64 // runs started
	Errors       int64 // runs that returned an error, panicked or timed out
	Skips        int64 // due slots not run here (overlap, filter, claim error, late, behind)
	Won          int64 // Preemption slots this worker claimed
	Lost         int64 // Preemption slots another worker held
	LastSlot     int64 // slot of the last run started
	LastStart    time.Time
	LastDuration time.Duration
	LastError    string // of the last run that failed
	NextDue      time.Time
	Running      bool
}

type counters struct {
	runs, errors, skips, won, lost atomic.Int64
	lastSlot, lastStart, lastDur   atomic.Int64
	lastErr                        atomic.Pointer[string]
}

func (c *counters) record(kind EventKind, slot int64, d time.Duration, err error) {
	switch kind {
	case EventFired:
		c.runs.Add(1)
		c.lastSlot.Store(slot)
	case EventFinished:
		c.lastDur.Store(int64(d))
		if err != nil {
			c.errors.Add(1)
			msg := err.Error()
			c.lastErr.Store(&msg)
		}
	case EventWon:
		c.won.Add(1)
	case EventLost:
		c.lost.Add(1)
	case EventSkipped:
		c.skips.Add(1)
	}
}

// Stats returns statistics of every rule, in push order.
func (m *Manager) Stats() []RuleStats {
	es := m.entries()
	out := make([]RuleStats, len(es))
	m.mu.Lock()
	due := make([]int64, len(es))
	for i, e := range es {
		due[i] = e.due
	}
	m.mu.Unlock()
	for i, e := range es {
		c := &e.stats
		s := RuleStats{
			Identifier:   e.rule.Identifier,
			Name:         e.rule.Name,
			Type:         e.rule.Type,
			Interval:     e.rule.Interval,
			Runs:         c.runs.Load(),
			Errors:       c.errors.Load(),
			Skips:        c.skips.Load(),
			Won:          c.won.Load(),
			Lost:         c.lost.Load(),
			LastSlot:     c.lastSlot.Load(),
			LastDuration: time.Duration(c.lastDur.Load()),
			NextDue:      time.Unix(0, due[i]),
			Running:      e.runSince.Load() != 0,
		}
		if t := c.lastStart.Load(); t != 0 {
			s.LastStart = time.Unix(0, t)
		}
		if p := c.lastErr.Load(); p != nil {
			s.LastError = *p
		}
		out[i] = s
	}
	return out
}
