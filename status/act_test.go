package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// actWorker is a manager of one hourly rule, counting its runs.
func actWorker(t *testing.T) (*ngxtasks.Manager, *atomic.Int64) {
	t.Helper()
	var runs atomic.Int64
	m := &ngxtasks.Manager{Worker: "w", Logger: quiet()}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Hour, Type: ngxtasks.Normal,
		Callback: func(context.Context, ngxtasks.Firing) error { runs.Add(1); return nil }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m, &runs
}

var csrfMeta = regexp.MustCompile(`<meta name="ngxtasks-csrf" content="([A-Za-z0-9_-]+)">`)

// pageToken loads the page of h and returns its action token.
func pageToken(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://status.test/", nil))
	m := csrfMeta.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("the page: %d %q, no action token in it:\n%.400s", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
	}
	return m[1]
}

// post sends an action to h as the page's script would, with header's
// pairs replacing or (with an empty value) removing its headers.
func post(h http.Handler, body string, header ...string) (int, http.Header, status.ActAnswer) {
	req := httptest.NewRequest(http.MethodPost, "http://status.test/act", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://status.test")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var ans status.ActAnswer
	_ = json.Unmarshal(rec.Body.Bytes(), &ans)
	return rec.Code, rec.Header(), ans
}

// TestActRefusesOtherMethodsMissingTokensAndCrossSiteRequests: the act
// document takes POST alone (405), the bearer token whenever one is set
// (401), a request from the page's own origin alone (403 for another
// Origin, a null one, a cross-site or same-site Sec-Fetch-Site) and the
// page's action token (403 without it, with a wrong one or one of another
// handler), as JSON (415); none of them changes anything.
func TestActRefusesOtherMethodsMissingTokensAndCrossSiteRequests(t *testing.T) {
	const token = "act-token"
	m, _ := actWorker(t)
	h := status.New(status.Options{Token: token, Act: status.LocalAct(m)}, m)
	csrf := pageToken(t, h)
	if again := pageToken(t, h); again == csrf {
		t.Error("two page loads got the same action token")
	}
	other := pageToken(t, status.New(status.Options{Act: status.LocalAct(m)}, m))
	auth := "Bearer " + token
	pause := `{"rule":"r","kind":"pause","note":"x"}`

	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "http://status.test/act", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
			t.Errorf("%s act: %d, Allow %q; want 405, POST", method, rec.Code, rec.Header().Get("Allow"))
		}
	}
	for _, c := range []struct {
		name   string
		code   int
		header []string
	}{
		{"no bearer token", 401, []string{"Ngxtasks-Csrf", csrf}},
		{"a wrong bearer token", 401, []string{"Authorization", "Bearer nope", "Ngxtasks-Csrf", csrf}},
		{"another site's Origin", 403, []string{"Authorization", auth, "Ngxtasks-Csrf", csrf, "Origin", "http://evil.test"}},
		{"another port's Origin", 403, []string{"Authorization", auth, "Ngxtasks-Csrf", csrf, "Origin", "http://status.test:8080"}},
		{"a null Origin", 403, []string{"Authorization", auth, "Ngxtasks-Csrf", csrf, "Origin", "null"}},
		{"a cross-site fetch without Origin", 403, []string{"Authorization", auth, "Ngxtasks-Csrf", csrf, "Origin", "", "Sec-Fetch-Site", "cross-site"}},
		{"a same-site fetch", 403, []string{"Authorization", auth, "Ngxtasks-Csrf", csrf, "Sec-Fetch-Site", "same-site"}},
		{"no action token", 403, []string{"Authorization", auth}},
		{"a wrong action token", 403, []string{"Authorization", auth, "Ngxtasks-Csrf", csrf[:len(csrf)-2] + "AA"}},
		{"another handler's action token", 403, []string{"Authorization", auth, "Ngxtasks-Csrf", other}},
		{"a form's body", 415, []string{"Authorization", auth, "Ngxtasks-Csrf", csrf, "Content-Type", "application/x-www-form-urlencoded"}},
	} {
		code, _, ans := post(h, pause, c.header...)
		if code != c.code || ans.OK || ans.Message == "" {
			t.Errorf("%s: %d %+v; want %d", c.name, code, ans, c.code)
		}
		if _, paused := m.Paused("r"); paused {
			t.Fatalf("%s: refused, yet the rule is paused", c.name)
		}
	}
	// Neither Origin nor Sec-Fetch-Site: not a browser's request, which
	// the action token still guards.
	if code, _, ans := post(h, pause, "Authorization", auth, "Ngxtasks-Csrf", csrf, "Origin", "", "Sec-Fetch-Site", ""); code != 200 || !ans.OK {
		t.Errorf("a request without Origin and Sec-Fetch-Site, with both tokens: %d %+v", code, ans)
	}
	if _, paused := m.Paused("r"); !paused {
		t.Error("the pause answered 200 is not in effect")
	}

	// Without Act the handler stays read only.
	ro := status.New(status.Options{}, m)
	if code, hd, _ := post(ro, pause); code != http.StatusMethodNotAllowed || hd.Get("Allow") != "GET, HEAD" {
		t.Errorf("act on a handler without Act: %d, Allow %q", code, hd.Get("Allow"))
	}
	rec := httptest.NewRecorder()
	ro.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://status.test/", nil))
	if strings.Contains(rec.Body.String(), "ngxtasks-csrf") || strings.Contains(rec.Body.String(), "data-act") {
		t.Error("the page of a handler without Act offers actions")
	}
}

// TestActPausesResumesAndTriggersWithTheLibrarysReasons: a POST from the
// page pauses the rule with its note, an end given as a duration and the
// client's address as the origin; a trigger of the paused rule is refused
// (409, paused, with the note), a forced one runs; resume; a trigger runs
// once and a second within the second is refused as already triggered;
// an unknown rule is 404, a bad action 400. status.json shows the pause.
func TestActPausesResumesAndTriggersWithTheLibrarysReasons(t *testing.T) {
	m, runs := actWorker(t)
	var logged bytes.Buffer
	h := status.New(status.Options{Act: status.LocalAct(m), Logger: slog.New(slog.NewTextHandler(&logged, nil))}, m)
	csrf := pageToken(t, h)
	act := func(body string) (int, status.ActAnswer) {
		t.Helper()
		code, _, ans := post(h, body, "Ngxtasks-Csrf", csrf)
		return code, ans
	}
	before := time.Now()
	if code, ans := act(`{"rule":"r","kind":"pause","note":"deploying","until":"30m"}`); code != 200 || !ans.OK || !strings.HasPrefix(ans.Message, "paused r until ") || !strings.HasSuffix(ans.Message, ": deploying") {
		t.Fatalf("pause: %d %+v", code, ans)
	}
	p, paused := m.Paused("r")
	if !paused || p.Note != "deploying" || p.Origin != "status page from 192.0.2.1:1234" ||
		p.Until.Before(before.Add(30*time.Minute)) || p.Until.After(time.Now().Add(30*time.Minute)) {
		t.Fatalf("the pause: %+v %v", p, paused)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://status.test/status.json", nil))
	var doc status.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Rules) != 1 || doc.Rules[0].Paused == nil ||
		doc.Rules[0].Paused.Note != "deploying" || doc.Rules[0].Paused.Origin != p.Origin || doc.Rules[0].Paused.Until == "" {
		t.Fatalf("status.json while paused: %v %s", err, rec.Body)
	}

	code, ans := act(`{"rule":"r","kind":"trigger"}`)
	var pe *ngxtasks.PausedError
	if code != http.StatusConflict || ans.Reason != "paused" || ans.Paused == nil || ans.Paused.Note != "deploying" ||
		!errors.As(ans.Err(), &pe) || pe.Pause.Note != "deploying" || !strings.Contains(ans.Message, "deploying") {
		t.Fatalf("trigger while paused: %d %+v", code, ans)
	}
	if code, ans := act(`{"rule":"r","kind":"trigger","force":true}`); code != 200 || ans.Message != "triggered r (forced)" {
		t.Fatalf("forced trigger while paused: %d %+v", code, ans)
	}
	waitRuns(t, runs, 1)
	if code, ans := act(`{"rule":"r","kind":"resume","note":"done"}`); code != 200 || ans.Message != "resumed r: done" {
		t.Fatalf("resume: %d %+v", code, ans)
	}
	if _, paused := m.Paused("r"); paused {
		t.Fatal("resumed, still paused")
	}
	time.Sleep(1100 * time.Millisecond) // the forced trigger's window ends
	if code, ans := act(`{"rule":"r","kind":"trigger"}`); code != 200 || !ans.OK || ans.Message != "triggered r" {
		t.Fatalf("trigger: %d %+v", code, ans)
	}
	waitRuns(t, runs, 2)
	code, ans = act(`{"rule":"r","kind":"trigger"}`)
	if code != http.StatusConflict || ans.Reason != "triggered" || !errors.Is(ans.Err(), ngxtasks.ErrTriggered) || !strings.Contains(ans.Message, "already triggered") {
		t.Fatalf("a second trigger within the second: %d %+v", code, ans)
	}
	if code, ans := act(`{"rule":"nope","kind":"trigger"}`); code != http.StatusNotFound || ans.Reason != "no rule" || !errors.Is(ans.Err(), status.ErrNoRule) {
		t.Errorf("unknown rule: %d %+v", code, ans)
	}
	for _, body := range []string{`{"rule":"r","kind":"explode"}`, `{"rule":"r","kind":"pause","until":"yesterday"}`,
		`{"rule":"r","kind":"pause","until":"-5m"}`, `{"rule":"r","kind":"resume","force":true}`, `{"rule":"","kind":"pause"}`,
		`{"rule":"r","kind":"pause","extra":1}`, `not json`, `{"rule":"r","kind":"pause","note":"` + strings.Repeat("n", 600) + `"}`} {
		if code, ans := act(body); code != http.StatusBadRequest || ans.Reason != "bad request" {
			t.Errorf("%.60s: %d %+v; want 400", body, code, ans)
		}
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs; want 2 (the forced trigger and one trigger)", n)
	}
	for _, want := range []string{
		`level=INFO msg="ngxtasks: action done" action=pause rule=r origin="status page from 192.0.2.1:1234" note=deploying until=`,
		`level=WARN msg="ngxtasks: action refused" action=trigger rule=r origin="status page from 192.0.2.1:1234" reason=paused`,
		`level=INFO msg="ngxtasks: action done" action=resume rule=r origin="status page from 192.0.2.1:1234" note=done`,
		`level=WARN msg="ngxtasks: action refused" action=trigger rule=r origin="status page from 192.0.2.1:1234" reason=triggered`,
	} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logged.String())
		}
	}
}

func waitRuns(t *testing.T, runs *atomic.Int64, n int64) {
	t.Helper()
	for i := 0; i < 500 && runs.Load() < n; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if runs.Load() < n {
		t.Fatalf("%d runs; want %d", runs.Load(), n)
	}
}

// TestParseUntilTakesATimeOrADurationFromNow: the end of a pause, as the
// page and the command take it.
func TestParseUntilTakesATimeOrADurationFromNow(t *testing.T) {
	now := t0
	for _, c := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{"", time.Time{}, ""},
		{"30m", now.Add(30 * time.Minute), ""},
		{" 1h30m ", now.Add(90 * time.Minute), ""},
		{"2026-11-24T13:00:00Z", now.Add(time.Hour), ""},
		{"2026-11-24T14:00:00+01:00", now.Add(time.Hour), ""},
		{"0s", time.Time{}, "must be positive"},
		{"2026-11-24T11:00:00Z", time.Time{}, "has passed"},
		{"tomorrow", time.Time{}, "neither an RFC 3339 time"},
	} {
		got, err := status.ParseUntil(c.in, now)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, %v; want an error saying %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}
