package ngxtasks

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Catch-up (Rule.CatchUp) runs the slot in progress at a worker's start if
// no worker ran it while the fleet was down, and reports the slots before
// it. It rests on one record per rule in the dictionary, the start of the
// last slot run, written (Set) as each run begins: the fleet's for a
// Preemption rule, each worker name's for a Normal one.
//
// A rule with CatchUp is handed out its slot in progress at its first
// step, as an Interval rule always is; screen then reads the record
// (caughtUp) before the slot may run or be claimed:
//
//	no record        the rule is new: an Interval rule runs its slot as
//	                 any would, a Schedule's is not joined midway
//	this slot or     it ran: not again
//	a later one
//	an earlier one   the slots in between are reported missed (SkipDown),
//	                 and this one runs if it began within the window, or
//	                 is reported missed with them
//
// A Preemption slot that passes still needs its claim: the first worker
// back wins it, the others find it claimed.

// lastRunTTL bounds how long a record outlives its rule's last run: long
// enough to count the slots of a long outage, at least a week.
func lastRunTTL(r *Rule, s *Slot) time.Duration {
	return max(10*slotLen(s), 2*r.CatchUp, 7*24*time.Hour)
}

// maxCaughtUp bounds the slots of a Schedule counted as missed, stepping
// from one to the next (an Interval's are counted by division).
const maxCaughtUp = 1_000_000

// lastRunKey is namespace:identifier:last, and for a Normal rule, whose
// slots run in every worker, @worker after it.
func (m *Manager) lastRunKey(e *entry) string {
	k := m.namespace + ":" + e.rule.Identifier + ":last"
	if e.rule.Type == Normal {
		k += "@" + m.worker
	}
	return k
}

// refuseCatchUp refuses rules with CatchUp when the dictionary cannot keep
// their last run.
func (m *Manager) refuseCatchUp(rules []Rule) error {
	if _, ok := m.dict.(Setter); ok {
		return nil
	}
	for i := range rules {
		if rules[i].CatchUp > 0 {
			return &RuleError{Rule: rules[i].label(), Field: "CatchUp",
				Problem: fmt.Sprintf("needs a dictionary that can keep the rule's last run (a Setter); %T is not one", m.dict)}
		}
	}
	return nil
}

// caughtUp decides the first turn of a rule with CatchUp (see above): it
// reports the slots missed and whether this one may go on.
func (m *Manager) caughtUp(ctx context.Context, f *turn) bool {
	e := f.e
	value, ok, err := m.dict.Get(ctx, m.lastRunKey(e))
	var last int64
	if err == nil && ok {
		last, err = strconv.ParseInt(value, 10, 64)
	}
	switch {
	case err != nil:
		m.logger.Warn("ngxtasks: catch-up: the rule's last run could not be read; it is taken as new", "rule", e.rule.Identifier, "error", err)
		return e.rule.Schedule == nil
	case !ok:
		return e.rule.Schedule == nil
	case last >= f.slot.Start.UnixNano():
		return false // it ran
	}
	from := m.slotOf(&e.rule, time.Unix(0, last)).End.UnixNano()
	missed := slotsBetween(&e.rule, from, f.slot.Start.UnixNano(), maxCaughtUp)
	within := m.now().Sub(f.slot.Start) <= e.rule.CatchUp
	if !within {
		missed++
	}
	if missed > 0 {
		m.missed(e, SkipDown, from, missed)
	}
	if within {
		e.stats.rareOf().caughtUp.Add(1)
	}
	return within
}

// noteRun records that the slot s of e runs, for catch-up. A failure is
// logged, and the run goes on: the worst it does is a slot caught up twice
// in a worker, or reported missed though it ran.
func (m *Manager) noteRun(ctx context.Context, e *entry, s *Slot) {
	set := m.dict.(Setter) // refuseCatchUp made sure
	err := set.Set(ctx, m.lastRunKey(e), strconv.FormatInt(s.Start.UnixNano(), 10), lastRunTTL(&e.rule, s))
	if err != nil {
		m.logger.Warn("ngxtasks: catch-up: the rule's last run could not be stored", "rule", e.rule.Identifier, "slot", s.N, "error", err)
	}
}
