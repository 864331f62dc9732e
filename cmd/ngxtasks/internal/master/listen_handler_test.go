package master

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// get asks h for url with Host host and, when token is not empty, the
// bearer token.
func get(h http.Handler, method, url, host, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, url, nil)
	r.Host = host
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// listenerMaster is a master whose listener is on addr with token; its
// workers have no process, so the documents gathered from them are empty.
func listenerMaster(t *testing.T, addr, token string) *Master {
	m := newTestMaster(t, reloadFile)
	m.settings.Listen, m.settings.Token = addr, token
	m.sockets = t.TempDir()
	m.workers[1].restarts = 2
	return m
}

// TestListenerWithoutTokenServesOnlyReadsForLocalHosts: on loopback without
// a token the listener serves its documents to requests naming loopback or
// its own host, and nothing but GET and HEAD.
func TestListenerWithoutTokenServesOnlyReadsForLocalHosts(t *testing.T) {
	h := listenerMaster(t, "127.0.0.1:9191", "").handler()
	for _, c := range []struct {
		method, path, host string
		code               int
		body               string
	}{
		{"GET", "/", "127.0.0.1:9191", 200, "<html"},
		{"GET", "/", "localhost:9191", 200, "ngxtasks: "},
		{"GET", "/workers.json", "127.0.0.1:9191", 200, `"name":"w1"`},
		{"GET", "/metrics", "[::1]:9191", 200, `ngxtasks_worker_restarts_total{worker="w1"} 2`},
		{"HEAD", "/workers.json", "127.0.0.1:9191", 200, ""},
		{"GET", "/workers.json", "evil.example:9191", 403, "token_env"},
		{"GET", "/", "evil.example", 403, ""},
		{"POST", "/workers.json", "127.0.0.1:9191", 405, "read only"},
	} {
		w := get(h, c.method, "http://"+c.host+c.path, c.host, "")
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s %s for %s: %d %.200q; want %d with %q", c.method, c.path, c.host, w.Code, w.Body.String(), c.code, c.body)
		}
	}
	w := get(h, "GET", "http://127.0.0.1:9191/workers.json", "127.0.0.1:9191", "")
	var workers []WorkerInfo
	if err := json.Unmarshal(w.Body.Bytes(), &workers); err != nil || len(workers) != 3 || workers[1].Restarts != 2 {
		t.Fatalf("workers.json: %v %+v", err, workers)
	}
}

// TestListenerWithTokenGuardsEveryDocumentButThePage: with a token every
// document asks for it, from any host; the status page, which holds no data,
// does not, and names no file.
func TestListenerWithTokenGuardsEveryDocumentButThePage(t *testing.T) {
	const token = "s3cret"
	h := listenerMaster(t, ":9191", token).handler()
	for _, c := range []struct {
		path, token string
		code        int
	}{
		{"/", "", 200},
		{"/status.json", "", 401},
		{"/status.json", token, 200},
		{"/workers.json", "", 401},
		{"/workers.json", "wrong", 401},
		{"/workers.json", token, 200},
		{"/metrics", "", 401},
		{"/metrics", token, 200},
	} {
		w := get(h, "GET", "http://status.example:9191"+c.path, "status.example:9191", c.token)
		if w.Code != c.code {
			t.Errorf("%s with token %q: %d %.200q; want %d", c.path, c.token, w.Code, w.Body.String(), c.code)
		}
		if w.Code == 401 && c.path != "/status.json" && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.path)
		}
	}
	if page := get(h, "GET", "http://status.example/", "status.example", "").Body.String(); strings.Contains(page, "rules.yaml") {
		t.Error("the page served without the token names the rule file")
	}
	if w := get(h, "DELETE", "http://status.example/metrics", "status.example", token); w.Code != 405 {
		t.Errorf("DELETE with the token: %d, want 405", w.Code)
	}
}
