package metrics_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// get scrapes url in the text format, asking for encoding, and returns
// the status and the body, unzipped.
func get(t *testing.T, url, encoding string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	req.Header.Set("Accept-Encoding", encoding)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	if got := resp.Header.Get("Content-Encoding"); got != "" || encoding == "gzip" {
		if got != encoding {
			t.Fatalf("Content-Encoding %q, want %q", got, encoding)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Handler serves what prometheus.Gatherers would, compressed or not.
func TestHandlerServesWhatGatherersWouldCompressedOrNot(t *testing.T) {
	s := newScenario(t)
	others := prometheus.NewRegistry()
	requests := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests."})
	requests.Add(3)
	others.MustRegister(requests)
	ours := prometheus.NewRegistry()
	ours.MustRegister(s.c)
	mfs, err := prometheus.Gatherers{others, ours}.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := text(t, mfs)
	if !strings.Contains(want, "app_requests_total 3\n") || !strings.Contains(want, "ngxtasks_store_up{") {
		t.Fatalf("the reference scrape misses series:\n%s", want)
	}

	srv := httptest.NewServer(metrics.Handler(s.c, others, promhttp.HandlerOpts{}))
	defer srv.Close()
	for _, encoding := range []string{"identity", "gzip"} {
		if code, got := get(t, srv.URL, encoding); code != http.StatusOK || got != want {
			t.Errorf("%s: status %d, body\n%s\nwant\n%s", encoding, code, got, want)
		}
	}

	// Without other metrics, it serves the collector's alone.
	alone := httptest.NewServer(metrics.Handler(s.c, nil, promhttp.HandlerOpts{}))
	defer alone.Close()
	if code, got := get(t, alone.URL, "identity"); code != http.StatusOK || got != text(t, viaRegistry(t, s.c)) {
		t.Errorf("alone: status %d, body\n%s", code, got)
	}
}

// A family of the other gatherer named like one of the collector's (or
// like a histogram's series) makes the scrape fail, naming it.
func TestHandlerRefusesCollisions(t *testing.T) {
	s := newScenario(t)
	for _, name := range []string{"ngxtasks_store_up", "ngxtasks_run_duration_seconds_count"} {
		others := prometheus.NewRegistry()
		others.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "Impostor."}))
		srv := httptest.NewServer(metrics.Handler(s.c, others, promhttp.HandlerOpts{}))
		code, body := get(t, srv.URL, "identity")
		srv.Close()
		if code != http.StatusInternalServerError || !strings.Contains(body, name) {
			t.Errorf("beside a family %s: status %d, body\n%s\nwant an error naming it", name, code, body)
		}
	}
}
