package ngxtasks_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// loggerSpy is a MemoryDict that records which logger each call's context
// carried.
type loggerSpy struct {
	*ngxtasks.MemoryDict
	mu    sync.Mutex
	calls map[string][]*slog.Logger
}

func (s *loggerSpy) saw(op string, ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op] = append(s.calls[op], ngxtasks.LoggerFrom(ctx))
}

func (s *loggerSpy) Add(ctx context.Context, k, v string, ttl time.Duration) (bool, error) {
	s.saw("Add", ctx)
	return s.MemoryDict.Add(ctx, k, v, ttl)
}

func (s *loggerSpy) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	s.saw("AddBatch", ctx)
	return s.MemoryDict.AddBatch(ctx, adds)
}

func (s *loggerSpy) Get(ctx context.Context, k string) (string, bool, error) {
	s.saw("Get", ctx)
	return s.MemoryDict.Get(ctx, k)
}

func (s *loggerSpy) Now(ctx context.Context) (time.Time, error) {
	s.saw("Now", ctx)
	return s.MemoryDict.Now(ctx)
}

// TestDictCallsCarryTheManagersLogger: every call a manager makes to its
// dictionary, in every drive mode, carries the manager's Logger, so that a
// backend can send its client library's lines there (LoggerFrom).
func TestDictCallsCarryTheManagersLogger(t *testing.T) {
	if ngxtasks.LoggerFrom(context.Background()) != nil {
		t.Fatal("LoggerFrom of a bare context is not nil")
	}
	spy := &loggerSpy{MemoryDict: ngxtasks.NewMemoryDict(), calls: map[string][]*slog.Logger{}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &ngxtasks.Manager{Dict: spy, Logger: logger}
	noop := func(context.Context, ngxtasks.Firing) error { return nil }
	var rules []ngxtasks.Rule
	for _, id := range []string{"a", "b"} {
		rules = append(rules, ngxtasks.Rule{Identifier: id, Interval: 50 * time.Millisecond, Type: ngxtasks.Preemption, Callback: noop})
	}
	if err := m.Push(rules...); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	if err := m.Run(context.Background()); err != nil { // by hand
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // the next slots, by request
	m.Middleware(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = m.Start(ctx) // by the timer loop, and the clock readings
	if _, _, err := m.Winner(context.Background(), "a", time.Now()); err != nil {
		t.Fatal(err)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	for _, op := range []string{"AddBatch", "Get", "Now"} {
		if len(spy.calls[op]) == 0 {
			t.Errorf("no %s call seen", op)
		}
	}
	for op, seen := range spy.calls {
		for _, l := range seen {
			if l != logger {
				t.Fatalf("a %s call carried %p, not the manager's logger %p", op, l, logger)
			}
		}
	}
}
