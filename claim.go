package ngxtasks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// What a claim is: its key, how long it lives, when its answer is in time.
// The step (step.go) makes the claims; these are its rules.

var (
	errLate       = errors.New("slot ended before its claim was answered")
	errNotCurrent = errors.New("the clock moved: the slot does not hold the present")
	errStale      = errors.New("slot ended before it could be claimed")
)

// stale is the error of a slot found not holding the present before its
// claim: it says the worker was slow, not the store.
func stale(err error) error {
	if errors.Is(err, errLate) {
		return errStale
	}
	return err
}

// holds checks that a slot holds the present, now, by this worker's clock.
// It fails when the slot has ended (late), or when it lies ahead by more
// than half the SkewTolerance: the slot was taken under a clock reading
// that has since moved back (a clock stepped), and a claim made that early
// would expire before the other workers' clocks leave the slot, letting
// one of them claim it again.
//
// Half the tolerance is allowed because re-measuring the store's clock
// moves the present by a few milliseconds either way: a claim made up to
// that early still lives until SkewTolerance/2 after the slot ends, which
// covers workers within the half tolerance that the skew alarm watches.
func (m *Manager) holds(s Slot, now time.Time) error {
	switch {
	case now.Before(s.Start.Add(-m.tolerance / 2)):
		return errNotCurrent
	case !now.Before(s.End):
		return errLate
	}
	return nil
}

// claimTTL is how long a claim of slot s lives: as long as the slot, and
// SkewTolerance, so that it outlives the slot on every worker's clock.
func (m *Manager) claimTTL(s *Slot) time.Duration { return slotLen(s) + m.tolerance }

// lateErr is the error of a claim answered after its slot ended.
func lateErr(err error) error {
	if err == nil || errors.Is(err, errLate) {
		return errLate
	}
	return fmt.Errorf("%w: %w", errLate, err)
}

// claimKey is namespace:name:slot.
func (m *Manager) claimKey(e *entry, s Slot) string {
	name := m.keys.Name(&e.rule, s)
	b := make([]byte, 0, len(m.namespace)+len(name)+22)
	b = append(b, m.namespace...)
	b = append(b, ':')
	b = append(b, name...)
	b = append(b, ':')
	if e.rule.Schedule != nil {
		b = append(b, e.rule.Schedule.SlotName(s)...)
	} else {
		b = strconv.AppendInt(b, s.N, 10)
	}
	return string(b)
}

// Winner returns the worker that claimed the slot of a Preemption rule that
// holds the instant at, if that claim is still alive in the dictionary.
func (m *Manager) Winner(ctx context.Context, identifier string, at time.Time) (string, bool, error) {
	e, err := m.ruleNamed(identifier)
	if err != nil {
		return "", false, err
	}
	v, ok, err := m.dict.Get(context.WithValue(ctx, loggerKey{}, m.logger), m.claimKey(e, m.slotOf(&e.rule, at)))
	worker, _ := splitClaim(v)
	return worker, ok, err
}
