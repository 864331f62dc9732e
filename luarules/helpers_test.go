package luarules_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// t0 is the fake clocks' start: a whole minute, so that slots of the
// seed's 10 s and 60 s rules begin on it.
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock, shared by the managers, their Lua
// states (ngx.now) and the dictionary.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logged records slog records, for ngx.log.
type logged struct {
	mu   sync.Mutex
	recs []record
}

type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logged) logger() *slog.Logger { return slog.New(&logHandler{l: l}) }

func (l *logged) all() []record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]record(nil), l.recs...)
}

type logHandler struct {
	l     *logged
	attrs []slog.Attr
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.recs = append(h.l.recs, rec)
	h.l.mu.Unlock()
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{l: h.l, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// runs counts finished runs by (rule, slot, worker), from the managers'
// events.
type runs struct {
	mu     sync.Mutex
	n      map[runKey]int
	errs   []error
	starts map[runKey]time.Time
}

type runKey struct {
	rule   string
	slot   int64
	worker string
}

func newRuns() *runs { return &runs{n: map[runKey]int{}, starts: map[runKey]time.Time{}} }

func (r *runs) observe(ev ngxtasks.Event) {
	if ev.Kind != ngxtasks.EventFinished {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := runKey{ev.Rule.Identifier, ev.Slot.N, ev.Worker}
	r.n[k]++
	r.starts[k] = ev.Slot.Start
	if ev.Err != nil {
		r.errs = append(r.errs, ev.Err)
	}
}

// count is how many runs of (rule, slot) there were in worker, or in all
// workers when worker is "".
func (r *runs) count(rule string, slot int64, worker string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if worker == "" {
		return r.countLocked(rule, slot)
	}
	n := 0
	for k, c := range r.n {
		if k.rule == rule && k.slot == slot && (worker == "" || k.worker == worker) {
			n += c
		}
	}
	return n
}

func shutdown(t testing.TB, m *ngxtasks.Manager) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
}

// slotOfAny is the slot of any run of rule (for tests with one slot).
func (r *runs) slotOfAny(rule string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.n {
		if k.rule == rule {
			return k.slot
		}
	}
	return -1
}

// countLocked is how many runs of (rule, slot) all workers made; r.mu held.
func (r *runs) countLocked(rule string, slot int64) int {
	n := 0
	for k, c := range r.n {
		if k.rule == rule && k.slot == slot {
			n += c
		}
	}
	return n
}
