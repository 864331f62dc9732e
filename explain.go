package ngxtasks

import (
	"context"
	"fmt"
	"time"
)

// An Explanation says what became of one slot of a rule: in this worker,
// from its history, and across the fleet, from the dictionary.
type Explanation struct {
	Rule string
	Slot Slot
	// Record is what this worker did with the slot; nil when its history
	// does not hold the slot (see Why).
	Record *SlotRecord
	// Winner is the worker that holds the slot's claim, for a Preemption
	// rule whose claim still lives in the dictionary (Interval +
	// SkewTolerance from the claim); WinnerKnown says whether it does.
	Winner      string
	WinnerKnown bool
	// StoreError is why the dictionary could not be asked, if it could not.
	StoreError string
	// Why says it in a sentence.
	Why string
}

// Explain says what became of the slot of a rule that holds the instant
// at: whether it is due yet, whether this worker drove it, what it did and
// why (from its History), and, for a Preemption rule, which worker holds
// its claim (as Winner does). A slot older than the history kept says so
// rather than guessing. It fails only for an unknown rule.
func (m *Manager) Explain(ctx context.Context, identifier string, at time.Time) (Explanation, error) {
	e, err := m.ruleNamed(identifier)
	if err != nil {
		return Explanation{}, err
	}
	s := m.slotOf(&e.rule, at)
	x := Explanation{Rule: identifier, Slot: s}
	now := m.now()
	if e.rule.Type == Preemption && !s.Start.After(now) {
		w, ok, err := m.dict.Get(context.WithValue(ctx, loggerKey{}, m.logger), m.claimKey(e, s))
		if err != nil {
			x.StoreError = err.Error()
		}
		x.Winner, _ = splitClaim(w)
		x.WinnerKnown = ok
	}
	x.Why = m.why(e, &x, now) + m.fleetPart(e, &x, now)
	return x, nil
}

// why finds the slot in the rule's history and words what became of it
// in this worker.
func (m *Manager) why(e *entry, x *Explanation, now time.Time) string {
	s := x.Slot
	if s.Start.After(now) {
		return fmt.Sprintf("not due yet: the slot starts at %s", stamp(s.Start))
	}
	pushed := now.Add(-time.Duration(m.sinceEpoch() - e.pushed))
	if !s.End.After(pushed) {
		return fmt.Sprintf("the slot ended before this worker had the rule (pushed at %s)", stamp(pushed))
	}
	if m.history == 0 {
		return "this worker keeps no history (Manager.HistoryLen is negative)"
	}
	var recs []SlotRecord
	if h := e.history.Load(); h != nil {
		recs = h.records(m.slotOf, &e.rule)
	}
	for i := range recs {
		r := &recs[i]
		if r.Slot.N == s.N || (r.Reason == SkipBehind && s.N > r.Slot.N && s.N < r.Slot.N+r.Missed) {
			x.Record = r
			return recordPart(r)
		}
	}
	if len(recs) == m.history && s.End.Before(recs[0].Slot.End) {
		return fmt.Sprintf("older than the %d slots this worker keeps per rule (the oldest starts at %s)", m.history, stamp(recs[0].Slot.Start))
	}
	if s.End.After(now) {
		return "in progress, and not taken here yet: the next drive step that may take the rule will"
	}
	mode := "no drive step"
	if e.rule.Drive != DriveAny {
		mode = fmt.Sprintf("no drive step of mode %q (the rule's Drive)", e.rule.Drive)
	}
	return mode + " came here while the slot lasted, so this worker did not take it"
}

// recordPart words a history record.
func recordPart(r *SlotRecord) string {
	switch r.Outcome {
	case OutcomeWon:
		return "won here; the run has not begun"
	case OutcomeRunning:
		return fmt.Sprintf("running here since %s (%v late)", stamp(r.Start), r.Lateness)
	case OutcomeSucceeded:
		return fmt.Sprintf("ran here at %s (%v late), succeeded in %v%s", stamp(r.Start), r.Lateness, r.Duration, tries(r))
	case OutcomeFailed, OutcomePanicked, OutcomeTimedOut:
		return fmt.Sprintf("ran here at %s (%v late) and %s after %v%s: %s", stamp(r.Start), r.Lateness, r.Outcome, r.Duration, tries(r), r.Err)
	case OutcomeLost:
		return fmt.Sprintf("another worker claimed it first (claim answered in %v)", r.Claim)
	}
	switch r.Reason {
	case SkipOverlap:
		return "skipped here: the rule's previous run was still going"
	case SkipFiltered:
		return "skipped here: the rule's Filter said no"
	case SkipClaimError:
		return "skipped here: the claim failed, so the slot was not run (fail closed): " + r.Err
	case SkipLate:
		return "skipped here: the claim was answered after the slot ended, or the clock moved off it: " + r.Err
	case SkipClosed:
		return "skipped here: the manager was shutting down"
	case SkipClockSkewed:
		return "skipped here: this worker's clock was not known to be within SkewTolerance/2 of the store's, so it did not claim the slot: " + r.Err
	case SkipBusy:
		return "skipped here: MaxRunning callbacks of this worker went on until the slot's latest start (a tenth of its interval, at most a second, before it ended)"
	case SkipBehind:
		return fmt.Sprintf("missed here: the timer loop did not run while it lasted (%d slots missed from slot %d)", r.Missed, r.Slot.N)
	case SkipPaused:
		return "skipped: the rule was " + r.Err
	case SkipElsewhere:
		return "skipped: a run of the rule held its lease in another worker (Overlap skip): " + r.Err
	case SkipDown:
		if r.Missed > 1 {
			return fmt.Sprintf("missed: no worker ran it while the fleet was down (%d slots missed from this one); CatchUp runs the latest slot only, if it began within the window", r.Missed)
		}
		return "missed: no worker ran it while the fleet was down, and it began before the CatchUp window"
	}
	return "unknown outcome"
}

// tries words a run's retries, if it had any: its last try is the one
// the outcome tells.
func tries(r *SlotRecord) string {
	if r.Tries <= 1 {
		return ""
	}
	return fmt.Sprintf(" (the last of %d tries)", r.Tries)
}

// fleetPart words who holds the claim of a Preemption slot that has begun.
func (m *Manager) fleetPart(e *entry, x *Explanation, now time.Time) string {
	switch {
	case e.rule.Type != Preemption, x.Slot.Start.After(now):
		return ""
	case x.StoreError != "":
		return "; the dictionary could not say who holds the claim: " + x.StoreError
	case x.WinnerKnown && x.Winner == m.worker:
		return "; the claim is this worker's (" + m.worker + ")"
	case x.WinnerKnown:
		return "; worker " + x.Winner + " holds the claim"
	}
	return "; no claim lives for it in the dictionary (none was stored, or it expired: claims live Interval + SkewTolerance)"
}

func stamp(t time.Time) string { return t.Format("2006-01-02 15:04:05.000 MST") }
