package ngxtasks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
//	no record, or    the rule is new to its slots: an Interval rule runs
//	one made under   its slot as any would, a Schedule's is not joined
//	other slots      midway
//	this slot or     it ran: not again
//	a later one
//	an earlier one   the slots in between are reported missed (SkipDown),
//	                 and this one runs if it began within the window, or
//	                 is reported missed with them
//
// A Preemption slot that passes still needs its claim: the first worker
// back wins it, the others find it claimed.
//
// The store may fail while the workers stay up. A CatchUp rule whose
// claim (or record) the store did not settle owes a screen (owe): its next
// turn reads the record as a first turn does, so the slots lost meanwhile
// are reported, and a slot the timer took is tried again, backing off,
// while it lasts: the slot in progress when the store is back runs once
// across the fleet, as after a restart. Each worker has already reported
// the slots whose claims failed (claim error); the screen reports them
// again as the fleet's (down), the same slots seen from the record.

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

// refuseUnable refuses rules that ask what the dictionary cannot do: keep
// a CatchUp rule's last run, or lease a rule.
func (m *Manager) refuseUnable(rules []Rule) error {
	_, setter := m.dict.(Setter)
	_, leaser := m.dict.(Leaser)
	for i := range rules {
		switch r := &rules[i]; {
		case r.CatchUp > 0 && !setter:
			return &RuleError{Rule: r.label(), Field: "CatchUp",
				Problem: fmt.Sprintf("needs a dictionary that can keep the rule's last run (a Setter); %T is not one", m.dict)}
		case r.Reruns > 0 && !setter:
			return &RuleError{Rule: r.label(), Field: "Reruns",
				Problem: fmt.Sprintf("needs a dictionary that can keep the rule's runs in flight (a Setter); %T is not one", m.dict)}
		case r.leases() && !leaser:
			return &RuleError{Rule: r.label(), Field: "Overlap",
				Problem: fmt.Sprintf("%v needs a dictionary that leases (a Leaser); %T is not one", r.Overlap, m.dict)}
		}
	}
	return nil
}

// caughtUp decides the first turn of a rule with CatchUp (see above): it
// reports the slots missed and whether this one may go on.
func (m *Manager) caughtUp(ctx context.Context, f *turn) bool {
	e := f.e
	value, ok, err := m.dict.Get(ctx, m.lastRunKey(e))
	if err != nil {
		if !f.retry {
			m.logger.Warn("ngxtasks: catch-up: the rule's last run could not be read; the slot waits for the store", "rule", e.rule.Identifier, "slot", f.slot.N, "error", err)
		}
		m.owe(f)
		return false
	}
	last, slots, whole := readLastRun(value)
	same := ok && whole && slots == slotsHash(&e.rule)
	switch {
	case !ok || !same: // the rule is new to its slots, unless its slot was taken at its start
		return e.rule.Schedule == nil || !f.first
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

// owe makes e's next turn screen for catch-up (the store did not settle
// turn f), and, if the timer took f, tries f's slot again after a delay
// that doubles from retryFirst to retryMax, while the slot lasts. A slot
// taken by Run or a request is not tried again: its callback runs where
// its caller called.
func (m *Manager) owe(f *turn) {
	f.e.stats.rareOf().owed.Store(true)
	delay := min(retryFirst<<min(f.attempt, 8), retryMax)
	if !f.timer || !m.now().Add(delay).Before(f.slot.End) {
		return
	}
	g := turn{e: f.e, slot: f.slot, first: f.first, timer: true, retry: true, attempt: f.attempt + 1}
	time.AfterFunc(delay, func() { m.retry(&g) })
}

// Delays between tries of a slot whose claim failed (owe).
const (
	retryFirst = 250 * time.Millisecond
	retryMax   = 8 * time.Second
)

// owing reports, once, whether e owes a screen (owe).
func (m *Manager) owing(e *entry) bool {
	rc := e.stats.rare.Load()
	return rc != nil && rc.owed.Swap(false)
}

// retry tries a slot again (owe), unless the manager closed, the rule
// left, or the slot passed meanwhile.
func (m *Manager) retry(f *turn) {
	if m.closed.Load() || f.e.leftWhy() != stillPushed || m.holds(f.slot, m.now()) != nil {
		return
	}
	if m.admit(f) {
		m.newBatch().start(m.base, f)
	}
}

// The record of a rule's last run is where its slot began (Unix ns), a
// space, and a hash of what places the rule's slots: a record made under
// other slots (a reload or a restart changed the schedule or the interval)
// is not this rule's, which is new to its slots, so the change never
// starts a run by itself.

// readLastRun reads a record: its slot's start and hash, and whether it
// is whole.
func readLastRun(value string) (start int64, slots string, ok bool) {
	num, slots, found := strings.Cut(value, " ")
	start, err := strconv.ParseInt(num, 10, 64)
	return start, slots, found && err == nil
}

// slotsHash hashes what places r's slots, for its record.
func slotsHash(r *Rule) string {
	what := r.Interval.String() + " " + r.Offset.String() + " " + strconv.FormatBool(r.Spread)
	if r.Schedule != nil {
		what = r.Schedule.String()
	}
	return strconv.FormatUint(fnv1a(what), 36)
}

// noteRun records that the slot s of e runs, for catch-up. A failure is
// logged, and the run goes on: the worst it does is a slot caught up twice
// in a worker, or reported missed though it ran.
func (m *Manager) noteRun(ctx context.Context, e *entry, s *Slot) {
	set := m.dict.(Setter) // refuseUnable made sure
	value := strconv.FormatInt(s.Start.UnixNano(), 10) + " " + slotsHash(&e.rule)
	err := set.Set(ctx, m.lastRunKey(e), value, lastRunTTL(&e.rule, s))
	if err != nil {
		m.logger.Warn("ngxtasks: catch-up: the rule's last run could not be stored", "rule", e.rule.Identifier, "slot", s.N, "error", err)
	}
}
