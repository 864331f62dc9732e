package luarules_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// TestRequestRewritesResponse: a Lua rule driven by requests (the
// manager's Middleware, in front of a real HTTP server on 127.0.0.1)
// answers the request of its slot with its own status, headers and body
// (ngx.header, ngx.status, ngx.print, ngx.say, ngx.exit(ngx.OK)), changes
// only the status of another (ngx.status alone), answers a third with
// ngx.exit(403), redirects a fourth (ngx.redirect) and sets a header of
// the request the handler gets for a fifth (ngx.req.set_header); the
// requests in between get the handler's response.
func TestRequestRewritesResponse(t *testing.T) {
	f, err := luarules.Load("testdata/request.lua", luarules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock(t0)
	w, err := f.Worker(luarules.WorkerConfig{ID: 3, Clock: clock, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet()}
	shutdown(t, m)
	if err := m.Push(w.Rules()...); err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler", "yes")
		_, _ = io.WriteString(w, "handler "+r.URL.Path+r.Header.Get("X-From-Lua"))
	})
	srv := httptest.NewServer(m.Middleware(handler))
	defer srv.Close()

	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "luatest/1")
		req.Header.Set("Accept-Language", "fr")
		req.AddCookie(&http.Cookie{Name: "session", Value: "abc"})
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(b)
	}

	res, body := get("/hello?x=42")
	want := "rewritten by rewrite for GET /hello?x=42\nagent=luatest/1 arg=42 host=127.0.0.1\n" +
		"x=42 method=GET cookie=abc lang=fr missing=nil scheme=http\n"
	if res.StatusCode != 203 || body != want {
		t.Fatalf("rewritten response: %d %q, want 203 %q", res.StatusCode, body, want)
	}
	if res.Header.Get("X-Task") != "rewrite" || res.Header.Get("X-Worker") != "3" || res.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("headers %v", res.Header)
	}
	if res.Header.Get("X-Handler") != "" {
		t.Errorf("the handler ran: %v", res.Header)
	}

	// Same slot: the handler answers.
	res, body = get("/hello")
	if res.StatusCode != 200 || body != "handler /hello" || res.Header.Get("X-Task") != "" {
		t.Fatalf("second request of the slot: %d %q %v", res.StatusCode, body, res.Header)
	}

	clock.Add(time.Second)
	res, body = get("/teapot")
	if res.StatusCode != 418 || body != "handler /teapot" || res.Header.Get("X-Handler") != "yes" {
		t.Fatalf("status-only rewrite: %d %q %v", res.StatusCode, body, res.Header)
	}

	clock.Add(time.Second)
	res, body = get("/forbidden")
	if res.StatusCode != 403 || body != "" || res.Header.Get("X-Denied-By") != "rewrite" {
		t.Fatalf("ngx.exit(403): %d %q %v", res.StatusCode, body, res.Header)
	}
	clock.Add(time.Second)
	srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, body = get("/old")
	if res.StatusCode != 301 || res.Header.Get("Location") != "/new" || body != "" {
		t.Fatalf("ngx.redirect: %d %q %v", res.StatusCode, body, res.Header)
	}

	clock.Add(time.Second)
	res, body = get("/tagged")
	if res.StatusCode != 200 || body != "handler /taggedrewrite" {
		t.Fatalf("ngx.req.set_header: %d %q", res.StatusCode, body)
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server on %s", srv.URL)
	}
}

// TestRequestCallbackErrorServesHandler: a per-request Lua callback that
// fails changes neither status nor body: the handler answers, the error
// is the run's (reported as an event), and the server goes on.
func TestRequestCallbackErrorServesHandler(t *testing.T) {
	f, err := luarules.Load("testdata/request_error.lua", luarules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Worker(luarules.WorkerConfig{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rs := newRuns()
	m := &ngxtasks.Manager{Logger: quiet(), Observer: rs.observe}
	shutdown(t, m)
	if err := m.Push(w.Rules()...); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "handler")
	})))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "handler" {
		t.Fatalf("%d %q", res.StatusCode, b)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.errs) != 1 || !strings.Contains(rs.errs[0].Error(), `testdata/request_error.lua:3: rule "breaks": callback: testdata/request_error.lua:10: broken halfway`) {
		t.Fatalf("errors %v", rs.errs)
	}
}
