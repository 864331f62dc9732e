package ngxtasks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestMiddleware_OncePerSlotUnder2000ConcurrentRequests: waves of 2,000
// concurrent requests, one wave per slot, against two workers (managers)
// sharing a dictionary: every Normal rule runs once per slot per worker, and
// every Preemption rule once per slot in all.
func TestMiddleware_OncePerSlotUnder2000ConcurrentRequests(t *testing.T) {
	const waves, concurrency = 5, 2000
	clock := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: clock}
	type key struct {
		worker, rule string
		slot         int64
	}
	var mu sync.Mutex
	runs := map[key]int{}
	cb := func(_ context.Context, f ngxtasks.Firing) error {
		mu.Lock()
		runs[key{f.Worker, f.Rule.Identifier, f.Slot.N}]++
		mu.Unlock()
		return nil
	}
	var served atomic.Int64
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served.Add(1); _, _ = io.WriteString(w, "ok") })
	var handlers []http.Handler
	for _, w := range []string{"w1", "w2"} {
		m := &ngxtasks.Manager{Dict: d, Clock: clock, Worker: w}
		shutdown(t, m)
		for i := range 10 {
			typ := ngxtasks.Normal
			if i%2 == 1 {
				typ = ngxtasks.Preemption
			}
			if err := m.Push(ngxtasks.Rule{Identifier: fmt.Sprintf("r%d", i), Interval: time.Second, Type: typ, Callback: cb}); err != nil {
				t.Fatal(err)
			}
		}
		handlers = append(handlers, m.Middleware(app))
	}
	for wave := range waves {
		var wg sync.WaitGroup
		for i := range concurrency {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				handlers[i%2].ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code != 200 || rec.Body.String() != "ok" {
					t.Errorf("wave %d: response %d %q", wave, rec.Code, rec.Body.String())
				}
			})
		}
		wg.Wait()
		clock.Add(time.Second)
	}
	if served.Load() != waves*concurrency {
		t.Fatalf("handler served %d of %d requests", served.Load(), waves*concurrency)
	}
	first := t0.Unix()
	for s := first; s < first+waves; s++ {
		for i := range 10 {
			id := fmt.Sprintf("r%d", i)
			n1, n2 := runs[key{"w1", id, s}], runs[key{"w2", id, s}]
			if i%2 == 0 && (n1 != 1 || n2 != 1) {
				t.Fatalf("normal %s slot %d ran %d and %d times in the two workers, want 1 and 1", id, s, n1, n2)
			}
			if i%2 == 1 && n1+n2 != 1 {
				t.Fatalf("preemption %s slot %d ran %d times in all, want 1", id, s, n1+n2)
			}
		}
	}
}

// TestMiddleware_RewritesTheResponse: each way a per-request callback can
// change its request's response, as a client sees it over HTTP.
func TestMiddleware_RewritesTheResponse(t *testing.T) {
	handlerCalls := map[string]int{}
	var mu sync.Mutex
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		handlerCalls[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("X-App", "yes")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "hello from the handler")
	})
	tests := []struct {
		name        string
		cb          ngxtasks.Func
		wantStatus  int
		wantBody    string
		wantHeader  [2]string
		wantHandler int
	}{
		{"header", func(_ context.Context, f ngxtasks.Firing) error {
			f.Exchange.Header().Set("X-Task", "ran")
			return nil
		}, http.StatusAccepted, "hello from the handler", [2]string{"X-Task", "ran"}, 1},
		{"respond", func(_ context.Context, f ngxtasks.Firing) error {
			f.Exchange.Header().Set("X-Task", "answered")
			f.Exchange.Respond(http.StatusServiceUnavailable, []byte("maintenance"))
			return nil
		}, http.StatusServiceUnavailable, "maintenance", [2]string{"X-Task", "answered"}, 0},
		{"rewrite", func(_ context.Context, f ngxtasks.Firing) error {
			f.Exchange.Rewrite(func(res *ngxtasks.Response) {
				res.Body = []byte(strings.ToUpper(string(res.Body)) + "!")
				res.Status = http.StatusOK
				res.Header.Set("X-Rewritten", res.Header.Get("X-App"))
			})
			return nil
		}, http.StatusOK, "HELLO FROM THE HANDLER!", [2]string{"X-Rewritten", "yes"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &ngxtasks.Manager{}
			shutdown(t, m)
			if err := m.Push(ngxtasks.Rule{Identifier: tt.name, Interval: time.Hour, Type: ngxtasks.Normal, Callback: tt.cb}); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(m.Middleware(app))
			defer srv.Close()
			get := func() (*http.Response, string) {
				res, err := srv.Client().Get(srv.URL + "/" + tt.name)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res, string(b)
			}
			res, body := get() // the rule is due: this request runs it
			if res.StatusCode != tt.wantStatus || body != tt.wantBody || res.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Fatalf("got %d %q %s=%q; want %d %q %q", res.StatusCode, body, tt.wantHeader[0], res.Header.Get(tt.wantHeader[0]), tt.wantStatus, tt.wantBody, tt.wantHeader[1])
			}
			if res.ContentLength != int64(len(tt.wantBody)) {
				t.Fatalf("Content-Length %d for a %d-byte body", res.ContentLength, len(tt.wantBody))
			}
			res, body = get() // nothing due: the handler's own response
			if res.StatusCode != http.StatusAccepted || body != "hello from the handler" || res.Header.Get("X-Task") != "" {
				t.Fatalf("second request: %d %q", res.StatusCode, body)
			}
			mu.Lock()
			defer mu.Unlock()
			if handlerCalls["/"+tt.name] != tt.wantHandler+1 {
				t.Fatalf("handler called %d times, want %d", handlerCalls["/"+tt.name], tt.wantHandler+1)
			}
		})
	}
}

// TestMiddleware_BackgroundRulesDoNotHoldTheRequest.
func TestMiddleware_BackgroundRulesDoNotHoldTheRequest(t *testing.T) {
	release := make(chan struct{})
	done := make(chan bool, 1)
	m := &ngxtasks.Manager{}
	shutdown(t, m)
	_ = m.Push(ngxtasks.Rule{Identifier: "bg", Interval: time.Hour, Type: ngxtasks.Normal, Background: true,
		Callback: func(_ context.Context, f ngxtasks.Firing) error {
			<-release
			done <- f.Exchange == nil
			return nil
		}})
	rec := httptest.NewRecorder()
	finished := make(chan struct{})
	go func() {
		m.Middleware(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(2 * time.Second):
		t.Fatal("the request waited for a Background rule")
	}
	close(release)
	if noExchange := <-done; !noExchange {
		t.Fatal("a Background run was given the request's Exchange")
	}
}
