package ngxtasks

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what happened to a rule in a worker.
type EventKind uint8

const (
	EventFired    EventKind = iota + 1 // a run began
	EventFinished                      // a run ended; Duration and Err tell how
	EventWon                           // this worker claimed a Preemption slot
	EventLost                          // another worker holds the slot
	EventSkipped                       // the slot is not run here; Reason says why
)

var eventNames = [...]string{"", "fired", "finished", "won", "lost", "skipped"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// SkipReason says why a due slot did not run in this worker.
type SkipReason uint8

const (
	SkipOverlap     SkipReason = iota + 1 // the previous run of the rule is still going
	SkipFiltered                          // the rule's Filter said no
	SkipClaimError                        // the dictionary failed; not run (fail closed)
	SkipLate                              // the slot ended before its claim was answered, or the clock moved off it
	SkipClosed                            // the manager is shutting down
	SkipBehind                            // the timer loop did not run while the slots lasted (Missed says how many)
	SkipClockSkewed                       // a Preemption slot: this worker's clock is not known to be within SkewTolerance/2 of the store's
	SkipBusy                              // MaxRunning callbacks went on until the slot's latest start
	SkipDown                              // CatchUp: no worker ran it while the fleet was down (Missed says how many), or it began before the window
	SkipElsewhere                         // a run of the rule holds its lease in another worker (Err, a *HeldError, names it)
	SkipPaused                            // the rule is paused (Err, a *PausedError, says by whom, until when and why)
	numSkipReasons
)

var skipNames = [...]string{"", "overlap", "filtered", "claim error", "late", "closed", "behind", "clock skewed", "busy", "down", "running elsewhere", "paused"}

func (r SkipReason) String() string {
	if int(r) < len(skipNames) {
		return skipNames[r]
	}
	return "unknown"
}

// An Event is one thing that happened to a rule's slot in this worker.
type Event struct {
	Kind   EventKind
	Rule   *Rule // the manager's copy; read only
	Slot   Slot
	Worker string
	Time   time.Time  // when it happened, by the manager's clock
	Reason SkipReason // for EventSkipped
	// Duration is, for EventFinished, how long the run took; for
	// EventFired, its lateness (start minus slot start, by the manager's
	// clock); for EventWon, EventLost and skips for a claim error or a late
	// answer, the claim's round trip.
	Duration time.Duration
	Err      error // for EventFinished, SkipClaimError, SkipElsewhere and SkipPaused
	Missed   int64 // for SkipBehind: how many slots, the first being Slot
	// Retry numbers the tries of a slot's run (Rule.Retry), for EventFired
	// and EventFinished: 0 for the first, 1 for the first retry, and so on.
	Retry int
}

// emit records an event in the rule's statistics and history, then
// announces it to whoever listens. It takes the event's parts rather than
// an Event, and builds one only when someone listens, because every run's
// goroutine starts on a small stack that a big frame here would make it
// grow.
func (m *Manager) emit(e *entry, kind EventKind, s *Slot, reason SkipReason, d time.Duration, err error, try uint8) {
	var msg *string
	if err != nil {
		text := clipTo(err.Error(), maxErrorText)
		msg = &text
	}
	var result Outcome
	if kind == EventFinished {
		result = resultOf(err)
	}
	e.stats.record(kind, s.N, reason, d, msg, result, try)
	if kind == EventFinished {
		e.noteResult(result)
	}
	if h := m.historyOf(e); h != nil {
		h.note(kind, s, reason, d, msg, result, try)
	}
	if level := eventLevel(kind, reason, err); m.heard(level) {
		m.announce(level, e, kind, s, reason, d, err, int64(try))
	}
}

// heard says whether anyone listens to an event logged at level.
func (m *Manager) heard(level slog.Level) bool {
	return m.Observer != nil || m.watchers.Load() != nil || m.logger.Enabled(context.Background(), level)
}

// eventLevel is the level an event is logged at. Slots skipped because the
// store failed or answered late are logged at Debug: the store watch logs
// the outage itself, once.
func eventLevel(kind EventKind, reason SkipReason, err error) slog.Level {
	switch {
	case kind == EventFinished && err != nil:
		return slog.LevelError
	case kind == EventSkipped && (reason == SkipOverlap || reason == SkipBehind || reason == SkipDown),
		kind == EventSkipped && reason == SkipLate && !errors.Is(err, errLate):
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// announce hands an event to its sinks: the Observer, the watchers and the
// logger.
//
// The Event comes from a pool rather than the stack: given to watchers
// (code this package does not know) a stack Event would move to the heap,
// and handed by value it made the frames of a run's goroutine outgrow
// their first stack, which the runtime then copies, at every run.
//
//go:noinline
func (m *Manager) announce(level slog.Level, e *entry, kind EventKind, s *Slot, reason SkipReason, d time.Duration, err error, n int64) {
	ev := m.newEvent()
	*ev = Event{Kind: kind, Rule: &e.rule, Slot: *s, Worker: m.worker, Time: m.now(), Reason: reason, Duration: d, Err: err}
	if kind == EventSkipped {
		ev.Missed = n
	} else {
		ev.Retry = int(n)
	}
	if m.Observer != nil {
		m.observe(ev)
	}
	if ws := m.watchers.Load(); ws != nil {
		for _, w := range *ws {
			w.fn(ev)
		}
	}
	if m.logger.Enabled(context.Background(), level) {
		m.log(level, ev)
	}
	m.freeEvent(ev)
}

// newEvent takes an Event from the manager's pool; freeEvent returns it.
func (m *Manager) newEvent() *Event {
	if ev, ok := m.events.Get().(*Event); ok {
		return ev
	}
	return new(Event)
}

func (m *Manager) freeEvent(ev *Event) {
	*ev = Event{} // keeps nothing alive from the pool
	m.events.Put(ev)
}

// observe calls Observer, which takes the event by value: the copy is made
// in this frame, not in announce's, which every watched run goes through.
//
//go:noinline
func (m *Manager) observe(ev *Event) { m.Observer(*ev) }

// listeners is the part of a Manager that Watch adds to.
type listeners struct {
	watchers atomic.Pointer[[]watcher] // copied on write; nil when none
	watchMu  sync.Mutex                // serialises Watch and its stops
	watchSeq uint64
	events   sync.Pool // *Event, handed to the sinks (see announce)
}

// watcher is a function given to Watch.
type watcher struct {
	id uint64
	fn func(*Event)
}

// Watch calls fn with every event from now on, as Observer is called,
// until the returned stop is called. It is for code that watches a manager
// it did not configure (a metrics collector, a status page): fn is called
// synchronously from the goroutine where the event happened, so it must
// be quick and safe for concurrent use, and it must not keep ev, which
// is reused once fn returns.
func (m *Manager) Watch(fn func(ev *Event)) (stop func()) {
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	m.watchSeq++
	id := m.watchSeq
	m.setWatchers(append(m.currentWatchers(), watcher{id, fn}))
	return func() {
		m.watchMu.Lock()
		defer m.watchMu.Unlock()
		ws := m.currentWatchers()
		for i := range ws {
			if ws[i].id == id {
				m.setWatchers(append(ws[:i:i], ws[i+1:]...))
				return
			}
		}
	}
}

// currentWatchers returns a copy of the watchers. Callers hold watchMu.
func (m *Manager) currentWatchers() []watcher {
	if ws := m.watchers.Load(); ws != nil {
		return append([]watcher(nil), *ws...)
	}
	return nil
}

// setWatchers publishes ws (nil when empty: one nil check per event then).
// Callers hold watchMu.
func (m *Manager) setWatchers(ws []watcher) {
	if len(ws) == 0 {
		m.watchers.Store(nil)
		return
	}
	m.watchers.Store(&ws)
}

// missed reports n slots of a rule that passed unrun, the first beginning
// at from (Unix ns), as one event: with SkipBehind, those that passed while
// the timer loop did not run (the process was paused, starved of CPU, or
// its clock jumped; per-request drive does not report them, as it runs
// only when requests come); with SkipDown, those no worker ran while the
// fleet was down (CatchUp). The slots are counted as skips; a Preemption
// slot may still have run in another worker.
func (m *Manager) missed(e *entry, reason SkipReason, from, n int64) {
	e.stats.skipped(reason, n, nil)
	first := m.slotOf(&e.rule, time.Unix(0, from))
	if h := m.historyOf(e); h != nil {
		h.missed(&first, reason, n)
	}
	if level := eventLevel(EventSkipped, reason, nil); m.heard(level) {
		m.announce(level, e, EventSkipped, &first, reason, 0, nil, n)
	}
}

// log writes an event to the logger. It is a function of its own so that
// its buffers do not enlarge the stack of every run's goroutine.
//
//go:noinline
func (m *Manager) log(level slog.Level, ev *Event) {
	e := ev.Rule
	attrs := []slog.Attr{
		slog.String("rule", e.Identifier),
		slog.Int64("slot", ev.Slot.N),
		slog.String("worker", m.worker),
	}
	if ev.Kind == EventSkipped {
		attrs = append(attrs, slog.String("reason", ev.Reason.String()))
	}
	if ev.Reason == SkipBehind {
		attrs = append(attrs, slog.Int64("missed", ev.Missed))
	}
	if ev.Retry > 0 {
		attrs = append(attrs, slog.Int("retry", ev.Retry))
	}
	if ev.Kind == EventFinished {
		attrs = append(attrs, slog.Duration("duration", ev.Duration))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.Any("error", ev.Err))
		var p *PanicError
		if errors.As(ev.Err, &p) {
			attrs = append(attrs, slog.String("stack", string(p.Stack)))
		}
	}
	m.logger.LogAttrs(context.Background(), level, "ngxtasks: "+ev.Kind.String(), attrs...)
}
