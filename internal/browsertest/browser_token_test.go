package browsertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ngxtasks/ngxtasks/status"
)

// TestBrowserTokenIsAskedForKeptAcrossReloadsAndForgotten drives the page of
// a handler with a token in Chromium: it asks for the token in the page,
// says so when a wrong one is given and asks again, shows the rules with the
// right one, keeps it across a reload of the tab, and forgets it on request.
func TestBrowserTokenIsAskedForKeptAcrossReloadsAndForgotten(t *testing.T) {
	const token = "browser-t0ken_~+/="
	b := newTab(t)
	mux := http.NewServeMux()
	mux.Handle("/secure/", status.New(status.Options{Token: token, Refresh: 300e6}, manyRules(t, 5, 2)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	const (
		formShown = `!document.getElementById("token-box").hidden && document.getElementById("rules-box").hidden &&
			document.getElementById("fleet").hidden && document.querySelectorAll("#rules tbody tr").length === 0`
		rulesShown = `document.getElementById("token-box").hidden && !document.getElementById("rules-box").hidden &&
			document.querySelectorAll("#rules tbody tr").length === 5 && !document.getElementById("forget").hidden`
		kept = `sessionStorage.getItem("ngxtasks-token:/secure/")`
	)
	enter := func(what, value string) {
		t.Helper()
		b.do(what, setInput("token", value, "input"))
		b.click(what, `#token-form button[type="submit"]`)
	}

	b.navigate(srv.URL + "/secure/")
	b.waitFor("the token form", formShown+` && document.getElementById("token-msg").textContent === "This status page needs the listener's token."`)
	b.waitFor("the token field focused", `document.activeElement === document.getElementById("token")`)

	enter("a wrong token", "not-the-token")
	b.waitFor("the wrong token refused", formShown+` && document.getElementById("token-msg").textContent === "That token was refused: enter the listener's token again." && `+kept+` === null`)

	enter("no token", "   ")
	b.waitFor("an empty token refused", formShown+` && document.getElementById("token-msg").textContent === "Enter the token."`)

	b.do("type the token", chromedp.SendKeys(chromedp.ID("token"), token))
	b.click("submit the token", `#token-form button[type="submit"]`)
	b.waitFor("the rules", rulesShown+` && `+kept+` === `+jsString(token))
	if id := b.rows()[0]["id"]; id != "rule-00000" {
		t.Errorf("first row %v", id)
	}

	b.do("reload the tab", chromedp.Reload())
	b.waitFor("the rules after a reload, without asking", rulesShown)

	b.click("forget the token", "#forget")
	b.waitFor("the form after forgetting", formShown+` && `+kept+` === null && document.getElementById("forget").hidden`)

	// What is expected: the documents' 401 answers, which Chromium logs
	// as failed loads. Anything else is a problem.
	for _, p := range b.problems.all() {
		if strings.Contains(p, "status of 401") && strings.HasSuffix(p, "/secure/status.json") {
			continue
		}
		t.Errorf("the page: %s", p)
	}
}
