package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Bounds of the browser tests' steps: generous, for a busy machine (two
// cores shared, the race detector on) must not fail them; a page that
// works meets them in a fraction of that.
const (
	browserLimit = 3 * time.Minute  // a whole test
	stepLimit    = 30 * time.Second // one action, or one condition to hold
)

// tab is a page in headless Chromium, with what it must never do
// collected.
type tab struct {
	t        *testing.T
	ctx      context.Context // the tab's; its first Run starts the browser
	problems *pageProblems
}

// newTab starts Debian's Chromium (skipping the test without it, except
// in CI), with the flags this closed network needs, and opens a tab. The
// browser is closed when the test ends.
func newTab(t *testing.T) *tab {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs %s for the status page's browser test: %v", chromium, err)
		}
		t.Skipf("no %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserLimit)
	t.Cleanup(cancel)
	problems := &pageProblems{}
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
	t.Cleanup(closeAlloc)
	bctx, closeBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(problems.listen))
	t.Cleanup(closeBrowser) // runs before closeAlloc
	return &tab{t: t, ctx: bctx, problems: problems}
}

// navigate loads url in the tab (the first call starts the browser, which
// lives as long as the tab's context, not a shorter child's).
func (b *tab) navigate(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("load %s: %v (page problems: %q)", url, err, b.problems.all())
	}
}

// do runs steps, within stepLimit.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page problems: %q)", what, err, b.problems.all())
	}
}

// click clicks the first element sel selects. The table is rebuilt at
// every refresh, so the element found may be gone when the click lands:
// then it tries again, within stepLimit.
func (b *tab) click(what, sel string) {
	b.t.Helper()
	deadline := time.Now().Add(stepLimit)
	for {
		sctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := chromedp.Do(sctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: %v (page problems: %q)", what, err, b.problems.all())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eval evaluates a JavaScript expression into *into (an *any).
func (b *tab) eval(expr string, into any, opts ...chromedp.EvaluateOption) error {
	sctx, cancel := context.WithTimeout(b.ctx, stepLimit)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[any](expr, opts...))
	if err != nil {
		return err
	}
	if p, ok := into.(*any); ok {
		*p = v
	}
	return nil
}

// waitFor polls a JavaScript condition (Runtime.evaluate, which the
// page's CSP does not govern; chromedp.Poll builds a Function, which it
// does) until it holds, within stepLimit.
func (b *tab) waitFor(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(stepLimit)
	for {
		var v any
		err := b.eval("Boolean("+cond+")", &v)
		if err == nil && v == true {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			var snapshot any
			_ = b.eval(rowsJS, &snapshot)
			b.t.Fatalf("waiting for %s: %v; rows: %v; count %q; page problems: %q", what, err, snapshot, b.text("#count"), b.problems.all())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rows reads the rules table as the user sees it.
func (b *tab) rows() []map[string]any {
	b.t.Helper()
	var v any
	if err := b.eval(rowsJS, &v); err != nil {
		b.t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range v.([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// text is the textContent of the first element sel selects.
func (b *tab) text(sel string) string {
	var v any
	if err := b.eval(`(document.querySelector(`+jsString(sel)+`) || {}).textContent`, &v); err != nil {
		return "(" + err.Error() + ")"
	}
	s, _ := v.(string)
	return s
}

// part runs check as a subtest of t named name, on this tab reporting to
// the subtest. It returns whether the test may go on: not when check
// stopped (t.Fatal), since the next part would start from a page it left
// half-way. A part that only reported errors (t.Error) lets the next run;
// one that -run left out is passed over.
func (b *tab) part(t *testing.T, name string, check func(t *testing.T, b *tab)) bool {
	t.Helper()
	started, finished := false, false
	t.Run(name, func(t *testing.T) {
		started = true
		check(t, b.in(t))
		finished = true
	})
	return finished || !started
}

// in is the tab, reporting to t.
func (b *tab) in(t *testing.T) *tab {
	c := *b
	c.t = t
	return &c
}
