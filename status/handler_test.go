package status_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// serve mounts h at /debug/ngxtasks/ on a ServeMux, as the package doc
// says, on a test server on 127.0.0.1.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/debug/ngxtasks/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestRoutesServeTheirTypesAndHeaders: what is served below the mount point,
// with which type and headers, and what is not.
func TestRoutesServeTheirTypesAndHeaders(t *testing.T) {
	m := &ngxtasks.Manager{Worker: "w", Logger: quiet()}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: 10e9, Type: ngxtasks.Normal, Callback: ok}); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, status.New(status.Options{}, m))
	base := srv.URL + "/debug/ngxtasks/"

	for _, c := range []struct {
		path, ctype, holds string
	}{
		{"", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"app.js", "text/javascript; charset=utf-8", "textContent"},
		{"app.css", "text/css; charset=utf-8", "font"},
		{"status.json", "application/json; charset=utf-8", `"schema":"ngxtasks.status/v1"`},
		{"history.json?rule=r", "application/json; charset=utf-8", `"rule":"r"`},
	} {
		resp, body := do(t, http.MethodGet, base+c.path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.ctype || !strings.Contains(body, c.holds) {
			t.Errorf("GET %q: %s, %q, body holds %q: %v", c.path, resp.Status, resp.Header.Get("Content-Type"), c.holds, strings.Contains(body, c.holds))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'self'" {
			t.Errorf("GET %q: Content-Security-Policy %q", c.path, csp)
		}
		if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("GET %q: X-Content-Type-Options %q", c.path, v)
		}
		head, body := do(t, http.MethodHead, base+c.path)
		if head.StatusCode != http.StatusOK || body != "" || head.Header.Get("Content-Type") != c.ctype {
			t.Errorf("HEAD %q: %s, %d bytes", c.path, head.Status, len(body))
		}
	}

	// The page loads nothing from elsewhere and runs no inline script.
	_, page := do(t, http.MethodGet, base)
	for _, bad := range []string{"http:", "https:", "<style", "style=", "onclick", "<script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if !strings.Contains(page, `data-refresh-ms="2000"`) || !strings.Contains(page, "<title>ngxtasks</title>") {
		t.Errorf("the page's defaults are missing:\n%s", page)
	}

	// An asset is revalidated, not fetched again.
	resp, _ := do(t, http.MethodGet, base+"app.js")
	req, _ := http.NewRequest(http.MethodGet, base+"app.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if again, err := noRedirect.Do(req); err != nil || again.StatusCode != http.StatusNotModified {
		t.Errorf("app.js with its ETag: %v %v", again.Status, err)
	} else {
		again.Body.Close()
	}

	for _, path := range []string{"nope", "status.json/", "sub/", "sub/status.json", "app.js/x", "index.html", "assets/app.js"} {
		resp, body := do(t, http.MethodGet, base+path)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %q: %s %s", path, resp.Status, body)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %q: no Content-Security-Policy", path)
		}
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, path := range []string{"", "status.json", "history.json?rule=r"} {
			resp, _ := do(t, method, base+path)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %q: %s, Allow %q", method, path, resp.Status, resp.Header.Get("Allow"))
			}
		}
	}
}

// TestMountPointWithoutItsSlashRedirectsToThePage: the mount point without
// its slash leads to the page, whoever routes it: ServeMux's subtree
// pattern, an exact pattern, or http.StripPrefix, which leaves the handler
// an empty path.
func TestMountPointWithoutItsSlashRedirectsToThePage(t *testing.T) {
	h := status.New(status.Options{})
	mux := http.NewServeMux()
	mux.Handle("/debug/ngxtasks/", h)
	mux.Handle("/exact", h)
	mux.Handle("/exact/", h)
	mux.Handle("/stripped/", http.StripPrefix("/stripped", h))
	mux.Handle("/slashed/", http.StripPrefix("/slashed/", h)) // the handler sees "" for the page
	mux.Handle("/trimmed", http.StripPrefix("/trimmed", h))   // the handler sees ""
	mux.Handle("/trimmed/", http.StripPrefix("/trimmed", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, path := range []string{"/debug/ngxtasks", "/exact", "/trimmed", "/exact?x=1"} {
		resp, _ := do(t, http.MethodGet, srv.URL+path)
		if resp.StatusCode/100 != 3 { // ServeMux's is 307; the handler's 301
			t.Errorf("GET %s: %s, want a redirect", path, resp.Status)
			continue
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := resp.Request.URL.Parse(path)
		want.Path += "/"
		if loc.String() != want.String() {
			t.Errorf("GET %s: Location %q leads to %s, want %s", path, resp.Header.Get("Location"), loc, want)
		}
		// Followed, it is the page.
		page, err := http.Get(loc.String())
		if err != nil {
			t.Fatal(err)
		}
		page.Body.Close()
		if page.StatusCode != http.StatusOK || page.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("GET %s: %s %s", loc, page.Status, page.Header.Get("Content-Type"))
		}
	}
	for path, ctype := range map[string]string{
		"/stripped/": "text/html", "/stripped/status.json": "application/json",
		"/slashed/": "text/html", "/slashed/app.css": "text/css",
	} {
		resp, body := do(t, http.MethodGet, srv.URL+path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %s %s: %.80s", path, resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestPageTakesTitleAndRefreshFromOptionsEscaped: the page's title and
// refresh interval come from Options, escaped as HTML.
func TestPageTakesTitleAndRefreshFromOptionsEscaped(t *testing.T) {
	h := status.New(status.Options{Title: `<b>"fleet"</b>`, Refresh: 500e6})
	rec := get(t, h, "/")
	body := rec.Body.String()
	if !strings.Contains(body, "<title>&lt;b&gt;&#34;fleet&#34;&lt;/b&gt;</title>") || !strings.Contains(body, `data-refresh-ms="500"`) {
		t.Errorf("page:\n%s", body)
	}
	if strings.Contains(body, "<b>") {
		t.Error("the title went in as markup")
	}
}
