package ngxtasks

import (
	"fmt"
	"slices"
	"time"
)

// Changes is what Replace did, by rule identifier.
type Changes struct {
	Added   []string // new identifiers
	Changed []string // known identifiers with a new definition
	Removed []string // identifiers no longer there, sorted
	Kept    int      // rules left as they were
}

// Replace makes rules the manager's rules in one step: a drive step sees
// the rules before or after, never a mix. It is how a program reloads its
// configuration without losing or doubling a slot.
//
//   - A rule whose Identifier, non-empty Version and settings (every field
//     but Callback and Filter) equal those of the pushed rule is kept as it
//     is: its callback, history, counters and run in progress stay.
//   - A rule pushed under a known Identifier otherwise replaces the old
//     one: a slot the old definition took (its run in progress, or one
//     about to start) is run by it, and when both cut time into the same
//     slots, the new one does not run that slot again. Its history and
//     counters start afresh.
//   - A new Identifier is added as Push adds it; one not in rules is
//     removed as Remove does.
//
// Replace checks every rule first and changes nothing if one is invalid.
func (m *Manager) Replace(rules ...Rule) (Changes, error) {
	var c Changes
	if err := m.ready(); err != nil {
		return c, err
	}
	if err := validateAll(rules, "Replace"); err != nil {
		return c, err
	}
	if err := m.refuseUnable(rules); err != nil {
		return c, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := make(map[string]bool, len(rules))
	for i := range rules {
		keep[rules[i].Identifier] = true
	}
	for id, e := range m.rules {
		if !keep[id] {
			m.drop(e, now, leftRemoved)
			c.Removed = append(c.Removed, id)
		}
	}
	slices.Sort(c.Removed)
	m.growLanes(rules)
	pushed := m.sinceEpoch()
	m.forgetPast(now)
	for i := range rules {
		r := &rules[i]
		old, known := m.rules[r.Identifier]
		switch {
		case known && sameDefinition(&old.rule, r):
			c.Kept++
			continue
		case known:
			m.drop(old, now, leftReplaced)
			c.Changed = append(c.Changed, r.Identifier)
		default:
			c.Added = append(c.Added, r.Identifier)
		}
		m.add(r, now, pushed)
	}
	for d := range m.lanes {
		m.lanes[d].dropRemoved()
	}
	m.setGates()
	m.poke()
	m.forgetControls()      // the new rules may be paused
	m.agree.tokens.Store(0) // and their claims are checked anew
	return c, nil
}

// sameDefinition says whether b may keep a's entry: same Version, known,
// and the same settings. Callbacks cannot be compared; Version stands for
// them.
func sameDefinition(a, b *Rule) bool {
	return a.Version != "" && a.Version == b.Version &&
		a.Name == b.Name && a.Interval == b.Interval && sameSchedule(a.Schedule, b.Schedule) && a.Type == b.Type &&
		a.Timeout == b.Timeout && a.Offset == b.Offset && a.Spread == b.Spread &&
		a.Background == b.Background && a.Drive == b.Drive && a.MaxRunning == b.MaxRunning &&
		a.Overlap == b.Overlap && a.Reruns == b.Reruns && sameRetry(a.Retry, b.Retry)
}

// sameRetry says whether two retry policies are alike: both none, or equal.
func sameRetry(a, b *Retry) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// sameSchedule says whether two schedules place the same slots: both none,
// or both written alike (a schedule is parsed anew for each definition).
func sameSchedule(a, b Schedule) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.String() == b.String()
}

// MarkRan records that the rule's slot holding at has run already — in the
// process this worker takes over from, say — so that no drive step of this
// manager runs that slot, or an earlier one. A supervisor that restarts a
// worker hands the new one the slots the old one began (see Watch and
// EventFired), and the new one calls MarkRan for each after Push and
// before it drives: a Normal slot then runs once in that worker even when
// the worker died in the middle of it.
//
// It never moves a rule back: marking a slot before the last one taken
// does nothing.
func (m *Manager) MarkRan(identifier string, at time.Time) error {
	if err := m.ready(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.rules[identifier]
	if e == nil {
		return fmt.Errorf("ngxtasks: MarkRan: no rule %q", clip(identifier))
	}
	if end := m.slotOf(&e.rule, at).End.UnixNano(); end > e.lastEnd {
		e.lastEnd = end
	}
	return nil
}
