package ngxtasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// An operator acts on a rule for the whole fleet: Pause, Resume and
// Trigger go through the dictionary, so that every worker sharing it
// (this manager's peers, and managers on other hosts) obeys them.
//
// A pause is a record under the rule's key (namespace:id:pause), and every
// change of one sets the namespace's control key (namespace:control) to a
// new value. A worker reads the control key every half of a bound,
// controlEvery or its rules' shortest interval if that is shorter (not
// below minControlAge), and if the value changed, the pause records of
// all its rules. So a pause is obeyed by every worker from its first step
// that begins the bound after Pause returned (half of it, and the time
// the reading takes). A worker that cannot read the dictionary goes by the
// pauses it last read.

// controlEvery bounds how long a pause takes to reach every worker.
const controlEvery = time.Second

// minControlAge is the shortest time a reading of the control key is
// trusted, however short the slots: rules of 10 ms do not make a worker
// read the dictionary a hundred times a second.
const minControlAge = 50 * time.Millisecond

// maxControlWait bounds the first claiming step's wait for the pauses.
const maxControlWait = 250 * time.Millisecond

// triggerWindow is how long a Trigger's claim lives: triggers of one rule
// within it, from any worker, give one run.
const triggerWindow = time.Second

// foreverTTL is the life of a pause without an end, and of the control key.
const foreverTTL = 10 * 365 * 24 * time.Hour

// controls is what a manager last read of the operators' records.
type controls struct {
	mu       sync.Mutex // one reading at a time
	seen     string     // the control key's value the pauses were read under
	readAt   atomic.Int64
	polling  atomic.Bool  // the poller runs
	shortest atomic.Int64 // the shortest interval of the rules pushed (ns)
	any      atomic.Bool  // a rule is paused: screen looks it up
	// forget makes the next reading read every pause record: rules pushed
	// since the last one may be paused. (Push holds the manager's lock,
	// which a reading takes after mu, so Push may not take mu.)
	forget atomic.Bool
	waited atomic.Bool // a step waited for the first reading since setup or a Push
	paused atomic.Pointer[map[string]Pause]
}

// A Pause is a rule's pause as the dictionary holds it.
type Pause struct {
	Until  time.Time // zero: until resumed
	Origin string    // who paused it: the worker, or what the caller's context named (WithOrigin)
	Note   string
}

// A PausedError is the Err of a slot skipped with SkipPaused.
type PausedError struct{ Pause Pause }

func (e *PausedError) Error() string {
	s := "paused by " + e.Pause.Origin
	if !e.Pause.Until.IsZero() {
		s += " until " + e.Pause.Until.UTC().Format(time.RFC3339)
	}
	if e.Pause.Note != "" {
		s += ": " + e.Pause.Note
	}
	return s
}

// ErrTriggered is matched by Trigger's error when another trigger of the
// rule, from any worker, was made within the last second: that one runs.
var ErrTriggered = errors.New("ngxtasks: the rule was triggered already")

type originKey struct{}

// WithOrigin names who acts in ctx, for Pause, Resume and Trigger to log
// and record: "ngxtasks pause from uid 1000", "status page, 10.0.0.7".
// Without it, the worker's name is the origin.
func WithOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

func (m *Manager) originOf(ctx context.Context) string {
	if o, _ := ctx.Value(originKey{}).(string); o != "" {
		return clipTo(o, 128)
	}
	return m.worker
}

func (m *Manager) controlKey() string          { return m.namespace + ":control" }
func (m *Manager) pauseKey(id string) string   { return m.namespace + ":" + id + ":pause" }
func (m *Manager) triggerKey(id string) string { return m.namespace + ":" + id + ":trigger" }

// Pause pauses the rule in every worker that shares the dictionary, until
// the time given (zero: until Resume), with a note for people. Its slots
// that begin before then are skipped (SkipPaused, with the note), in this
// worker at once and in every other within a second, or the rule's
// interval if that is shorter. The dictionary must be a Setter.
func (m *Manager) Pause(ctx context.Context, identifier string, until time.Time, note string) error {
	now := m.now()
	if !until.IsZero() && !until.After(now) {
		return fmt.Errorf("ngxtasks: pause %q: until %v has passed", clip(identifier), until)
	}
	ttl := foreverTTL
	if !until.IsZero() {
		ttl = until.Sub(now) + m.tolerance
	}
	return m.act(ctx, identifier, "paused", 'p', until, note, ttl)
}

// Resume ends the rule's pause in every worker that shares the dictionary,
// as Pause starts it. The slots skipped while it was paused are not run.
func (m *Manager) Resume(ctx context.Context, identifier, note string) error {
	return m.act(ctx, identifier, "resumed", 'r', time.Time{}, note, time.Hour)
}

// act writes a pause record (kind 'p') or its end ('r'), changes the
// control key and reads it back, so that this worker obeys at once.
func (m *Manager) act(ctx context.Context, identifier, did string, kind byte, until time.Time, note string, ttl time.Duration) error {
	if err := m.ready(); err != nil {
		return err
	}
	if _, err := m.ruleNamed(identifier); err != nil {
		return err
	}
	set, ok := m.dict.(Setter)
	if !ok {
		return fmt.Errorf("ngxtasks: %s %q: the dictionary %T cannot keep a pause (it is not a Setter)", did, clip(identifier), m.dict)
	}
	ctx, stop := m.bound(ctx)
	defer stop()
	origin := m.originOf(ctx)
	var u int64
	if !until.IsZero() {
		u = until.UnixNano()
	}
	rec := string(kind) + "\x1f" + strconv.FormatInt(u, 10) + "\x1f" + origin + "\x1f" + clipTo(note, 512)
	if err := set.Set(ctx, m.pauseKey(identifier), rec, ttl); err != nil {
		return fmt.Errorf("ngxtasks: %s %q: %w", did, clip(identifier), err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	if err := set.Set(ctx, m.controlKey(), hex.EncodeToString(b[:]), foreverTTL); err != nil {
		return fmt.Errorf("ngxtasks: %s %q: the record is written, but the other workers were not told: %w", did, clip(identifier), err)
	}
	attrs := []any{"rule", identifier, "origin", origin, "note", note}
	if !until.IsZero() {
		attrs = append(attrs, "until", until)
	}
	m.logger.Info("ngxtasks: "+did, attrs...)
	if err := m.readControls(ctx); err != nil {
		return fmt.Errorf("ngxtasks: %s %q, but this worker could not read it back: %w", did, clip(identifier), err)
	}
	return nil
}

// Paused returns the rule's pause as this worker last read it, if it is
// paused.
func (m *Manager) Paused(identifier string) (Pause, bool) {
	if !m.ctl.any.Load() {
		return Pause{}, false
	}
	p, ok := (*m.ctl.paused.Load())[identifier]
	return p, ok
}

// pausedAt reports the pause that holds slot s of the rule, if one does.
func (m *Manager) pausedAt(e *entry, s *Slot) (Pause, bool) {
	p, ok := m.Paused(e.rule.Identifier)
	if !ok || !p.Until.IsZero() && !s.Start.Before(p.Until) {
		return Pause{}, false
	}
	return p, true
}

// freshControls keeps the pauses a step goes by fresh. A poller reads
// them every half of the bound (see above), on a goroutine of its own
// started with the first step, so that no step waits for the store: a
// worker that cannot read it goes by what it last read. Only the first
// step that will claim, at a worker's start or after a Push, waits for a
// reading, a quarter of its shortest slot at most (maxControlWait at
// most): a fresh worker should not claim a paused rule's slot, and the
// claim waits for the store anyway. A Normal rule may run one slot at a
// worker's start before that reading is in.
//
// maxControlWait keeps a store that does not answer from making that
// step's claims late: they fail, and say why.
func (m *Manager) freshControls(ctx context.Context, turns []turn) {
	if _, ok := m.dict.(Setter); !ok {
		return
	}
	if m.ctl.polling.CompareAndSwap(false, true) {
		go m.pollControls()
	}
	if m.ctl.waited.Load() || m.ctl.readAt.Load() != 0 {
		return
	}
	wait, claims := maxControlWait, false
	for i := range turns {
		if turns[i].e.rule.Type == Preemption {
			wait, claims = min(wait, slotLen(&turns[i].slot)/4), true
		}
	}
	if !claims || m.ctl.waited.Swap(true) {
		return // no claim, or another step waits
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	if err := m.readControls(ctx); err != nil {
		m.logger.Debug("ngxtasks: pauses not read; going by the last read", "err", err)
	}
	cancel()
}

// pollControls reads the pauses every half of the bound until shutdown.
func (m *Manager) pollControls() {
	var rerunsAt time.Time // and for dead runs (rerun.go) every LeaseTTL/2
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(m.base, controlEvery)
		if err := m.readControls(ctx); err != nil && m.base.Err() == nil {
			m.logger.Debug("ngxtasks: pauses not read; going by the last read", "err", err)
		}
		if now := time.Now(); now.After(rerunsAt) {
			m.watchReruns(ctx)
			rerunsAt = now.Add(m.leaseTTL / 2)
		}
		cancel()
		t.Reset(m.controlBound() / 2)
	}
}

// controlBound is the bound for this manager's rules: a second, or the
// shortest interval if that is shorter, not below minControlAge.
func (m *Manager) controlBound() time.Duration {
	every := controlEvery
	if s := time.Duration(m.ctl.shortest.Load()); s > 0 {
		every = min(every, s)
	}
	return max(every, minControlAge)
}

// readControls reads the control key and, if it changed since the pauses
// were last read (or rules were pushed since), every rule's pause record.
func (m *Manager) readControls(ctx context.Context) error {
	c := &m.ctl
	c.mu.Lock()
	defer c.mu.Unlock()
	asked := time.Now()
	forgot := c.forget.Swap(false)
	v, ok, err := m.dict.Get(ctx, m.controlKey())
	if err == nil && !ok {
		v = "none"
	}
	if err == nil && v == c.seen && !forgot {
		c.readAt.Store(asked.UnixNano())
		return nil
	}
	paused := map[string]Pause{}
	if err == nil && ok {
		paused, err = m.readPauses(ctx)
	}
	if err != nil {
		if forgot {
			c.forget.Store(true)
		}
		return err
	}
	c.paused.Store(&paused)
	c.any.Store(len(paused) > 0)
	c.seen = v
	c.readAt.Store(asked.UnixNano())
	return nil
}

// readPauses reads the pause records of every rule, sixteen at a time.
func (m *Manager) readPauses(ctx context.Context) (map[string]Pause, error) {
	es := m.entries()
	out := make(map[string]Pause)
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	now := m.now()
	for _, e := range es {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			v, ok, err := m.dict.Get(ctx, m.pauseKey(e.rule.Identifier))
			mu.Lock()
			defer mu.Unlock()
			switch p, paused := parsePause(v); {
			case err != nil:
				errs = append(errs, err)
			case ok && paused && (p.Until.IsZero() || p.Until.After(now)):
				out[e.rule.Identifier] = p
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// parsePause reads a pause record; a resumed one, or one it cannot read,
// is no pause.
func parsePause(v string) (Pause, bool) {
	f := strings.SplitN(v, "\x1f", 4)
	if len(f) != 4 || f[0] != "p" {
		return Pause{}, false
	}
	u, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Pause{}, false
	}
	p := Pause{Origin: f[2], Note: f[3]}
	if u != 0 {
		p.Until = time.Unix(0, u)
	}
	return p, true
}

// forgetControls makes the next step read every pause record again.
func (m *Manager) forgetControls() {
	m.ctl.forget.Store(true)
	m.ctl.readAt.Store(0)
	m.ctl.waited.Store(false)
}
