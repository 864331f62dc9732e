package metrics

import (
	"reflect"
	"strings"

	"github.com/ngxtasks/ngxtasks"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// histograms are the durations fed by events, per worker and rule type
// (claims per worker and store), never per rule: with 100,000 rules,
// per-rule buckets would be millions of lines a scrape.
type histograms struct {
	runDuration, runLateness, claimDuration *prometheus.HistogramVec

	// reg holds the three alone, for Gather: a registry's checks and sorting
	// cost nothing at a dozen series, and it writes the histograms exactly as
	// the registry that the Collector is registered in would.
	reg *prometheus.Registry
}

// runDurationBuckets span callbacks from half a millisecond to minutes.
func runDurationBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300}
}

// latencyBuckets are for lateness and claims: from a tenth of a millisecond
// (the timer loop wakes at most once a millisecond; a store on the same
// host answers in less) to seconds (a store that stalls).
func latencyBuckets() []float64 {
	return []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
}

func newHistograms() histograms {
	workerType := []string{"worker", "type"}
	h := histograms{
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ngxtasks_run_duration_seconds",
			Help:    "How long runs took, by worker and rule type.",
			Buckets: runDurationBuckets(),
		}, workerType),
		runLateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ngxtasks_run_lateness_seconds",
			Help:    "How long after its slot began a run started, by the manager's clock, by worker and rule type.",
			Buckets: latencyBuckets(),
		}, workerType),
		claimDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ngxtasks_claim_duration_seconds",
			Help:    "Round trip of a Preemption claim to the dictionary (won, lost, failed or answered too late), by worker and dictionary type.",
			Buckets: latencyBuckets(),
		}, []string{"worker", "store"}),
		reg: prometheus.NewRegistry(),
	}
	h.reg.MustRegister(h.runDuration, h.runLateness, h.claimDuration)
	return h
}

func (h *histograms) describe(ch chan<- *prometheus.Desc) {
	h.runDuration.Describe(ch)
	h.runLateness.Describe(ch)
	h.claimDuration.Describe(ch)
}

func (h *histograms) collect(ch chan<- prometheus.Metric) {
	h.runDuration.Collect(ch)
	h.runLateness.Collect(ch)
	h.claimDuration.Collect(ch)
}

// gather returns the histograms' families, for Gather.
func (h *histograms) gather() ([]*dto.MetricFamily, error) {
	return h.reg.Gather()
}

// forWorker makes every histogram of a worker now, so that they are
// exported from the start and an event finds its histogram without a
// lookup. worker must be valid UTF-8.
func (h *histograms) forWorker(worker, store string) workerTimings {
	var t workerTimings
	for _, typ := range []ngxtasks.Type{ngxtasks.Normal, ngxtasks.Preemption} {
		t.runDuration[typ] = h.runDuration.WithLabelValues(worker, typ.String())
		t.runLateness[typ] = h.runLateness.WithLabelValues(worker, typ.String())
	}
	t.claimDuration = h.claimDuration.WithLabelValues(worker, store)
	return t
}

// workerTimings are one worker's histograms, resolved at New.
type workerTimings struct {
	runDuration, runLateness [numTypes]prometheus.Observer // by Type; 0 unused
	claimDuration            prometheus.Observer
}

// observe is the Watch function. It is called on the path of every run and
// claim, synchronously: it looks nothing up, takes no lock and allocates
// nothing (a histogram's Observe is a few atomic additions).
func (t *workerTimings) observe(ev ngxtasks.Event) {
	switch ev.Kind {
	case ngxtasks.EventFired:
		if typ := ev.Rule.Type; typ == ngxtasks.Normal || typ == ngxtasks.Preemption {
			t.runLateness[typ].Observe(max(ev.Duration, 0).Seconds())
		}
	case ngxtasks.EventFinished:
		if typ := ev.Rule.Type; typ == ngxtasks.Normal || typ == ngxtasks.Preemption {
			t.runDuration[typ].Observe(ev.Duration.Seconds())
		}
	case ngxtasks.EventWon, ngxtasks.EventLost:
		t.claimDuration.Observe(ev.Duration.Seconds())
	case ngxtasks.EventSkipped:
		// Only these skips come after a round trip to the store, and a late
		// one only when the claim was sent (a slot found stale before its
		// claim has no round trip: Duration 0).
		if ev.Reason == ngxtasks.SkipClaimError || ev.Reason == ngxtasks.SkipLate && ev.Duration > 0 {
			t.claimDuration.Observe(ev.Duration.Seconds())
		}
	}
}

// storeName names a manager's dictionary by its Go type without the
// pointer ("redisdict.Dict"): constant for a worker, few in a fleet, and
// free of addresses or credentials. A manager without a Dict makes a
// private MemoryDict.
func storeName(d ngxtasks.Dict) string {
	if d == nil {
		return "ngxtasks.MemoryDict"
	}
	return strings.TrimPrefix(reflect.TypeOf(d).String(), "*")
}
