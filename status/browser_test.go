package status_test

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

// TestBrowser drives the dashboard in Chromium, headless, against two
// workers running rules every 200 ms: the table shows the rules and their
// results, the search, state filter, sorting and history work, the hostile
// identifier is text, pausing stops the refresh, and the page logs no
// error.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs %s for the status page's browser test: %v", chromium, err)
		}
		t.Skipf("no %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Two workers, really running.
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
	defer dict.Close()
	var workers []*ngxtasks.Manager
	runCtx, stopRunning := context.WithCancel(ctx)
	var running sync.WaitGroup
	for _, id := range []string{"w1", "w2"} {
		m := &ngxtasks.Manager{Dict: dict, Worker: id, Logger: quiet()}
		if err := m.Push(rules...); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, m)
		running.Go(func() { _ = m.Start(runCtx) })
	}
	defer func() {
		stopRunning()
		running.Wait()
		for _, m := range workers {
			_ = m.Shutdown(context.Background())
		}
	}()

	mux := http.NewServeMux()
	mux.Handle("/debug/ngxtasks/", status.New(status.Options{Refresh: 300 * time.Millisecond, Title: "fleet <test>"}, workers...))
	// 10,000 rules, for paging.
	mux.Handle("/big/", status.New(status.Options{}, manyRules(t, 10000, 2)))
	srv := httptest.NewServer(mux) // 127.0.0.1
	defer srv.Close()

	// The browser, closed before the server.
	var problems pageProblems
	allocCtx, closeAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
		chromedp.WindowSize(1400, 1000),
	)
	defer closeAlloc()
	bctx, closeBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(problems.listen))
	defer closeBrowser()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v (page problems: %q)", what, err, problems.all())
		}
	}
	// click clicks the first element sel selects. The table is rebuilt at
	// every refresh, so the element found may be gone when the click
	// lands: then it tries again, for at most 5 seconds.
	click := func(what, sel string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			sctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			err := chromedp.Do(sctx, chromedp.Click(chromedp.CSS(sel)))
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v (page problems: %q)", what, err, problems.all())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	eval := func(expr string, into any) error {
		sctx, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[any](expr))
		if err != nil {
			return err
		}
		if p, ok := into.(*any); ok {
			*p = v
		}
		return nil
	}
	// waitFor polls a JavaScript condition (Runtime.evaluate, which the
	// page's CSP does not govern; chromedp.Poll builds a Function, which
	// it does) until it holds, for at most 8 seconds.
	waitFor := func(what, cond string) {
		t.Helper()
		deadline := time.Now().Add(8 * time.Second)
		for {
			var v any
			err := eval("Boolean("+cond+")", &v)
			if err == nil && v == true {
				return
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				var snapshot any
				_ = eval(rowsJS, &snapshot)
				t.Fatalf("waiting for %s: %v; rows: %v; count %q; page problems: %q", what, err, snapshot, text(t, eval, "#count"), problems.all())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	rows := func() []map[string]any {
		t.Helper()
		var v any
		if err := eval(rowsJS, &v); err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for _, r := range v.([]any) {
			out = append(out, r.(map[string]any))
		}
		return out
	}

	// The first Run starts the browser and tab, which live as long as its
	// context: bctx itself (bounded by ctx), not a shorter child.
	base := srv.URL + "/debug/ngxtasks/"
	if err := chromedp.Do(bctx, chromedp.Navigate(base)); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	if title := text(t, eval, "title"); title != "fleet <test>" {
		t.Errorf("title %q", title)
	}

	// The table: every (rule, worker), with results. Wait until every
	// rule that can has run or skipped in both workers, and the
	// Preemption rule has a winner.
	waitFor("the rules and their results", `(() => {
		const rs = `+rowsJS+`;
		const by = (id) => rs.filter((r) => r.id === id);
		return rs.length === 12 &&
			by("flaky").every((r) => r.state === "failing") &&
			by("vetoed").every((r) => r.state === "skipping") &&
			by("heartbeat").every((r) => r.state === "ok" || r.state === "running") &&
			by("leader").every((r) => r.winner === "w1" || r.winner === "w2");
	})()`)
	for _, r := range rows() {
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
	if c := text(t, eval, "#count"); c != "showing 1–12 of 12" {
		t.Errorf("count %q", c)
	}

	// The hostile identifier and name are text: no element was made of
	// them, no script ran.
	var injected any
	if err := eval(`document.querySelectorAll("main script, main img").length + document.scripts.length`, &injected); err != nil {
		t.Fatal(err)
	}
	if injected != float64(1) { // app.js alone
		t.Errorf("%v script or img elements besides app.js", injected)
	}
	var shown any
	if err := eval(`[...document.querySelectorAll("#rules tbody tr")].filter((tr) => tr.cells[0].textContent === `+jsString(hostile)+` && tr.cells[1].textContent === '<img src=x onerror="alert(2)">').length`, &shown); err != nil {
		t.Fatal(err)
	}
	if shown != float64(2) {
		t.Errorf("the hostile identifier shows as text in %v rows, want 2", shown)
	}

	// Search: typing filters the rows.
	do("type a search", chromedp.SendKeys(chromedp.ID("search"), "FLAK"))
	waitFor("the search to filter", `document.querySelectorAll("#rules tbody tr").length === 2`)
	for _, r := range rows() {
		if r["id"] != "flaky" {
			t.Errorf("searching FLAK shows %v", r)
		}
	}
	if c := text(t, eval, "#count"); c != "showing 1–2 of 2 (12 in all)" {
		t.Errorf("count %q", c)
	}
	do("search by name", setInput("search", "alive", "input"))
	waitFor("the search by name", `document.querySelectorAll("#rules tbody tr").length === 2 && document.querySelector("#rules tbody td").textContent === "heartbeat"`)
	do("clear the search", setInput("search", "", "input"))

	// The state filter.
	for state, want := range map[string]string{"failing": "flaky", "skipping": "vetoed", "idle": "request-only"} {
		do("filter by "+state, setInput("state", state, "change"))
		waitFor(state+" rows", `document.querySelectorAll("#rules tbody tr").length === 2`)
		for _, r := range rows() {
			if r["id"] != want || r["state"] != state {
				t.Errorf("state %s shows %v", state, r)
			}
		}
	}
	do("filter by ok", setInput("state", "ok", "change"))
	waitFor("ok rows", `document.querySelectorAll("#rules tbody tr").length >= 2`)
	for _, r := range rows() {
		if r["state"] != "ok" {
			t.Errorf("state ok shows %v", r)
		}
	}
	do("show every state", setInput("state", "", "change"))
	waitFor("every row", `document.querySelectorAll("#rules tbody tr").length === 12`)

	// Sorting by a header, both ways.
	click("sort by identifier, descending", `#rules th[data-key="identifier"]`)
	waitFor("descending identifiers", `document.querySelector("#rules tbody td").textContent === "vetoed"`)
	click("sort by identifier, ascending", `#rules th[data-key="identifier"]`)
	waitFor("ascending identifiers", `document.querySelector("#rules tbody td").textContent === `+jsString(hostile))
	click("sort by worker", `#rules th[data-key="worker"]`)
	waitFor("w1's rows first", `[...document.querySelectorAll("#rules tbody tr")].slice(0, 6).every((tr) => tr.cells[2].textContent === "w1")`)

	// A click opens the rule's history: its slots in both workers, and
	// for each lost slot, who won it.
	click("open leader's history", `#rules tbody tr[data-rule="leader"]`)
	waitFor("leader's history", `!document.getElementById("history").hidden &&
		document.getElementById("history-rule").textContent === "leader" &&
		document.querySelectorAll("#history .worker-history").length === 2 &&
		document.querySelectorAll("#history table.slots tbody tr").length >= 4`)
	waitFor("a lost slot with its winner", `[...document.querySelectorAll("#history table.slots tbody tr")].some((tr) =>
		tr.cells[2].textContent === "lost" && /^won by w[12]$/.test(tr.cells[3].textContent))`)

	click("open the hostile rule's history", `#rules tbody tr[data-worker="w2"][data-rule="`+hostile+`"]`)
	waitFor("the hostile rule's history", `document.getElementById("history-rule").textContent === `+jsString(hostile)+` &&
		document.querySelectorAll("#history .worker-history").length === 2 &&
		[...document.querySelectorAll("#history table.slots tbody tr")].some((tr) => tr.cells[2].textContent === "succeeded")`)
	click("open vetoed's history", `#rules tbody tr[data-rule="vetoed"]`)
	waitFor("the reason of a skip", `document.getElementById("history-rule").textContent === "vetoed" &&
		[...document.querySelectorAll("#history table.slots tbody tr")].some((tr) => tr.cells[2].textContent === "skipped" && tr.cells[3].textContent === "filtered")`)

	// Pause stops the refresh; resume starts it again.
	click("pause", "#pause")
	waitFor("paused", `document.getElementById("pause").textContent === "Resume"`)
	time.Sleep(400 * time.Millisecond) // a load in flight ends
	before := text(t, eval, "#updated")
	time.Sleep(time.Second) // more than 3 refresh intervals
	if after := text(t, eval, "#updated"); after != before {
		t.Errorf("paused, the page still refreshed: %q, then %q", before, after)
	}
	click("resume", "#pause")
	waitFor("a refresh after resuming", `document.getElementById("updated").textContent !== `+jsString(before))

	// The screenshot, for people.
	click("open leader's history again", `#rules tbody tr[data-rule="leader"]`)
	waitFor("leader's history", `document.getElementById("history-rule").textContent === "leader" && document.querySelectorAll("#history table.slots tbody tr").length >= 4`)
	sctx, cancelShot := context.WithTimeout(bctx, 10*time.Second)
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	cancelShot()
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("NGXTASKS_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// 10,000 rules: 100 rows a page, and the search finds one among them.
	do("load the page of 10,000 rules", chromedp.Navigate(srv.URL+"/big/"))
	waitFor("the first page", `document.getElementById("count").textContent === "showing 1–100 of 10,000"`)
	if n := len(rows()); n != 100 {
		t.Errorf("%d rows on a page", n)
	}
	click("next page", "#next")
	waitFor("the second page", `document.getElementById("count").textContent === "showing 101–200 of 10,000" &&
		document.querySelector("#rules tbody td").textContent === "rule-00100" &&
		document.getElementById("page").textContent === "page 2 of 100"`)
	do("search among 10,000", chromedp.SendKeys(chromedp.ID("search"), "rule-09999"))
	waitFor("one rule found", `document.getElementById("count").textContent === "showing 1–1 of 1 (10,000 in all)"`)
	do("clear the search", setInput("search", "", "input"))
	do("filter failing among 10,000", setInput("state", "failing", "change"))
	waitFor("the failing rules", `document.getElementById("count").textContent === "showing 1–100 of 1,429 (10,000 in all)"`)

	for _, p := range problems.all() {
		t.Errorf("the page: %s", p)
	}
}

// rowsJS reads the rules table as the user sees it.
const rowsJS = `[...document.querySelectorAll("#rules tbody tr")].map((tr) => {
	const c = [...tr.cells].map((td) => td.textContent);
	return {id: c[0], name: c[1], worker: c[2], type: c[3], interval: c[4], state: c[5], last: c[6],
		winner: c[7], runs: c[8], errors: c[9], skips: c[10], p50: c[11], p99: c[12], due: c[13], error: c[14]};
})`

// text is the textContent of the first element sel selects.
func text(t *testing.T, eval func(string, any) error, sel string) string {
	t.Helper()
	var v any
	if err := eval(`(document.querySelector(`+jsString(sel)+`) || {}).textContent`, &v); err != nil {
		return "(" + err.Error() + ")"
	}
	s, _ := v.(string)
	return s
}

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
