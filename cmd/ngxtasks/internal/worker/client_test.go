package worker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/action"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

// TestActionClientBoundsConnections runs 200 http actions to one host at
// once: no more than maxConnsPerHost connections are open at a time, and
// every request is answered.
func TestActionClientBoundsConnections(t *testing.T) {
	var open, most, served atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond) // keep connections busy, so that requests overlap
		served.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := open.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	f, err := rulefile.Parse("/t/rules.yaml", []byte("rules:\n  - {id: h, interval: 1s, type: normal, http: {url: \""+srv.URL+"\"}}\n"), rulefile.Env{})
	if err != nil {
		t.Fatal(err)
	}
	client := actionClient()
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if _, err := action.HTTP(context.Background(), client, f.Rules[0].HTTP, action.Firing{Rule: "h"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if served.Load() != 200 || most.Load() > maxConnsPerHost {
		t.Fatalf("served %d of 200; at most %d connections open at once, want ≤ %d", served.Load(), most.Load(), maxConnsPerHost)
	}
}
