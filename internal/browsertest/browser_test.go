package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

const chromium = "/usr/bin/chromium"

// hostile is a rule identifier written as markup: the page must show it
// as text.
const hostile = "<script>alert(1)</script>"

// pageProblems collects what the page must never do: throw, log an error
// (to the console or the browser's log: a failed load, a refused script),
// open a dialog.
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *pageProblems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.list)
}

// listen is a chromedp listener: it must return at once.
func (p *pageProblems) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		p.add("exception at %s:%d: %s", d.URL, d.LineNumber, text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p.add("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		// The browser asks the server's root for /favicon.ico: not a
		// path of the handler's, and the test's server has none.
		if ev.Entry.Level == log.EntryLevelError && !strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
			p.add("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *page.EventJavascriptDialogOpening:
		p.add("a %s dialog opened: %q", ev.Type, ev.Message)
	}
}

// TestBrowserDashboardWorksOnARunningFleet drives the dashboard in
// Chromium, headless, against two workers running rules every 200 ms, and
// against a handler of 10,000 rules. Each part below is a subtest named
// for what it proves, run in order on the same tab: each starts from the
// page as the one before left it, and a part that stops (t.Fatal) stops
// those after it. Through all of them the page must log no error.
func TestBrowserDashboardWorksOnARunningFleet(t *testing.T) {
	b := newTab(t)
	srv := serveRunningFleet(t)
	artifacts := os.Getenv("NGXTASKS_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.ArtifactDir()
	}

	b.navigate(srv.URL + "/debug/ngxtasks/")
	if title := b.text("title"); title != "fleet <test>" {
		t.Errorf("title %q", title)
	}
	for _, p := range []struct {
		name  string
		check func(t *testing.T, b *tab)
	}{
		{"the table shows every rule in both workers with its results", tableShowsEveryRule},
		{"a hostile identifier and name show as text", hostileShowsAsText},
		{"the search filters by identifier and by name", searchFilters},
		{"the state filter shows that state alone", stateFilterShowsThatState},
		{"a header sorts both ways", headerSortsBothWays},
		{"a row opens its history with who won each lost slot and why a slot was skipped", rowOpensItsHistory},
		{"pause stops the refresh and resume starts it again", pauseStopsTheRefresh},
		{"a screenshot of a history is saved", func(t *testing.T, b *tab) { saveScreenshot(t, b, artifacts) }},
		{"10,000 rules are paged 100 at a time and searched", func(t *testing.T, b *tab) { pagesAndSearchesMany(t, b, srv.URL+"/big/") }},
	} {
		if !b.part(t, p.name, p.check) {
			return
		}
	}

	for _, p := range b.problems.all() {
		t.Errorf("the page: %s", p)
	}
}

// serveRunningFleet serves, at /debug/ngxtasks/, the dashboard of two
// workers really running rules every 200 ms (one failing, one Preemption,
// one vetoed by its filter, one driven by requests alone, one with a
// hostile identifier); at /big/, that of 10,000 rules, for paging. All
// stops when the test ends.
func serveRunningFleet(t *testing.T) *httptest.Server {
	t.Helper()
	every := 200 * time.Millisecond
	rules := []ngxtasks.Rule{
		{Identifier: "heartbeat", Name: "says it is alive", Interval: every, Type: ngxtasks.Normal, Callback: ok},
		{Identifier: "flaky", Name: "always fails", Interval: every, Type: ngxtasks.Normal,
			Callback: func(context.Context, ngxtasks.Firing) error { return errors.New("upstream said 503") }},
		{Identifier: "leader", Name: "one worker", Interval: every, Type: ngxtasks.Preemption, Callback: ok},
		{Identifier: hostile, Name: `<img src=x onerror="alert(2)">`, Interval: every, Type: ngxtasks.Normal, Callback: ok},
		{Identifier: "vetoed", Interval: every, Type: ngxtasks.Normal, Callback: ok,
			Filter: func(context.Context, ngxtasks.Firing) bool { return false }},
		{Identifier: "request-only", Interval: every, Type: ngxtasks.Normal, Callback: ok, Drive: ngxtasks.DriveRequest},
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

	mux := http.NewServeMux()
	mux.Handle("/debug/ngxtasks/", status.New(status.Options{Refresh: 300 * time.Millisecond, Title: "fleet <test>"}, workers...))
	mux.Handle("/big/", status.New(status.Options{}, manyRules(t, 10000, 2)))
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

// tableShowsEveryRule: every (rule, worker) has its row, with results.
// It waits until every rule that can has run or skipped in both workers,
// and the Preemption rule has a winner.
func tableShowsEveryRule(t *testing.T, b *tab) {
	b.waitFor("the rules and their results", `(() => {
		const rs = `+rowsJS+`;
		const by = (id) => rs.filter((r) => r.id === id);
		return rs.length === 12 &&
			by("flaky").every((r) => r.state === "failing") &&
			by("vetoed").every((r) => r.state === "skipping") &&
			by("heartbeat").every((r) => r.state === "ok" || r.state === "running") &&
			by("leader").every((r) => r.winner === "w1" || r.winner === "w2");
	})()`)
	for _, r := range b.rows() {
		id, state, last := r["id"].(string), r["state"].(string), r["last"].(string)
		switch id {
		case "flaky":
			if last != "failed" || !strings.Contains(r["error"].(string), "upstream said 503") || r["errors"] == "0" {
				t.Errorf("flaky row %v", r)
			}
		case "vetoed":
			if last != "skipped: filtered" || r["skips"] == "0" {
				t.Errorf("vetoed row %v", r)
			}
		case "request-only":
			if state != "idle" || r["runs"] != "0" || last != "" {
				t.Errorf("request-only row %v", r)
			}
		case "heartbeat", hostile:
			if r["runs"] == "0" || r["p50"] == "—" || r["type"] != "normal" {
				t.Errorf("%s row %v", id, r)
			}
		case "leader":
			// Under load a slot may also be skipped (claim answered late,
			// timer loop behind): any outcome, but one.
			if r["type"] != "preemption" || last == "" {
				t.Errorf("leader row %v", r)
			}
		default:
			t.Errorf("unexpected row %v", r)
		}
	}
	if c := b.text("#count"); c != "showing 1–12 of 12" {
		t.Errorf("count %q", c)
	}
}

// hostileShowsAsText: the hostile identifier and name are text: no
// element was made of them, no script ran.
func hostileShowsAsText(t *testing.T, b *tab) {
	var injected any
	if err := b.eval(`document.querySelectorAll("main script, main img").length + document.scripts.length`, &injected); err != nil {
		t.Fatal(err)
	}
	if injected != float64(1) { // app.js alone
		t.Errorf("%v script or img elements besides app.js", injected)
	}
	var shown any
	if err := b.eval(`[...document.querySelectorAll("#rules tbody tr")].filter((tr) => tr.cells[0].textContent === `+jsString(hostile)+` && tr.cells[1].textContent === '<img src=x onerror="alert(2)">').length`, &shown); err != nil {
		t.Fatal(err)
	}
	if shown != float64(2) {
		t.Errorf("the hostile identifier shows as text in %v rows, want 2", shown)
	}
}

// searchFilters: typing in the search filters the rows, by identifier
// (any case) and by name.
func searchFilters(t *testing.T, b *tab) {
	b.do("type a search", chromedp.SendKeys(chromedp.ID("search"), "FLAK"))
	b.waitFor("the search to filter", `document.querySelectorAll("#rules tbody tr").length === 2`)
	for _, r := range b.rows() {
		if r["id"] != "flaky" {
			t.Errorf("searching FLAK shows %v", r)
		}
	}
	if c := b.text("#count"); c != "showing 1–2 of 2 (12 in all)" {
		t.Errorf("count %q", c)
	}
	b.do("search by name", setInput("search", "alive", "input"))
	b.waitFor("the search by name", `document.querySelectorAll("#rules tbody tr").length === 2 && document.querySelector("#rules tbody td").textContent === "heartbeat"`)
	b.do("clear the search", setInput("search", "", "input"))
}

// stateFilterShowsThatState: each state of the filter shows the rows in
// that state alone; no state, every row.
func stateFilterShowsThatState(t *testing.T, b *tab) {
	for state, want := range map[string]string{"failing": "flaky", "skipping": "vetoed", "idle": "request-only"} {
		b.do("filter by "+state, setInput("state", state, "change"))
		b.waitFor(state+" rows", `document.querySelectorAll("#rules tbody tr").length === 2`)
		for _, r := range b.rows() {
			if r["id"] != want || r["state"] != state {
				t.Errorf("state %s shows %v", state, r)
			}
		}
	}
	b.do("filter by ok", setInput("state", "ok", "change"))
	b.waitFor("ok rows", `document.querySelectorAll("#rules tbody tr").length >= 2`)
	for _, r := range b.rows() {
		if r["state"] != "ok" {
			t.Errorf("state ok shows %v", r)
		}
	}
	b.do("show every state", setInput("state", "", "change"))
	b.waitFor("every row", `document.querySelectorAll("#rules tbody tr").length === 12`)
}

// headerSortsBothWays: a click on a header sorts by it, a second click the
// other way.
func headerSortsBothWays(t *testing.T, b *tab) {
	b.click("sort by identifier, descending", `#rules th[data-key="identifier"]`)
	b.waitFor("descending identifiers", `document.querySelector("#rules tbody td").textContent === "vetoed"`)
	b.click("sort by identifier, ascending", `#rules th[data-key="identifier"]`)
	b.waitFor("ascending identifiers", `document.querySelector("#rules tbody td").textContent === `+jsString(hostile))
	b.click("sort by worker", `#rules th[data-key="worker"]`)
	b.waitFor("w1's rows first", `[...document.querySelectorAll("#rules tbody tr")].slice(0, 6).every((tr) => tr.cells[2].textContent === "w1")`)
}

// rowOpensItsHistory: a click opens the rule's history: its slots in both
// workers, for each lost slot who won it, and for a skipped one why.
func rowOpensItsHistory(t *testing.T, b *tab) {
	b.click("open leader's history", `#rules tbody tr[data-rule="leader"]`)
	b.waitFor("leader's history", `!document.getElementById("history").hidden &&
		document.getElementById("history-rule").textContent === "leader" &&
		document.querySelectorAll("#history .worker-history").length === 2 &&
		document.querySelectorAll("#history table.slots tbody tr").length >= 4`)
	b.waitFor("a lost slot with its winner", `[...document.querySelectorAll("#history table.slots tbody tr")].some((tr) =>
		tr.cells[2].textContent === "lost" && /^won by w[12]$/.test(tr.cells[3].textContent))`)

	b.click("open the hostile rule's history", `#rules tbody tr[data-worker="w2"][data-rule="`+hostile+`"]`)
	b.waitFor("the hostile rule's history", `document.getElementById("history-rule").textContent === `+jsString(hostile)+` &&
		document.querySelectorAll("#history .worker-history").length === 2 &&
		[...document.querySelectorAll("#history table.slots tbody tr")].some((tr) => tr.cells[2].textContent === "succeeded")`)
	b.click("open vetoed's history", `#rules tbody tr[data-rule="vetoed"]`)
	b.waitFor("the reason of a skip", `document.getElementById("history-rule").textContent === "vetoed" &&
		[...document.querySelectorAll("#history table.slots tbody tr")].some((tr) => tr.cells[2].textContent === "skipped" && tr.cells[3].textContent === "filtered")`)
}

// pauseStopsTheRefresh: pause stops the refresh; resume starts it again.
// The page's fetch is counted (status.json only: a load that was in
// flight when the pause came may still ask for the open history), then
// the test waits in the page's own event loop for 1.5 s, five refresh
// intervals: a refresh timer, had one been set, would fire before that
// wait's, so a busy machine that delays both cannot hide it.
func pauseStopsTheRefresh(t *testing.T, b *tab) {
	b.click("pause", "#pause")
	b.waitFor("paused", `document.getElementById("pause").textContent === "Resume"`)
	var installed any
	if err := b.eval(countFetchesJS, &installed); err != nil || installed != true {
		t.Fatalf("counting the page's fetches: %v, %v", installed, err)
	}
	var paused any
	if err := b.eval(`new Promise((done) => setTimeout(() => done(window.statusFetches), 1500))`, &paused, chromedp.EvalAwaitPromise); err != nil {
		t.Fatal(err)
	}
	if paused != float64(0) {
		t.Errorf("paused, the page asked for status.json %v times in 1.5 s", paused)
	}
	before := b.text("#updated")
	b.click("resume", "#pause")
	b.waitFor("a refresh after resuming", `window.statusFetches > 0 && document.getElementById("updated").textContent !== `+jsString(before))
}

// saveScreenshot saves the page, showing leader's history, in dir as
// status-dashboard.png, for people.
func saveScreenshot(t *testing.T, b *tab, dir string) {
	b.click("open leader's history again", `#rules tbody tr[data-rule="leader"]`)
	b.waitFor("leader's history", `document.getElementById("history-rule").textContent === "leader" && document.querySelectorAll("#history table.slots tbody tr").length >= 4`)
	sctx, cancelShot := context.WithTimeout(b.ctx, stepLimit)
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	cancelShot()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// pagesAndSearchesMany loads the page of 10,000 rules at url: 100 rows a
// page, the next page, the search finding one among them, and the state
// filter counting the failing ones.
func pagesAndSearchesMany(t *testing.T, b *tab, url string) {
	b.do("load the page of 10,000 rules", chromedp.Navigate(url))
	b.waitFor("the first page", `document.getElementById("count").textContent === "showing 1–100 of 10,000"`)
	if n := len(b.rows()); n != 100 {
		t.Errorf("%d rows on a page", n)
	}
	b.click("next page", "#next")
	b.waitFor("the second page", `document.getElementById("count").textContent === "showing 101–200 of 10,000" &&
		document.querySelector("#rules tbody td").textContent === "rule-00100" &&
		document.getElementById("page").textContent === "page 2 of 100"`)
	b.do("search among 10,000", chromedp.SendKeys(chromedp.ID("search"), "rule-09999"))
	b.waitFor("one rule found", `document.getElementById("count").textContent === "showing 1–1 of 1 (10,000 in all)"`)
	b.do("clear the search", setInput("search", "", "input"))
	b.do("filter failing among 10,000", setInput("state", "failing", "change"))
	b.waitFor("the failing rules", `document.getElementById("count").textContent === "showing 1–100 of 1,429 (10,000 in all)"`)
}

// countFetchesJS makes the page count its requests for status.json in
// window.statusFetches, from 0.
const countFetchesJS = `(() => {
	window.statusFetches = 0;
	if (!window.fetchCounted) {
		const f = window.fetch;
		window.fetch = (...args) => {
			if (String(args[0]).startsWith("status.json")) window.statusFetches++;
			return f.apply(window, args);
		};
		window.fetchCounted = true;
	}
	return true;
})()`

// rowsJS reads the rules table as the user sees it.
const rowsJS = `[...document.querySelectorAll("#rules tbody tr")].map((tr) => {
	const c = [...tr.cells].map((td) => td.textContent);
	return {id: c[0], name: c[1], worker: c[2], type: c[3], interval: c[4], state: c[5], last: c[6],
		winner: c[7], runs: c[8], errors: c[9], skips: c[10], p50: c[11], p99: c[12], due: c[13], error: c[14]};
})`

// setInput sets a form control's value and fires the event the page
// listens to, as the user's edit would.
func setInput(id, value, event string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		js := `(() => { const e = document.getElementById(` + jsString(id) + `); e.value = ` + jsString(value) +
			`; e.dispatchEvent(new Event(` + jsString(event) + `, {bubbles: true})); return true; })()`
		_, err := chromedp.Evaluate[bool](js)(ctx, t)
		return err
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == '<' || r == '>':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
