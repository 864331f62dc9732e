package ngxtasks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A run of a rule that leases (Rule.Overlap) holds the rule's lease from its
// claim to its end. The claim took it (step.go); here the worker keeps it:
// every lease its runs hold is renewed in one round trip (Leaser.Renew) each
// third of LeaseTTL, and a run is cancelled, with ErrLeaseLost, as soon as
// it may no longer hold its lease:
//
//   - the store refused a renewal: its token no longer holds the key;
//   - no renewal was answered before LeaseTTL·4/5 had passed since the last
//     one that was (or the claim) was sent.
//
// A lease lives LeaseTTL from when the store received its last renewal,
// which is after the worker sent it: measured from the sending, on the
// worker's monotonic clock, the lease cannot have expired before LeaseTTL
// has passed. The fifth held back is the run's time to stop once
// cancelled, and room for clocks that tick at slightly different rates.
// The callback must return when its context ends; a write it makes after
// that is refused by a resource that checks Firing.Token.

// A turnLease is the lease a turn's claim took: its token, and when the
// request was sent (the lease lives LeaseTTL from after that).
type turnLease struct {
	token uint64
	at    time.Time
}

// tokenOf is the lease's token, 0 for none.
func (l *turnLease) tokenOf() uint64 {
	if l == nil {
		return 0
	}
	return l.token
}

// heldLeases are the leases of a manager's runs, and the renewer that
// keeps them while there are any.
type heldLeases struct {
	mu      sync.Mutex
	all     map[*held]struct{}
	stop    chan struct{} // closed when the last lease is let go; nil when no renewer runs
	renewed atomic.Int64  // round trips made, for tests
}

// held is one run's lease.
type held struct {
	e      *entry
	key    string
	token  uint64
	cancel context.CancelCauseFunc
	lost   atomic.Bool
	// expiry cancels the run when no renewal came in time; each renewal
	// answered pushes it back.
	expiry *time.Timer
}

// leaseKey is the key of a rule's lease: namespace:identifier:lease, as
// the rule's other records are named. Not the key generator's name: that
// may depend on the slot (MidnightKeys' has the date), and a generator
// written in Lua may fail.
func (m *Manager) leaseKey(e *entry) string {
	return m.namespace + ":" + e.rule.Identifier + ":lease"
}

// leaseSafe is how long after a lease's renewal (or taking) was sent its
// run may go on: the lease lives LeaseTTL from when the store received it.
func (m *Manager) leaseSafe() time.Duration { return m.leaseTTL - m.leaseTTL/5 }

// hold keeps the lease a turn's claim took while its run goes on: it
// returns the run's context, cancelled when the lease is lost, and the
// function that lets the lease go at the run's end.
func (m *Manager) hold(ctx context.Context, f *turn) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	h := &held{e: f.e, key: m.leaseKey(f.e), token: f.lease.token, cancel: cancel}
	left := m.leaseSafe() - time.Since(f.lease.at)
	h.expiry = time.AfterFunc(max(left, 0), func() {
		m.lose(h, fmt.Errorf("%w: not renewed within %v of its last renewal", ErrLeaseLost, m.leaseSafe()))
	})
	hl := &m.held
	hl.mu.Lock()
	if hl.all == nil {
		hl.all = make(map[*held]struct{})
	}
	hl.all[h] = struct{}{}
	if hl.stop == nil {
		hl.stop = make(chan struct{})
		go m.renewLeases(hl.stop)
	}
	hl.mu.Unlock()
	return ctx, func() {
		h.expiry.Stop()
		hl.mu.Lock()
		delete(hl.all, h)
		if len(hl.all) == 0 && hl.stop != nil {
			close(hl.stop)
			hl.stop = nil
		}
		hl.mu.Unlock()
		cancel(nil)
		if !h.lost.Load() {
			m.releaseLease(h.e, h.key, h.token)
		}
	}
}

// runHolding runs a turn whose claim took a lease: it keeps the lease
// from here, whether the callback runs or not (MaxRunning may refuse it),
// and lets it go at the end, before the rule looks idle here, so that
// this worker's next slot of the rule does not find its own lease.
func (m *Manager) runHolding(ctx context.Context, f *turn, ex *Exchange) error {
	ctx, let := m.hold(ctx, f)
	f.held = true
	e := f.e
	defer func() {
		if e.rule.Reruns > 0 && ctx.Err() == nil { // a run cut off is not done: it runs again
			if err := m.markDone(e); err != nil {
				m.logger.Warn("ngxtasks: re-runs: the run's end could not be recorded; its slot may run again", "rule", e.rule.Identifier, "slot", f.slot.N, "error", err)
			}
		}
		let()
		if f.marked {
			e.runSince.Store(0)
		}
	}()
	if e.rule.Reruns > 0 {
		reruns, ok := m.rerunFirst(ctx, f, ex)
		if !ok {
			return nil
		}
		if err := m.markInflight(ctx, e, &f.slot, reruns); err != nil {
			m.logger.Warn("ngxtasks: re-runs: the run could not be recorded; should it die, its slot is lost", "rule", e.rule.Identifier, "slot", f.slot.N, "error", err)
		}
		if reruns > 0 {
			m.logger.Warn("ngxtasks: re-running a slot whose run died holding the lease", "rule", e.rule.Identifier, "slot", f.slot.N, "rerun", reruns, "token", f.lease.token)
		}
	}
	return m.run(ctx, f, ex)
}

// lose cancels a run whose lease is lost, once, and says so.
func (m *Manager) lose(h *held, cause error) {
	if h.lost.Swap(true) {
		return
	}
	h.cancel(cause)
	m.logger.Warn("ngxtasks: run cancelled: its lease is lost", "rule", h.e.rule.Identifier, "token", h.token, "err", cause)
}

// releaseLease lets a lease go, so that the rule's next slot need not wait
// for it to expire. A release that fails leaves it to expire.
func (m *Manager) releaseLease(e *entry, key string, token uint64) {
	ctx, cancel := context.WithTimeout(m.base, m.leaseTTL)
	defer cancel()
	if _, err := m.dict.(Leaser).Release(ctx, key, token); err != nil {
		m.logger.Debug("ngxtasks: lease not released; it expires", "rule", e.rule.Identifier, "token", token, "err", err)
	}
}

// renewLeases renews every held lease each third of LeaseTTL, in one round
// trip, until stop is closed.
func (m *Manager) renewLeases(stop chan struct{}) {
	period := m.leaseTTL / 3
	tick := time.NewTicker(period)
	defer tick.Stop()
	var hs []*held
	var rs []Renewal
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		hs, rs = hs[:0], rs[:0]
		m.held.mu.Lock()
		for h := range m.held.all {
			if !h.lost.Load() {
				hs = append(hs, h)
				rs = append(rs, Renewal{Key: h.key, Token: h.token, TTL: m.leaseTTL})
			}
		}
		m.held.mu.Unlock()
		if len(rs) == 0 {
			continue
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(m.base, m.leaseSafe())
		err := m.dict.(Leaser).Renew(ctx, rs)
		cancel()
		m.held.renewed.Add(1)
		if err != nil {
			m.logger.Debug("ngxtasks: leases not renewed", "leases", len(rs), "err", err)
			continue // each run's expiry cancels it if none comes in time
		}
		for i, h := range hs {
			switch r := &rs[i]; {
			case r.Renewed:
				if !h.lost.Load() {
					h.expiry.Reset(max(m.leaseSafe()-time.Since(sent), 0))
				}
			case r.Err == nil:
				m.lose(h, fmt.Errorf("%w: its token %d no longer holds the lease", ErrLeaseLost, h.token))
			}
		}
		clear(hs)
	}
}

// leaseAll makes a step's claims, those of rules that lease together with
// their lease (leases[i] for fs[i], its Key empty for a rule that does
// not), setting adds and answers as addAll does. The plain claims go in
// one round trip, as addAll makes them; each lease in one of its own, all
// at once.
func (m *Manager) leaseAll(ctx context.Context, fs []turn, adds []Add, leases []LeaseRequest, answers []answer, asked time.Time) error {
	var wg sync.WaitGroup
	var plain []int
	for i := range fs {
		if !fs[i].e.rule.leases() {
			leases[i] = LeaseRequest{}
			plain = append(plain, i)
			continue
		}
		leases[i] = LeaseRequest{Key: m.leaseKey(fs[i].e), Holder: m.worker, TTL: m.leaseTTL, Claim: adds[i]}
		wg.Go(func() {
			r := &leases[i]
			err := m.dict.(Leaser).Lease(ctx, r)
			adds[i].Added, adds[i].Err = r.Acquired && r.Claim.Added, err
			answers[i] = answer{m.now(), time.Since(asked)}
		})
	}
	var err error
	if len(plain) > 0 {
		sub := make([]Add, len(plain))
		subAnswers := make([]answer, len(plain))
		for j, i := range plain {
			sub[j] = adds[i]
		}
		err = m.addAll(ctx, sub, subAnswers, asked)
		for j, i := range plain {
			adds[i], answers[i] = sub[j], subAnswers[j]
		}
	}
	wg.Wait()
	return err
}

// leaseAnswered settles a turn whose lease another run holds: skipped,
// naming the holder, if the answer came in time. It reports whether it
// settled the turn; if not, judge does, from the claim's answer.
func (m *Manager) leaseAnswered(f *turn, r *LeaseRequest, err error, asked time.Time, a answer) bool {
	if err != nil || r.Acquired || r.HeldBy == "" || !a.at.Before(f.slot.End) {
		return false
	}
	m.watch.answered(m, asked.Add(a.rtt))
	switch f.e.rule.Overlap {
	case OverlapBufferOne:
		go m.buffer(*f, r.Claim, &HeldError{Holder: r.HeldBy, Token: r.Token})
		return true
	case OverlapReplace:
		go m.replace(*f, *r)
		return true
	}
	m.emit(f.e, EventSkipped, &f.slot, SkipElsewhere, a.rtt, &HeldError{Holder: r.HeldBy, Token: r.Token}, 0)
	return true
}

// replace takes a replace slot's lease from the run that holds it: it
// releases the holder's token (the one the store named), then takes the
// lease with the slot's claim, under a higher token, and starts the run.
// If another worker got there first, the slot is theirs. A holder in this
// worker is cancelled at once; one elsewhere at its next renewal.
func (m *Manager) replace(f turn, r LeaseRequest) {
	e := f.e
	ctx, cancel := context.WithDeadline(m.base, time.Now().Add(f.slot.End.Sub(m.now())))
	defer cancel()
	l := m.dict.(Leaser)
	old := &HeldError{Holder: r.HeldBy, Token: r.Token}
	if _, err := l.Release(ctx, r.Key, r.Token); err != nil {
		m.emit(e, EventSkipped, &f.slot, SkipClaimError, 0, err, 0)
		return
	}
	if r.HeldBy == m.worker {
		m.loseHeld(e, r.Token, fmt.Errorf("%w: replaced by slot %d's run (overlap replace)", ErrLeaseLost, f.slot.N))
	}
	take := LeaseRequest{Key: r.Key, Holder: m.worker, TTL: m.leaseTTL, Claim: Add{Key: r.Claim.Key, Value: r.Claim.Value, TTL: r.Claim.TTL}}
	asked := time.Now()
	err := l.Lease(ctx, &take)
	switch {
	case err != nil:
		m.emit(e, EventSkipped, &f.slot, SkipClaimError, 0, err, 0)
		return
	case !take.Acquired && take.HeldBy != "":
		m.emit(e, EventSkipped, &f.slot, SkipElsewhere, 0, &HeldError{Holder: take.HeldBy, Token: take.Token}, 0)
		return
	case !take.Acquired:
		m.emit(e, EventLost, &f.slot, 0, time.Since(asked), nil, 0)
		return
	case m.holds(f.slot, m.now()) != nil:
		m.releaseLease(e, take.Key, take.Token)
		m.emit(e, EventSkipped, &f.slot, SkipLate, 0, errLate, 0)
		return
	}
	m.logger.Info("ngxtasks: run replaced", "rule", e.rule.Identifier, "slot", f.slot.N, "replaced", old.Holder, "replaced_token", old.Token, "token", take.Token)
	m.startHeld(f, take.Token, asked, true)
}

// loseHeld cancels this worker's run of the rule under token, if one goes on.
func (m *Manager) loseHeld(e *entry, token uint64, cause error) {
	m.held.mu.Lock()
	var victim *held
	for h := range m.held.all {
		if h.e == e && h.token == token {
			victim = h
		}
	}
	m.held.mu.Unlock()
	if victim != nil {
		m.lose(victim, cause)
	}
}

// buffer keeps a buffer_one slot pending while another run holds the
// rule's lease: it claims the slot alone (one worker keeps it pending),
// then asks for the lease until it is let go or the slot ends, and starts
// the run under it. A slot that ends pending is skipped, running
// elsewhere.
func (m *Manager) buffer(f turn, claim Add, held *HeldError) {
	e := f.e
	ctx, cancel := context.WithDeadline(m.base, time.Now().Add(f.slot.End.Sub(m.now())))
	defer cancel()
	added, err := m.dict.Add(ctx, claim.Key, claim.Value, claim.TTL)
	switch {
	case err != nil:
		m.emit(e, EventSkipped, &f.slot, SkipClaimError, 0, err, 0)
		return
	case !added:
		m.emit(e, EventLost, &f.slot, 0, 0, nil, 0)
		return
	}
	every := min(max(slotLen(&f.slot)/20, 10*time.Millisecond), 250*time.Millisecond)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.emit(e, EventSkipped, &f.slot, SkipElsewhere, 0, held, 0)
			return
		case <-t.C:
		}
		r := LeaseRequest{Key: m.leaseKey(e), Holder: m.worker, TTL: m.leaseTTL}
		asked := time.Now()
		if err := m.dict.(Leaser).Lease(ctx, &r); err == nil && r.Acquired {
			if m.holds(f.slot, m.now()) != nil {
				m.releaseLease(e, r.Key, r.Token)
				m.emit(e, EventSkipped, &f.slot, SkipElsewhere, 0, held, 0)
				return
			}
			m.startHeld(f, r.Token, asked, true)
			return
		} else if err == nil && r.HeldBy != "" {
			held = &HeldError{Holder: r.HeldBy, Token: r.Token}
		}
		t.Reset(every)
	}
}

// leaseJudged keeps the lease a judged turn took, for its run, or lets it
// go at once if the turn is not to run (its answer came too late).
func (m *Manager) leaseJudged(f *turn, r *LeaseRequest, asked time.Time) {
	if f.verdict == runIt {
		f.lease = &turnLease{r.Token, asked}
		return
	}
	go m.releaseLease(f.e, r.Key, r.Token)
}

// startHeld starts, on a goroutine of its own, the run of a turn settled
// outside a step, under the lease its token holds (taken by a request sent
// at asked), as won if it was; or lets the lease go if this worker cannot
// admit the turn.
func (m *Manager) startHeld(f turn, token uint64, asked time.Time, won bool) {
	f.lease, f.triggered, f.verdict = &turnLease{token, asked}, true, runIt
	if !m.admit(&f) {
		m.releaseLease(f.e, m.leaseKey(f.e), token)
		return
	}
	if won {
		m.emit(f.e, EventWon, &f.slot, 0, time.Since(asked), nil, 0)
	}
	m.newBatch().start(m.base, &f)
}
