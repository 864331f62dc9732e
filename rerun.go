package ngxtasks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A Preemption slot whose winner dies mid-run is lost (P3), unless its rule
// has Reruns. Such a rule's runs hold its lease (Rule.Overlap), and each
// is recorded in the dictionary as it starts (namespace:id:inflight names
// the slot and how often it was re-run) and marked done as it ends, before
// its lease is let go. A lease let go, or expired, with no such mark means
// the run's worker died or was cut off: the next worker to take the lease
// runs that slot again first, under its higher token, up to Reruns times
// for the slot, then gives it up and says so. Every worker looks for such
// a slot each LeaseTTL/2, so a dead winner's slot runs again within about
// 1.5 LeaseTTL of the death (its lease's life, then a look), or at the
// rule's next slot, whichever comes first.
//
// A run whose done mark could not be written is run again: with Reruns, a
// slot runs at least once and, while every mark is written, exactly once.
// Work that is idempotent and a resource that checks Firing.Token make
// the repeats harmless.

// inflightTTL is how long a run's record lives: a re-run can come that
// long after the death.
const inflightTTL = 7 * 24 * time.Hour

func (m *Manager) inflightKey(e *entry) string {
	return m.namespace + ":" + e.rule.Identifier + ":inflight"
}

// inflight is a run's record: the slot and the re-runs made of it.
type inflight struct {
	slot   Slot
	reruns int
}

// readInflight reads the rule's record; ok is false when no run is in
// flight by it (none recorded, or the last one done).
func (m *Manager) readInflight(ctx context.Context, e *entry) (inflight, bool, error) {
	v, ok, err := m.dict.Get(ctx, m.inflightKey(e))
	if err != nil || !ok {
		return inflight{}, false, err
	}
	f := strings.Fields(v)
	if len(f) != 5 || f[0] != "run" {
		return inflight{}, false, nil
	}
	var n [4]int64
	for i := range n {
		if n[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return inflight{}, false, nil
		}
	}
	return inflight{slot: Slot{N: n[2], Start: time.Unix(0, n[0]), End: time.Unix(0, n[1])}, reruns: int(n[3])}, true, nil
}

// markInflight records that slot s's run starts (the reruns-th re-run).
func (m *Manager) markInflight(ctx context.Context, e *entry, s *Slot, reruns int) error {
	v := "run " + strconv.FormatInt(s.Start.UnixNano(), 10) + " " + strconv.FormatInt(s.End.UnixNano(), 10) + " " +
		strconv.FormatInt(s.N, 10) + " " + strconv.Itoa(reruns)
	return m.dict.(Setter).Set(ctx, m.inflightKey(e), v, inflightTTL)
}

// markDone records that the rule's run ended.
func (m *Manager) markDone(e *entry) error {
	ctx, cancel := context.WithTimeout(m.base, m.leaseTTL)
	defer cancel()
	return m.dict.(Setter).Set(ctx, m.inflightKey(e), "done", inflightTTL)
}

// rerunFirst runs, before a leased turn's own run, the slot whose run
// died holding the rule's lease, if one did and may run again; and tells
// how many re-runs the turn's own slot has had (for one the watcher
// found, the turn is that slot's re-run). It reports false when the
// turn's own run is not to go on: its slot was given up.
func (m *Manager) rerunFirst(ctx context.Context, f *turn, ex *Exchange) (reruns int, ok bool) {
	e := f.e
	rec, inFlight, err := m.readInflight(ctx, e)
	if err != nil {
		m.logger.Warn("ngxtasks: re-runs: the rule's record could not be read", "rule", e.rule.Identifier, "error", err)
		return 0, true
	}
	if !inFlight {
		return 0, true
	}
	if rec.slot.Start.Equal(f.slot.Start) {
		return m.rerunNumber(e, rec)
	}
	if n, ok := m.rerunNumber(e, rec); ok { // another slot died: run it first
		g := *f
		g.slot, g.marked = rec.slot, false
		m.logger.Warn("ngxtasks: re-running a slot whose run died holding the lease", "rule", e.rule.Identifier, "slot", rec.slot.N, "rerun", n, "token", f.lease.token)
		if err := m.markInflight(ctx, e, &g.slot, n); err == nil {
			_ = m.run(ctx, &g, ex)
			if g.marked {
				e.runSince.Store(0)
			}
		}
	}
	return 0, true
}

// rerunNumber is the number of the next re-run of rec's slot, or false
// once its Reruns are spent (the slot is given up, and said so).
func (m *Manager) rerunNumber(e *entry, rec inflight) (int, bool) {
	if rec.reruns < int(e.rule.Reruns) {
		return rec.reruns + 1, true
	}
	m.logger.Error("ngxtasks: a slot's run died holding the lease as often as Reruns allows; the slot is given up",
		"rule", e.rule.Identifier, "slot", rec.slot.N, "reruns", rec.reruns)
	return 0, false
}

// watchReruns looks for the slots of Reruns rules whose runs died: it
// takes a rule's lease if its record says a run is in flight and nobody
// holds the lease, and re-runs the slot under it.
func (m *Manager) watchReruns(ctx context.Context) {
	for _, e := range m.entries() {
		if e.rule.Reruns == 0 || e.runSince.Load() != 0 {
			continue
		}
		rec, inFlight, err := m.readInflight(ctx, e)
		if err != nil || !inFlight {
			continue
		}
		r := LeaseRequest{Key: m.leaseKey(e), Holder: m.worker, TTL: m.leaseTTL}
		asked := time.Now()
		if err := m.dict.(Leaser).Lease(ctx, &r); err != nil || !r.Acquired {
			continue
		}
		// The run may have ended, marked done and let the lease go since
		// the record was read: read it again under the lease.
		if again, still, err := m.readInflight(ctx, e); err != nil || !still || !again.slot.Start.Equal(rec.slot.Start) {
			m.releaseLease(e, r.Key, r.Token)
			continue
		}
		m.startHeld(turn{e: e, slot: rec.slot}, r.Token, asked, false)
	}
}

// rerunsProblem names the problem with a rule's Reruns, or "".
func (r *Rule) rerunsProblem() string {
	if r.Reruns > 0 && !r.leases() {
		return fmt.Sprintf("needs the rule's runs to hold a lease (Overlap skip, buffer_one or replace), got overlap %q", r.Overlap.String())
	}
	return ""
}
