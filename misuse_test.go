package ngxtasks_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestClosedManagerSaysSo: after Shutdown, Push, Run and Start say the
// manager is closed instead of accepting rules that never run.
func TestClosedManagerSaysSo(t *testing.T) {
	m := &ngxtasks.Manager{Logger: quiet()}
	if err := m.Push(ngxtasks.Rule{Identifier: "a", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); err != nil {
		t.Fatal(err)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Push(ngxtasks.Rule{Identifier: "b", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Push after Shutdown: %v, want ErrClosed", err)
	}
	if err := m.Run(context.Background()); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Run after Shutdown: %v, want ErrClosed", err)
	}
	if err := m.Start(context.Background()); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Start after Shutdown: %v, want ErrClosed", err)
	}
}

// TestMiddlewareSaysOnceItCannotRunRules: a manager that cannot run rules
// (here: UseStoreClock on a dictionary without a clock) still serves
// requests through Middleware, and logs why, once.
func TestMiddlewareSaysOnceItCannotRunRules(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	m := &ngxtasks.Manager{Dict: &faultyDict{}, UseStoreClock: true,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Body.String() != "ok" {
			t.Fatalf("response %q", rec.Body.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(buf.String(), "cannot run rules"); n != 1 || !strings.Contains(buf.String(), "UseStoreClock") {
		t.Fatalf("logged %d times, want once with the cause:\n%s", n, buf.String())
	}
}

// TestIdentifiersEveryBackendCanStore: control characters and invalid
// UTF-8 are refused at Push, naming the field; a long value is cut in the
// message.
func TestIdentifiersEveryBackendCanStore(t *testing.T) {
	for _, id := range []string{"a\nb", "nul\x00", "bad\xff", "tab\there"} {
		err := (&ngxtasks.Manager{}).Push(ngxtasks.Rule{Identifier: id, Interval: time.Second, Type: ngxtasks.Normal, Callback: noop})
		var re *ngxtasks.RuleError
		if !errors.As(err, &re) || re.Field != "Identifier" || strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("identifier %q: %v", id, err)
		}
	}
	long := strings.Repeat("x", 10_000)
	for _, err := range []error{
		(&ngxtasks.Manager{}).Push(ngxtasks.Rule{Identifier: long, Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}),
		func() error { _, err := ngxtasks.ParseType(long); return err }(),
	} {
		if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "10000 bytes") {
			t.Errorf("a 10 KB value in an error: %d bytes: %.200s", len(err.Error()), err)
		}
	}
}

// TestErrorTexts: every error of the package names it, and reads right.
func TestErrorTexts(t *testing.T) {
	for _, err := range []error{ngxtasks.ErrInvalidRule, ngxtasks.ErrDuplicateRule, ngxtasks.ErrInvalidConfig,
		ngxtasks.ErrTimeout, ngxtasks.ErrClosed, ngxtasks.ErrStarted, ngxtasks.ErrUnknownType} {
		if !strings.HasPrefix(err.Error(), "ngxtasks: ") {
			t.Errorf("%q has no ngxtasks: prefix", err)
		}
	}
	if _, err := ngxtasks.ParseType("preempt"); !errors.Is(err, ngxtasks.ErrUnknownType) {
		t.Errorf("ParseType: %v, want ErrUnknownType", err)
	}
	one := &ngxtasks.ShutdownError{Cancelled: []string{"a"}, Cause: context.DeadlineExceeded}
	if !strings.Contains(one.Error(), "1 running callback (a)") {
		t.Errorf("%q", one)
	}
}

// TestN1_RemovedAndPushedAgainWithinASlot: a Normal rule removed and pushed
// again, unchanged, within one slot does not run that slot again; pushed
// with other slots it starts afresh.
func TestN1_RemovedAndPushedAgainWithinASlot(t *testing.T) {
	clock := newFakeClock(t0.Add(100 * time.Millisecond))
	log := newRunLog()
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	r := ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback}
	step := func() {
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	_ = m.Push(r)
	step()
	m.Remove("r")
	_ = m.Push(r)
	clock.Add(100 * time.Millisecond)
	step()
	if log.total() != 1 {
		t.Fatalf("%d runs in one slot, want 1", log.total())
	}
	clock.Add(time.Second) // the next slot runs as usual
	step()
	if log.total() != 2 {
		t.Fatalf("%d runs in two slots, want 2", log.total())
	}
	m.Remove("r")
	r.Interval = 2 * time.Second // other slots: a new rule
	_ = m.Push(r)
	step()
	if log.total() != 3 {
		t.Fatalf("%d runs, want the changed rule's first", log.total())
	}
}

// TestFieldsChangedAfterFirstUse: a configuration field set after the
// first Push is refused loudly, not ignored: UseStoreClock once crashed the
// process, and a Dict set late left two managers each running a
// Preemption slot.
func TestFieldsChangedAfterFirstUse(t *testing.T) {
	shared := ngxtasks.NewMemoryDict()
	rule := ngxtasks.Rule{Identifier: "p", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: noop}
	for _, tc := range []struct {
		field  string
		change func(m *ngxtasks.Manager)
	}{
		{"UseStoreClock", func(m *ngxtasks.Manager) { m.UseStoreClock = true }},
		{"Dict", func(m *ngxtasks.Manager) { m.Dict = shared }},
		{"Namespace", func(m *ngxtasks.Manager) { m.Namespace = "other" }},
		{"Clock", func(m *ngxtasks.Manager) { m.Clock = newFakeClock(t0) }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			log := newRunLog()
			m := &ngxtasks.Manager{Logger: quiet(), Observer: log.observe}
			shutdown(t, m)
			r := rule
			r.Callback = log.callback
			if err := m.Push(r); err != nil {
				t.Fatal(err)
			}
			tc.change(m)
			for name, err := range map[string]error{
				"Push":  m.Push(ngxtasks.Rule{Identifier: "q", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}),
				"Run":   m.Run(context.Background()),
				"Start": m.Start(context.Background()),
			} {
				if !errors.Is(err, ngxtasks.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
					t.Errorf("%s after %s changed: %v", name, tc.field, err)
				}
			}
			if log.total() != 0 {
				t.Errorf("%d runs with a configuration it was not given", log.total())
			}
		})
	}
}
