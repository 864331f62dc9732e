package browsertest

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// actLog records the answers to POSTs to act, by status code.
type actLog struct {
	mu    sync.Mutex
	codes []int
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

func (l *actLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/act") {
			next.ServeHTTP(w, r)
			return
		}
		cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(cw, r)
		l.mu.Lock()
		l.codes = append(l.codes, cw.code)
		l.mu.Unlock()
	})
}

func (l *actLog) all() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.codes...)
}

// TestBrowserActionsPauseResumeTriggerAndRefuseCrossSite drives the
// page's buttons in Chromium against two running workers sharing a
// dictionary: Pause, with a note typed in the page's form, shows the rule
// paused (by the status page, with the note) in both workers' rows, and
// their slots skipped as paused, in the table and in the history; Resume
// runs it again; Trigger runs a rule whose filter vetoes every slot, once,
// and a second Trigger at once says it was triggered already; a paused
// rule's Trigger is refused with the pause's note and offers to force it,
// which runs it. A page of
// another origin (another port of 127.0.0.1) whose form posts to act by
// itself is refused (403) and changes nothing.
func TestBrowserActionsPauseResumeTriggerAndRefuseCrossSite(t *testing.T) {
	b := newTab(t)
	var jobRuns atomic.Int64
	every := 200 * time.Millisecond
	rules := []ngxtasks.Rule{
		{Identifier: "tick", Name: "every 200 ms", Interval: every, Type: ngxtasks.Normal, Callback: ok},
		{Identifier: "job", Name: "only when triggered", Interval: time.Hour, Type: ngxtasks.Preemption,
			Callback: func(context.Context, ngxtasks.Firing) error { jobRuns.Add(1); return nil },
			Filter:   func(context.Context, ngxtasks.Firing) bool { return false }},
	}
	dict := ngxtasks.NewMemoryDict()
	t.Cleanup(func() { dict.Close() })
	var workers []*ngxtasks.Manager
	runCtx, stopRunning := context.WithCancel(context.Background())
	var running sync.WaitGroup
	for _, id := range []string{"w1", "w2"} {
		m := &ngxtasks.Manager{Dict: dict, Worker: id, Logger: quiet()}
		if err := m.Push(rules...); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, m)
		running.Go(func() { _ = m.Start(runCtx) })
	}
	t.Cleanup(func() {
		stopRunning()
		running.Wait()
		for _, m := range workers {
			_ = m.Shutdown(context.Background())
		}
	})
	acts := &actLog{}
	mux := http.NewServeMux()
	mux.Handle("/ops/", status.New(status.Options{Refresh: 300 * time.Millisecond, Act: status.LocalAct(workers...)}, workers...))
	srv := httptest.NewServer(acts.wrap(mux)) // 127.0.0.1
	t.Cleanup(srv.Close)

	const (
		tickRows  = `[...document.querySelectorAll('#rules tbody tr[data-rule="tick"]')]`
		jobRows   = `[...document.querySelectorAll('#rules tbody tr[data-rule="job"]')]`
		actMsg    = `document.getElementById("act-msg")`
		pausedCol = 15
	)
	b.navigate(srv.URL + "/ops/")
	b.waitFor("both rules in both workers, with their buttons", tickRows+`.length === 2 && `+jobRows+`.length === 2 &&
		`+tickRows+`.every((tr) => Number(tr.cells[8].textContent) > 0 && tr.querySelector('button[data-act="trigger"]') && tr.querySelector('button[data-act="pause"]')) &&
		!document.querySelector("th.act-col").hidden`)

	// Pause, with a note.
	b.click("Pause on tick", `#rules tbody tr[data-rule="tick"] button[data-act="pause"]`)
	b.waitFor("the pause form", `!document.getElementById("pause-form").hidden && document.getElementById("pause-rule").textContent === "tick"`)
	b.do("type the note", setInput("pause-note", "deploy 7", "input"))
	b.click("submit the pause", "#pause-submit")
	b.waitFor("the pause done", actMsg+`.textContent === "paused tick: deploy 7" && `+actMsg+`.className === "good" && document.getElementById("pause-form").hidden`)
	b.waitFor("both tick rows paused by the page, with the note, with Resume", tickRows+`.every((tr) =>
		/^by status page from 127\.0\.0\.1:\d+: deploy 7$/.test(tr.cells[`+fmt.Sprint(pausedCol)+`].textContent) &&
		tr.querySelector('button[data-act="resume"]') && !tr.querySelector('button[data-act="pause"]'))`)
	b.waitFor("tick's slots skipped as paused in both workers", tickRows+`.every((tr) => tr.cells[6].textContent === "skipped: paused")`)
	for _, m := range workers {
		if p, paused := m.Paused("tick"); !paused || p.Note != "deploy 7" || !strings.HasPrefix(p.Origin, "status page from 127.0.0.1:") {
			t.Errorf("worker %s: pause %+v, %v", m.WorkerID(), p, paused)
		}
	}
	b.click("open tick's history", `#rules tbody tr[data-rule="tick"] td.id`)
	b.waitFor("the history says paused, and its slots skipped as paused with the note", `!document.getElementById("history").hidden &&
		document.getElementById("history-rule").textContent === "tick" &&
		/^Paused by status page from 127\.0\.0\.1:\d+: deploy 7$/.test(document.getElementById("history-paused").textContent) &&
		!document.getElementById("history-paused").hidden &&
		document.querySelectorAll("#history .worker-history").length === 2 &&
		[...document.querySelectorAll("#history .worker-history")].every((part) => [...part.querySelectorAll("table.slots tbody tr")].some((tr) =>
			tr.cells[2].textContent === "skipped" && /^paused: paused by status page from 127\.0\.0\.1:\d+: deploy 7$/.test(tr.cells[3].textContent)))`)

	shoot(t, b, "status-paused.png")

	// Resume.
	b.click("Resume on tick", `#rules tbody tr[data-rule="tick"] button[data-act="resume"]`)
	b.waitFor("the resume done", actMsg+`.textContent === "resumed tick" && `+actMsg+`.className === "good"`)
	b.waitFor("tick running again in both workers", tickRows+`.every((tr) => tr.cells[`+fmt.Sprint(pausedCol)+`].textContent === "" &&
		tr.cells[6].textContent === "succeeded" && tr.querySelector('button[data-act="pause"]')) && document.getElementById("history-paused").hidden`)

	// Trigger, twice.
	if n := jobRuns.Load(); n != 0 {
		t.Fatalf("job ran %d times before a trigger; its filter vetoes every slot", n)
	}
	b.click("Trigger on job", `#rules tbody tr[data-rule="job"] button[data-act="trigger"]`)
	b.waitFor("the trigger done", actMsg+`.textContent === "triggered job" && `+actMsg+`.className === "good"`)
	b.waitFor("job's run in the table", jobRows+`.reduce((n, tr) => n + Number(tr.cells[8].textContent), 0) === 1`)
	b.click("Trigger on job again", `#rules tbody tr[data-rule="job"] button[data-act="trigger"]`)
	b.waitFor("the second trigger refused", actMsg+`.textContent.startsWith("already triggered: job was triggered within the last second") && `+actMsg+`.className === "error"`)
	if n := jobRuns.Load(); n != 1 {
		t.Errorf("job ran %d times after two triggers at once; want 1", n)
	}

	// A paused rule's trigger is refused with the note, and may be forced.
	time.Sleep(1100 * time.Millisecond) // the last trigger's second ends
	b.click("Pause on job", `#rules tbody tr[data-rule="job"] button[data-act="pause"]`)
	b.waitFor("the pause form for job", `!document.getElementById("pause-form").hidden && document.getElementById("pause-rule").textContent === "job"`)
	b.do("type the note", setInput("pause-note", "hold", "input"))
	b.do("type the end", setInput("pause-until", "1h", "input"))
	b.click("submit the pause", "#pause-submit")
	b.waitFor("job paused for an hour", actMsg+`.textContent.startsWith("paused job until ") && `+actMsg+`.textContent.endsWith(": hold") &&
		`+jobRows+`.every((tr) => / until .* UTC: hold$/.test(tr.cells[`+fmt.Sprint(pausedCol)+`].textContent))`)
	b.click("Trigger on the paused job", `#rules tbody tr[data-rule="job"] button[data-act="trigger"]`)
	b.waitFor("the trigger refused, paused, with a way to force it", actMsg+`.className === "error" &&
		/^paused by status page from 127\.0\.0\.1:\d+ until .*: hold Trigger anyway$/.test(`+actMsg+`.textContent)`)
	b.click("Trigger anyway", `#act-msg button[data-force="1"]`)
	b.waitFor("the forced trigger done", actMsg+`.textContent === "triggered job (forced)" && `+actMsg+`.className === "good"`)
	b.waitFor("job's second run in the table", jobRows+`.reduce((n, tr) => n + Number(tr.cells[8].textContent), 0) === 2`)
	if n := jobRuns.Load(); n != 2 {
		t.Errorf("job ran %d times; want 2", n)
	}

	// Another origin's page posts a form to act by itself.
	before := len(acts.all())
	target := srv.URL + "/ops/act"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>elsewhere</title>
<form method="POST" action="%s" enctype="text/plain"><input type="hidden" name='{"rule":"tick","kind":"pause","note":"evil","x":"' value='"}'></form>
<script>document.forms[0].submit()</script>`, html.EscapeString(target))
	}))
	t.Cleanup(evil.Close)
	if evil.URL == srv.URL {
		t.Fatal("the two servers share an origin")
	}
	b.navigate(evil.URL + "/")
	b.waitFor("the form's POST answered as refused", `location.href === `+jsString(target)+` && document.body.textContent.includes("cross-site") && document.body.textContent.includes("own origin")`)
	codes := acts.all()[before:]
	if len(codes) != 1 || codes[0] != http.StatusForbidden {
		t.Errorf("the other origin's POSTs were answered %v; want one 403", codes)
	}
	time.Sleep(1200 * time.Millisecond) // longer than a pause takes to reach every worker
	for _, m := range workers {
		if p, paused := m.Paused("tick"); paused {
			t.Errorf("worker %s: the other origin's form paused tick: %+v", m.WorkerID(), p)
		}
	}

	// Expected: the refused second trigger (409) and the refused form
	// (403), which Chromium logs as failed loads.
	for _, p := range b.problems.all() {
		if (strings.Contains(p, "status of 409") || strings.Contains(p, "status of 403")) && strings.HasSuffix(p, "/ops/act") {
			continue
		}
		t.Errorf("the page: %s", p)
	}
}

// shoot saves the page as name in $NGXTASKS_ARTIFACTS (else the test's
// artifact directory), for people.
func shoot(t *testing.T, b *tab, name string) {
	t.Helper()
	dir := os.Getenv("NGXTASKS_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	sctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(dir, name))
}
