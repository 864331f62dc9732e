package ngxtasks

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// DefaultSkewTolerance is the clock difference between workers that
// Preemption rules tolerate when a Manager leaves SkewTolerance zero.
const DefaultSkewTolerance = 5 * time.Second

// DefaultLeaseTTL is how long a run's lease lives unrenewed when a Manager
// leaves LeaseTTL zero.
const DefaultLeaseTTL = 15 * time.Second

// A Clock tells the time. Slots are computed from it; the timer loop still
// sleeps on real timers. Inject one to test slot logic without sleeping.
type Clock interface {
	Now() time.Time
}

// A Manager holds rules and runs them when they fall due, as one worker.
// Its zero value is ready to use: a private in-process dictionary, the epoch
// key generator, slog.Default for logs. Set fields before the first call that
// acts (Push, Replace, Start, Run, a request, WorkerID, Shutdown): it takes
// them, and a configuration field changed later (Dict, Keys, Namespace,
// Worker, SkewTolerance, Clock, UseStoreClock, HistoryLen, MaxRunning,
// LeaseTTL)
// makes Push, Replace, Start and Run return an error, and Middleware log
// one, rather than be ignored. Calls that only read (Stats, Rules,
// History, Explain, Health, Watch) may come before.
//
// Drive it with Start (a timer loop), with Middleware (every HTTP request is
// a drive step), with Run (one drive step), or with any mix of them; every
// rule still runs at most once per slot in this worker.
type Manager struct {
	// Dict decides Preemption slots between the workers that share it. Nil
	// gives this manager a private MemoryDict: one winner within itself only.
	Dict Dict
	// Keys maps (rule, time) to slots and claim names; nil is EpochKeys.
	Keys KeyGenerator
	// Namespace prefixes every claim key, keeping applications that share a
	// dictionary apart. Empty is "ngxtasks".
	Namespace string
	// Worker names this manager in claims, events and logs. Empty is
	// "host-pid-random".
	Worker string
	// SkewTolerance is how far apart workers' clocks may be without a
	// Preemption slot running twice. Claims live Interval + SkewTolerance.
	// On a Dict that can tell the time (StoreClock), a worker whose clock
	// is further than SkewTolerance/2 from the store's does not claim: it
	// skips its Preemption slots (SkipClockSkewed) until it is back.
	// Zero is DefaultSkewTolerance; negative is refused.
	SkewTolerance time.Duration
	// Logger receives structured logs; nil is slog.Default().
	Logger *slog.Logger
	// Observer, when set, is called for every event, synchronously, from the
	// goroutine where it happened. It must be quick and safe for concurrent use.
	Observer func(Event)
	// Clock replaces the real clock for slot arithmetic; nil is time.Now.
	Clock Clock
	// UseStoreClock computes slots from the dictionary's clock (the Dict
	// must implement StoreClock), so that workers' clocks may differ by any
	// amount and every worker still claims; no rule, Normal ones included,
	// runs before the store's clock has been read. Without it a worker
	// whose clock is far from the store's is safe too, but skips its
	// Preemption slots: set it where hosts' clocks drift.
	UseStoreClock bool
	// MaxRunning bounds the callbacks running at once in this manager; zero
	// is no bound. A due slot that finds them running waits its turn, the
	// slot ending first going first, until its latest start — a tenth of
	// its interval, at most a second, before the slot ends, so that a run
	// started late does not run into the next slot — and is skipped with
	// SkipBusy when none came. A waiting slot is not running: the rule's
	// next slot does not find it in the way. Rule.MaxRunning overrides it
	// per rule. Negative is refused.
	//
	// Without a bound, a program whose rules start processes starts every
	// one due at once: the first step of 2,000 rules is 2,000 processes.
	MaxRunning int
	// HistoryLen is how many recent slots the manager keeps per rule, for
	// History and Explain: zero is DefaultHistory (16), negative none, at
	// most 65,536. A rule's ring grows as its slots come, a quarter at a
	// time (at 16: 1, 4, 8, 12, 16 slots), 32 bytes a slot and 64 for the
	// ring: 576 bytes a rule at 16, 58 MB at 100,000 rules and 576 MB at a
	// million; 2.1 KB a rule at 64, 2.1 GB at a million.
	HistoryLen int
	// LeaseTTL is how long a run's lease (Rule.Overlap) lives without being
	// renewed; zero is DefaultLeaseTTL. The worker renews its leases every
	// third of it, all in one round trip, and cancels a run whose lease it
	// could not renew before LeaseTTL·4/5 had passed since its last
	// renewal was sent: the lease may pass on at LeaseTTL. So it bounds
	// how long a rule waits after its holder died, and how long a run may
	// go on unrenewed. Negative is refused.
	LeaseTTL time.Duration

	once      sync.Once // runs setup at the first call that needs it
	settings            // the configuration, resolved once (lifecycle.go)
	schedule            // the rules and when each falls due (schedule.go)
	lifecycle           // runs in flight, and stopping them (lifecycle.go)
	listeners           // Watch's functions, and the events handed to them (event.go)

	clk   clockSync     // the store's clock, as measured
	watch storeWatch    // the store's answers, for logs and Health
	room  room          // the callbacks running, under MaxRunning
	held  heldLeases    // the leases of the runs going on
	ctl   controls      // the pauses, as last read (control.go)
	agree disagreements // what the fleet's claims say of its Versions (fingerprint.go)
}

// now is the time slots are computed from: the worker's clock, moved to
// the store's with UseStoreClock.
func (m *Manager) now() time.Time {
	t := m.localNow()
	if m.fields.useStoreClock {
		t = t.Add(time.Duration(m.clk.offset.Load()))
	}
	return t
}

// sinceEpoch is the gate's time scale. With the real clock it reads only the
// monotonic clock, the cheapest time there is.
func (m *Manager) sinceEpoch() int64 {
	if m.clock != nil {
		return int64(m.clock.Now().Sub(m.epoch))
	}
	return int64(time.Since(m.epoch))
}

// WorkerID returns the identity this manager claims slots under.
func (m *Manager) WorkerID() string {
	m.once.Do(m.setup)
	return m.worker
}

// Push adds rules. It checks them all first and adds none if any is invalid
// or its identifier is taken; the error is a *RuleError. A pushed rule's
// current slot is due at once, so a new worker runs it on its next drive
// step; a rule with a Schedule starts with its next occurrence instead.
func (m *Manager) Push(rules ...Rule) error {
	if err := m.ready(); err != nil {
		return err
	}
	if err := validateAll(rules, "Push"); err != nil {
		return err
	}
	if err := m.refuseUnable(rules); err != nil {
		return err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range rules {
		if _, dup := m.rules[rules[i].Identifier]; dup {
			return &RuleError{Rule: rules[i].Identifier, Field: "Identifier", Problem: "is already pushed", dup: true}
		}
	}
	m.growLanes(rules)
	pushed := m.sinceEpoch()
	m.forgetPast(now)
	for i := range rules {
		m.add(&rules[i], now, pushed)
	}
	m.setGates()
	m.poke()
	m.forgetControls()      // the new rules may be paused
	m.agree.tokens.Store(0) // and their claims are checked anew
	return nil
}

// validateAll checks rules as one call (call names it) takes them.
func validateAll(rules []Rule, call string) error {
	seen := make(map[string]bool, len(rules))
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return err
		}
		if seen[rules[i].Identifier] {
			return &RuleError{Rule: rules[i].Identifier, Field: "Identifier", Problem: "appears twice in this " + call, dup: true}
		}
		seen[rules[i].Identifier] = true
	}
	return nil
}

// growLanes makes room in the lanes' fresh heaps for rules, so that a big
// Push does not grow them an append at a time. The queues, where the rules
// go once taken, are grown by the first drive step that finds them (see
// take): until then a pushed rule holds one array's item, not two.
// Callers hold mu.
func (m *Manager) growLanes(rules []Rule) {
	var perLane [numDrives]int
	for i := range rules {
		perLane[rules[i].Drive]++
	}
	for d, n := range perLane {
		if n > 0 {
			m.lanes[d].fresh.grow(n)
		}
	}
}

// add makes an entry for r, due at once. Callers hold mu and grew the
// lanes' arrays.
func (m *Manager) add(r *Rule, now time.Time, pushed int64) *entry {
	m.seq++
	e := &entry{rule: *r, seq: m.seq, pushed: pushed}
	if s := m.ctl.shortest.Load(); r.Interval > 0 && (s == 0 || int64(r.Interval) < s) {
		m.ctl.shortest.Store(int64(r.Interval)) // the pause bound follows the shortest rule
	}
	if past, ok := m.removed[r.Identifier]; ok && past.sameSlots(r) {
		e.lastEnd = past.lastEnd // its slot ran here already: not again
		delete(m.removed, r.Identifier)
	}
	if r.Schedule != nil && (r.CatchUp == 0 || e.lastEnd != 0) {
		// A calendar slot is run from its occurrence on, not joined midway:
		// the slot in progress counts as taken, and a Push (a reload) never
		// starts a run by itself. With CatchUp, the rule's last run in the
		// dictionary decides (catchup.go).
		e.lastEnd = max(e.lastEnd, r.Schedule.Slot(now).End.UnixNano())
	}
	m.rules[r.Identifier] = e
	m.lanes[r.Drive].fresh.push(item{0, e.seq, e}) // ordered by the first step that finds them
	return e
}

// Remove drops the rule with this identifier and reports whether there was
// one. A run already going finishes; no new slot of the rule starts.
func (m *Manager) Remove(identifier string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.rules[identifier]
	if !ok {
		return false
	}
	m.drop(e, m.now(), leftRemoved)
	m.lanes[e.rule.Drive].dropRemoved()
	m.setGates()
	return true
}

// drop removes e, for the reason given, remembering its last slot while
// that lasts. Callers hold mu, and then drop removed entries from the
// lane's top and set the gates.
func (m *Manager) drop(e *entry, now time.Time, why uint32) {
	delete(m.rules, e.rule.Identifier)
	e.leave(why)
	// Pushed again with the same slots before its slot ends, the rule must
	// not run that slot a second time in this worker.
	if len(m.removed) >= m.pruneAt { // amortised: removing n rules costs O(n), not O(n²)
		m.forgetPast(now)
		m.pruneAt = 2*len(m.removed) + 64
	}
	if e.lastEnd > now.UnixNano() {
		if m.removed == nil {
			m.removed = make(map[string]removedRule)
		}
		r := &e.rule
		m.removed[r.Identifier] = removedRule{lastEnd: e.lastEnd, interval: r.Interval, schedule: r.Schedule, offset: r.Offset, spread: r.Spread, typ: r.Type}
	}
}

// ruleNamed returns the entry of a pushed rule.
func (m *Manager) ruleNamed(identifier string) (*entry, error) {
	m.mu.Lock()
	e := m.rules[identifier]
	m.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("ngxtasks: no rule %q", clip(identifier))
	}
	return e, nil
}

// Rules returns copies of the rules, in the order they were pushed.
func (m *Manager) Rules() []Rule {
	es := m.entries()
	out := make([]Rule, len(es))
	for i, e := range es {
		out[i] = e.rule
	}
	return out
}

// entries lists the live entries in push order.
func (m *Manager) entries() []*entry {
	m.mu.Lock()
	es := make([]*entry, 0, len(m.rules))
	for _, e := range m.rules {
		es = append(es, e)
	}
	m.mu.Unlock()
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	return es
}

// removedRule is what a removed rule leaves behind while its last slot
// lasts: where that slot ends, and what cuts its slots (no callbacks kept).
type removedRule struct {
	lastEnd          int64
	interval, offset time.Duration
	schedule         Schedule
	spread           bool
	typ              Type
}

// forgetPast drops the removed rules whose last slot has ended. Callers
// hold mu.
func (m *Manager) forgetPast(now time.Time) {
	for id, r := range m.removed {
		if r.lastEnd <= now.UnixNano() {
			delete(m.removed, id)
		}
	}
}

// sameSlots says whether r cuts time into the slots the removed rule did.
func (p removedRule) sameSlots(r *Rule) bool {
	return p.interval == r.Interval && sameSchedule(p.schedule, r.Schedule) && p.offset == r.Offset && p.spread == r.Spread && p.typ == r.Type
}

// poke wakes the timer loop so it re-reads the gate.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
