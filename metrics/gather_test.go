package metrics_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// text encodes families in the text format.
func text(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	s, err := encode(mfs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func encode(mfs []*dto.MetricFamily) (string, error) {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return "", err
		}
	}
	return buf.String(), nil
}

// viaRegistry gathers c registered in a pedantic registry.
func viaRegistry(t *testing.T, c prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// Gather writes, byte for byte, what a registry holding the Collector does:
// same families, same series, same order.
func TestGatherIsTheRegistrysScrape(t *testing.T) {
	s := newScenario(t)
	// A hostile worker and rule too (see TestHostileLabelValuesRoundTrip).
	hostile := newManager(t, "w\"<b>\\\n\xff", nil, newFakeClock(slot0),
		ngxtasks.Rule{Identifier: `say "hi" \ <x>`, Name: "two\nlines \xff", Interval: time.Second, Type: ngxtasks.Normal, Callback: succeed})
	for name, c := range map[string]interface {
		prometheus.Collector
		prometheus.Gatherer
	}{
		"scenario": s.c,
		"hostile":  newCollector(t, metrics.Options{AllRules: true}, hostile),
	} {
		want := text(t, viaRegistry(t, c))
		mfs, err := c.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := text(t, mfs)
		if got != want {
			t.Errorf("%s: Gather wrote\n%s\nthe registry\n%s", name, got, want)
		}
		if !strings.Contains(want, "ngxtasks_run_duration_seconds_bucket{") {
			t.Errorf("%s: no histogram in the scrape:\n%s", name, want)
		}
	}
}

// Beside a registry of other metrics, through prometheus.Gatherers, the
// families pass the registry's checks and come out the same.
func TestGatherBesideARegistryPassesItsChecksUnchanged(t *testing.T) {
	s := newScenario(t)
	others := prometheus.NewRegistry()
	others.MustRegister(collectors.NewGoCollector())
	both, err := prometheus.Gatherers{others, s.c}.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, mf := range both {
		if strings.HasPrefix(mf.GetName(), "ngxtasks_") {
			ours = append(ours, mf)
		}
	}
	if got, want := text(t, ours), text(t, viaRegistry(t, s.c)); got != want {
		t.Errorf("through Gatherers:\n%s\nwant\n%s", got, want)
	}
	if len(ours) == len(both) {
		t.Error("no Go metrics gathered beside the collector's")
	}
}

// Scrapes may overlap: each builds its own families.
func TestConcurrentGathersEachWriteTheWholeScrape(t *testing.T) {
	s := newScenario(t)
	want := text(t, viaRegistry(t, s.c))
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() {
			mfs, err := s.c.Gather()
			if err != nil {
				errs <- err
				return
			}
			got, err := encode(mfs)
			if err == nil && got != want {
				err = errors.New("a concurrent Gather wrote another scrape")
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
