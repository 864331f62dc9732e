package ngxtasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A fleet can disagree about a rule: a reload that reached some hosts and
// not others, a host left with an old file. A rule with a Version writes
// it into each claim it makes ("worker\x1fversion"), and a worker that
// loses a claim reads now and then who won it and under which Version. A
// Version other than its own is a disagreement: logged once per rule and
// pair of versions, kept for Stats (RuleStats.Disagreement) and shown by
// the status page and the metrics. Versions are compared, never shown:
// the command's are hashes of definitions that may hold secrets, so a
// disagreement names the two versions by short tags of their own.

// fingerprintChecks bounds the reads of lost claims: a burst of this many
// (the first lost claims after a start or a reload), then checkEvery.
const (
	fingerprintChecks = 64
	checkEvery        = 100 * time.Millisecond
)

// A Disagreement is another worker's claim of a rule's slot made under a
// Version other than this worker's.
type Disagreement struct {
	Worker string    // the other worker
	Ours   string    // tag of this worker's Version
	Theirs string    // tag of the other's
	At     time.Time // when it was found
}

// disagreements are what the checks found, by rule, and the tokens they
// spend.
type disagreements struct {
	tokens atomic.Int64 // checks left in the burst
	next   atomic.Int64 // when a check may spend a refilled token (Unix ns)
	mu     sync.Mutex
	found  map[string]Disagreement
	logged map[[3]string]bool // rule, ours, theirs
}

// claimValue is what a claim of the rule holds: the worker, and the
// rule's Version when it has one.
func (m *Manager) claimValue(r *Rule) string {
	if r.Version == "" {
		return m.worker
	}
	return m.worker + "\x1f" + r.Version
}

// splitClaim reads a claim's value: the worker, and the Version it was
// made under ("" if none).
func splitClaim(v string) (worker, version string) {
	worker, version, _ = strings.Cut(v, "\x1f")
	return worker, version
}

// versionTag names a Version without showing it.
func versionTag(v string) string {
	if v == "" {
		return "none"
	}
	h := sha256.Sum256([]byte("ngxtasks version tag\x00" + v))
	return hex.EncodeToString(h[:3])
}

// maybeCheckVersion reads a lost claim's value, if the checks' budget
// allows, on a goroutine of its own.
func (m *Manager) maybeCheckVersion(e *entry, key string) {
	if e.rule.Version == "" {
		return
	}
	d := &m.agree
	if d.tokens.Add(-1) < 0-int64(fingerprintChecks) { // the burst is spent: one every checkEvery
		now := time.Now().UnixNano()
		next := d.next.Load()
		if now < next || !d.next.CompareAndSwap(next, now+int64(checkEvery)) {
			return
		}
	}
	go m.checkVersion(e, key)
}

// checkVersion compares the Version a lost claim was made under with ours.
func (m *Manager) checkVersion(e *entry, key string) {
	ctx, cancel := context.WithTimeout(m.base, time.Second)
	defer cancel()
	v, ok, err := m.dict.Get(ctx, key)
	if err != nil || !ok {
		return
	}
	worker, theirs := splitClaim(v)
	d := &m.agree
	if theirs == "" || theirs == e.rule.Version {
		d.mu.Lock()
		delete(d.found, e.rule.Identifier) // agreed again
		d.mu.Unlock()
		return
	}
	dis := Disagreement{Worker: worker, Ours: versionTag(e.rule.Version), Theirs: versionTag(theirs), At: m.now()}
	d.mu.Lock()
	if d.found == nil {
		d.found, d.logged = map[string]Disagreement{}, map[[3]string]bool{}
	}
	d.found[e.rule.Identifier] = dis
	pair := [3]string{e.rule.Identifier, dis.Ours, dis.Theirs}
	first := !d.logged[pair]
	d.logged[pair] = true
	d.mu.Unlock()
	if first {
		m.logger.Warn("ngxtasks: the fleet disagrees about a rule: another worker claims its slots under another definition",
			"rule", e.rule.Identifier, "worker", m.worker, "ours", dis.Ours, "other_worker", worker, "theirs", dis.Theirs)
	}
}
