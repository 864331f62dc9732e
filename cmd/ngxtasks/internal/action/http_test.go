package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

const (
	hookKey  = "hook-key-5ecret"
	apiToken = "api-token-5ecret"
)

// httpRule loads an http: section (YAML flow mapping) the way the command
// does, with HOOK_KEY and API_TOKEN set, so that its texts hold secrets.
func httpRule(t *testing.T, section string) *rulefile.HTTP {
	t.Helper()
	secrets := map[string]string{"HOOK_KEY": hookKey, "API_TOKEN": apiToken}
	lookup := func(name string) (string, bool) { v, ok := secrets[name]; return v, ok }
	yaml := "rules:\n  - {id: hook, interval: 1m, type: preemption, http: " + section + "}\n"
	f, err := rulefile.Parse("rules.yaml", []byte(yaml), rulefile.Env{Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	return f.Rules[0].HTTP
}

// localServer serves h on 127.0.0.1 until the test ends.
func localServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{fmt.Sprint(err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, hookKey) || strings.Contains(s, apiToken) {
			t.Errorf("error shows a secret: %s", s)
		}
	}
}

func TestHTTPSendsTheExpandedRequestWithTheRunsHeaders(t *testing.T) {
	type received struct {
		method, uri, body string
		header            http.Header
	}
	got := make(chan received, 1)
	srv := localServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.RequestURI, string(body), r.Header}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "queued")
	})
	h := httpRule(t, `{method: post, url: '`+srv.URL+`/hook?key=${HOOK_KEY}',
		headers: {Authorization: 'Bearer ${API_TOKEN}', Content-Type: application/json},
		body: '{"token":"${API_TOKEN}"}', expect: 202}`)
	res, err := HTTP(context.Background(), nil, h, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 202 || string(res.Output) != "queued" || res.ExitCode != 0 || res.Dropped != 0 {
		t.Errorf("result %+v", res)
	}
	r := <-got
	if r.method != "POST" || r.uri != "/hook?key="+hookKey || r.body != `{"token":"`+apiToken+`"}` {
		t.Errorf("server got %s %s with body %q", r.method, r.uri, r.body)
	}
	for name, want := range map[string]string{
		"Authorization":   "Bearer " + apiToken,
		"Content-Type":    "application/json",
		"Ngxtasks-Run-Id": "run-42",
		"User-Agent":      "ngxtasks",
	} {
		if v := r.header.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("header %s: %q, want %q", name, v, want)
		}
	}
}

func TestHTTPFailsOnAnUnexpectedStatusAndFollowsNoRedirect(t *testing.T) {
	srv := localServer(t, func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &code)
		if code == http.StatusFound {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(code)
		io.WriteString(w, "body of "+r.URL.Path)
	})
	cases := []struct {
		code    int
		expect  string
		wantErr string
	}{
		{200, "", ""},
		{204, "", ""},
		{500, "", "GET " + srv.URL + "/500?key=${HOOK_KEY}: unexpected status 500 Internal Server Error"},
		{200, "expect: [202, 409],", "GET " + srv.URL + "/200?key=${HOOK_KEY}: unexpected status 200 OK"},
		{409, "expect: [202, 409],", ""},
		{599, "", "GET " + srv.URL + "/599?key=${HOOK_KEY}: unexpected status 599"},
		// Redirects are not followed: the 3xx is the status.
		{302, "", "GET " + srv.URL + "/302?key=${HOOK_KEY}: unexpected status 302 Found"},
		{302, "expect: 302,", ""},
	}
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(fmt.Sprintf("%d %s", tc.code, tc.expect), " "), func(t *testing.T) {
			h := httpRule(t, fmt.Sprintf(`{%s url: '%s/%d?key=${HOOK_KEY}'}`, tc.expect, srv.URL, tc.code))
			res, err := HTTP(context.Background(), nil, h, testFiring)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			assertNoSecret(t, err)
			if res.Status != tc.code {
				t.Errorf("Status = %d, want %d", res.Status, tc.code)
			}
			if want := fmt.Sprintf("body of /%d", tc.code); tc.code != 204 && string(res.Output) != want {
				t.Errorf("Output = %q, want %q", res.Output, want)
			}
		})
	}
}

func TestHTTPKeepsTheTailOfALongBody(t *testing.T) {
	const total, limit = 1 << 20, 1 << 10
	body := pattern(total)
	srv := localServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	h := httpRule(t, `{url: '`+srv.URL+`/', output_limit: 1KiB}`)
	res, err := HTTP(context.Background(), nil, h, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Output, body[total-limit:]) || res.Dropped != total-limit {
		t.Errorf("kept %d bytes (dropped %d), want the last %d", len(res.Output), res.Dropped, limit)
	}
}

// A failed request is reported by the URL's template: net/http's own
// error quotes the expanded URL, the key with it.
func TestHTTPConnectionErrorHidesSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	h := httpRule(t, `{method: PUT, url: 'http://`+addr+`/hook?key=${HOOK_KEY}', headers: {Authorization: 'Bearer ${API_TOKEN}'}}`)
	res, err := HTTP(context.Background(), nil, h, testFiring)
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	assertNoSecret(t, err)
	if want := "PUT http://" + addr + "/hook?key=${HOOK_KEY}: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not say why", err)
	}
	if res.Status != 0 {
		t.Errorf("Status = %d with no response", res.Status)
	}
}

func TestHTTPTimeoutEndsTheRequestAsDeadlineExceeded(t *testing.T) {
	release := make(chan struct{})
	srv := localServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release) // before srv.Close, which waits for the handler
	h := httpRule(t, `{url: '`+srv.URL+`/slow?key=${HOOK_KEY}', timeout: 100ms}`)
	start := time.Now()
	_, err := HTTP(context.Background(), nil, h, testFiring)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
	assertNoSecret(t, err)
	t.Log(err)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("a 100ms timeout took %v", took)
	}
}

// The timeout covers reading the body too.
func TestHTTPTimeoutCoversReadingTheBody(t *testing.T) {
	release := make(chan struct{})
	srv := localServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial ")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	h := httpRule(t, `{url: '`+srv.URL+`/slow?key=${HOOK_KEY}', timeout: 200ms}`)
	res, err := HTTP(context.Background(), nil, h, testFiring)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
	assertNoSecret(t, err)
	t.Log(err)
	if res.Status != 200 || string(res.Output) != "partial " {
		t.Errorf("result %+v", res)
	}
}
