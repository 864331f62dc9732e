package ngxtasks

import (
	"context"
	"fmt"
	"time"
)

// Trigger runs the rule once, now, for the whole fleet: in this worker,
// on a goroutine of its own, under the slot in progress (Firing.Slot). It
// returns once the run is under way, or why not:
//
//   - ErrTriggered: a trigger of the rule was made within the last
//     second, from any worker sharing the dictionary: that one runs, so
//     that triggers made at once give one run;
//   - a *HeldError: the rule leases (Overlap skip) and a run holds its
//     lease somewhere, unless force;
//   - a *PausedError: the rule is paused, unless force.
//
// A forced trigger of a leasing rule runs without the lease, whatever
// holds it, and its Firing.Token is 0. Callers name themselves with
// WithOrigin for the log.
func (m *Manager) Trigger(ctx context.Context, identifier string, force bool) error {
	if err := m.ready(); err != nil {
		return err
	}
	e, err := m.ruleNamed(identifier)
	if err != nil {
		return err
	}
	ctx, stop := m.bound(ctx)
	defer stop()
	origin := m.originOf(ctx)
	f := turn{e: e, slot: m.slotOf(&e.rule, m.now()), triggered: true}
	if !force {
		if _, ok := m.dict.(Setter); ok {
			if err := m.readControls(ctx); err != nil {
				return fmt.Errorf("ngxtasks: trigger %q: its pause could not be read: %w", clip(identifier), err)
			}
		}
		if p, ok := m.pausedAt(e, &f.slot); ok {
			return &PausedError{Pause: p}
		}
	}
	claim := Add{Key: m.triggerKey(identifier), Value: origin, TTL: triggerWindow}
	if e.rule.leases() && !force {
		r := LeaseRequest{Key: m.leaseKey(e), Holder: m.worker, TTL: m.leaseTTL, Claim: claim}
		asked := time.Now()
		if err := m.dict.(Leaser).Lease(ctx, &r); err != nil {
			return fmt.Errorf("ngxtasks: trigger %q: %w", clip(identifier), err)
		}
		switch {
		case r.Acquired:
			f.lease = &turnLease{r.Token, asked}
		case r.HeldBy != "":
			return &HeldError{Holder: r.HeldBy, Token: r.Token}
		default:
			return ErrTriggered
		}
	} else {
		added, err := m.dict.Add(ctx, claim.Key, claim.Value, claim.TTL)
		if err != nil {
			return fmt.Errorf("ngxtasks: trigger %q: %w", clip(identifier), err)
		}
		if !added {
			return ErrTriggered
		}
	}
	if !m.admit(&f) {
		if f.lease != nil {
			go m.releaseLease(e, m.leaseKey(e), f.lease.token)
		}
		return fmt.Errorf("ngxtasks: trigger %q: a run of it goes on in this worker, or it is shutting down", clip(identifier))
	}
	m.logger.Info("ngxtasks: triggered", "rule", identifier, "slot", f.slot.N, "origin", origin, "force", force, "token", f.lease.tokenOf())
	m.newBatch().start(m.base, &f)
	return nil
}
