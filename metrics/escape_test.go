package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Label values that are hostile to the text format (quotes, backslashes,
// newlines) or to a page that shows them (markup) come out escaped and
// parse back as they went in. Invalid UTF-8, which would make the registry
// refuse the whole scrape, comes out as U+FFFD.
func TestHostileLabelValuesRoundTrip(t *testing.T) {
	const (
		identifier = `say "hi" \ <script>alert('x')</script> \n`
		name       = "two\nlines, \"quoted\", bad byte \xff"
		worker     = "w\"<b>\\\n"
	)
	m := newManager(t, worker, nil, newFakeClock(slot0),
		ngxtasks.Rule{Identifier: identifier, Name: name, Interval: time.Second, Type: ngxtasks.Normal, Callback: succeed})
	c := newCollector(t, metrics.Options{AllRules: true}, m)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s %v\n%s", resp.Status, err, body)
	}
	text := string(body)
	wantLine := `ngxtasks_rule_interval_seconds{rule="say \"hi\" \\ <script>alert('x')</script> \\n",worker="w\"<b>\\\n"} 1`
	if !strings.Contains(text, wantLine+"\n") {
		t.Errorf("no line\n%s\nin the scrape:\n%s", wantLine, text)
	}

	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	info := mfs["ngxtasks_rule_info"].GetMetric()
	if len(info) != 1 {
		t.Fatalf("%d rule_info series, want 1", len(info))
	}
	got := labelsOf(info[0])
	want := map[string]string{"rule": identifier, "worker": worker, "name": strings.ToValidUTF8(name, "\uFFFD"), "type": "normal", "drive": "any"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s parsed back as %q, want %q", k, got[k], v)
		}
	}
}
