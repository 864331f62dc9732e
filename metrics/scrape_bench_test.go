package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// BenchmarkScrape is one whole scrape of a worker with 100,000 rules, a
// quarter of them Preemption and a tenth failing, each run once (so that
// every series a run adds is there), over HTTP in the text format, as
// Prometheus scrapes: uncompressed, and gzipped as Prometheus asks. The
// collectors, made before the runs, select rules for per-rule series as
//
//	select=default  Options{}: aggregates only
//	select=patterns Options{Rules: []string{"rule-99?", "rule-4200?"}}:
//	                20 rules (every identifier matched at each scrape)
//	select=all      Options{AllRules: true}: every rule
//
// and each is served each way the package documentation shows:
//
//	path=registry   promhttp.HandlerFor(reg), the Collector registered in reg
//	path=gatherer   promhttp.HandlerFor(c), the Collector's own Gather
//	path=gatherers  promhttp.HandlerFor(prometheus.Gatherers{reg, c}), reg
//	                holding a Go collector only
//	path=handler    metrics.Handler(c, reg, opts), the same reg
func BenchmarkScrape(b *testing.B) {
	const n = 100_000
	clock := newFakeClock(slot0.Add(100 * time.Millisecond))
	fail := errors.New("fail")
	rules := make([]ngxtasks.Rule, n)
	for i := range rules {
		r := ngxtasks.Rule{Identifier: "rule-" + strconv.Itoa(i), Interval: time.Minute, Type: ngxtasks.Normal, Callback: succeed}
		if i%4 == 0 {
			r.Type = ngxtasks.Preemption
		}
		if i%10 == 0 {
			r.Callback = func(context.Context, ngxtasks.Firing) error { return fail }
		}
		rules[i] = r
	}
	m := &ngxtasks.Manager{Worker: "worker-1", Clock: clock, HistoryLen: -1, Logger: slog.New(slog.DiscardHandler)}
	if err := m.Push(rules...); err != nil {
		b.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	selections := []struct {
		name string
		c    *metrics.Collector
	}{
		{"default", newCollector(b, metrics.Options{}, m)},
		{"patterns", newCollector(b, metrics.Options{Rules: []string{"rule-99?", "rule-4200?"}}, m)},
		{"all", newCollector(b, metrics.Options{AllRules: true}, m)},
	}
	if err := m.Run(context.Background()); !errors.Is(err, fail) {
		b.Fatalf("Run: %v, want the failing rules' errors", err)
	}
	others := prometheus.NewRegistry()
	others.MustRegister(collectors.NewGoCollector())
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}

	for _, sel := range selections {
		c := sel.c
		registered := prometheus.NewRegistry()
		registered.MustRegister(c)
		for _, p := range []struct {
			name    string
			handler http.Handler
		}{
			{"registry", promhttp.HandlerFor(registered, opts)},
			{"gatherer", promhttp.HandlerFor(c, opts)},
			{"gatherers", promhttp.HandlerFor(prometheus.Gatherers{others, c}, opts)},
			{"handler", metrics.Handler(c, others, opts)},
		} {
			srv := httptest.NewServer(p.handler)
			defer srv.Close()
			for _, encoding := range []string{"identity", "gzip"} {
				b.Run("rules=100000/select="+sel.name+"/path="+p.name+"/encoding="+encoding, func(b *testing.B) {
					var got counter
					b.ReportAllocs()
					for b.Loop() {
						got = counter{}
						scrape(b, srv.URL, encoding, &got)
					}
					b.ReportMetric(float64(got.bytes), "bytes/scrape")
					if encoding == "identity" {
						b.ReportMetric(float64(got.series), "series/scrape")
					}
				})
			}
		}
	}
}

// counter counts the bytes of a scrape and, in the text format, its
// series (the lines that are not comments), keeping nothing.
type counter struct {
	bytes, series int
	midLine       bool // the last write ended inside a line
	comment       bool // that line is a comment
}

func (c *counter) Write(p []byte) (int, error) {
	c.bytes += len(p)
	for _, ch := range p {
		if !c.midLine {
			c.midLine, c.comment = true, ch == '#'
		}
		if ch == '\n' {
			if !c.comment {
				c.series++
			}
			c.midLine = false
		}
	}
	return len(p), nil
}

// scrape gets url as Prometheus would, in the text format, into body.
func scrape(b *testing.B, url, encoding string, body io.Writer) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	req.Header.Set("Accept-Encoding", encoding) // set, so that the client does not unzip
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(body, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("scrape: %s %v", resp.Status, err)
	}
	if got := resp.Header.Get("Content-Encoding"); got != encoding && (got != "" || encoding != "identity") {
		b.Fatalf("scrape: Content-Encoding %q, want %s", got, encoding)
	}
}
