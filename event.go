package ngxtasks

import (
	"context"
	"errors"
	"log/slog"
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
	SkipOverlap    SkipReason = iota + 1 // the previous run of the rule is still going
	SkipFiltered                         // the rule's Filter said no
	SkipClaimError                       // the dictionary failed; not run (fail closed)
	SkipLate                             // the slot ended before its claim was answered
	SkipClosed                           // the manager is shutting down
)

var skipNames = [...]string{"", "overlap", "filtered", "claim error", "late", "closed"}

func (r SkipReason) String() string {
	if int(r) < len(skipNames) {
		return skipNames[r]
	}
	return "unknown"
}

// An Event is one thing that happened to a rule's slot in this worker.
type Event struct {
	Kind     EventKind
	Rule     *Rule // the manager's copy; read only
	Slot     Slot
	Worker   string
	Time     time.Time     // when it happened, by the manager's clock
	Reason   SkipReason    // for EventSkipped
	Duration time.Duration // for EventFinished
	Err      error         // for EventFinished, and for SkipClaimError
}

// emit records e in statistics, the observer and the log.
func (m *Manager) emit(e *entry, ev Event) {
	ev.Rule, ev.Worker, ev.Time = &e.rule, m.worker, m.now()
	e.stats.record(&ev)
	if m.Observer != nil {
		m.Observer(ev)
	}
	level := slog.LevelDebug
	switch {
	case ev.Kind == EventFinished && ev.Err != nil,
		ev.Kind == EventSkipped && ev.Reason == SkipClaimError:
		level = slog.LevelError
	case ev.Kind == EventSkipped && (ev.Reason == SkipOverlap || ev.Reason == SkipLate):
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !m.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("rule", e.rule.Identifier),
		slog.Int64("slot", ev.Slot.N),
		slog.String("worker", m.worker),
	}
	if ev.Kind == EventSkipped {
		attrs = append(attrs, slog.String("reason", ev.Reason.String()))
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
	m.logger.LogAttrs(ctx, level, "ngxtasks: "+ev.Kind.String(), attrs...)
}
