package metrics

import (
	"reflect"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// histograms are the durations fed by events, per worker and rule type
// (claims per worker and store), never per rule: with 100,000 rules,
// per-rule buckets would be millions of lines a scrape. Their series are
// all made by New (forWorker), before any event or scrape.
type histograms struct {
	runDuration, runLateness, claimDuration *prometheus.Desc
	series                                  []timingSeries

	// reg holds them alone, for Gather: a registry's checks and sorting
	// cost nothing at a dozen series, and it writes the histograms exactly as
	// the registry that the Collector is registered in would.
	reg *prometheus.Registry
}

// A timingSeries is one histogram series: its family and label values.
type timingSeries struct {
	desc   *prometheus.Desc
	t      *timing
	labels []string
}

// runDurationBuckets span callbacks from half a millisecond to minutes.
func runDurationBuckets() []time.Duration {
	return seconds(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300)
}

// latencyBuckets are for lateness and claims: from a tenth of a millisecond
// (the timer loop wakes at most once a millisecond; a store on the same
// host answers in less) to seconds (a store that stalls).
func latencyBuckets() []time.Duration {
	return seconds(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
}

func newHistograms() *histograms {
	workerType := []string{"worker", "type"}
	h := &histograms{
		runDuration: prometheus.NewDesc("ngxtasks_run_duration_seconds",
			"How long runs took, by worker and rule type.", workerType, nil),
		runLateness: prometheus.NewDesc("ngxtasks_run_lateness_seconds",
			"How long after its slot began a run started, by the manager's clock, by worker and rule type.", workerType, nil),
		claimDuration: prometheus.NewDesc("ngxtasks_claim_duration_seconds",
			"Round trip of a Preemption claim to the dictionary (won, lost, failed or answered too late), by worker and dictionary type.",
			[]string{"worker", "store"}, nil),
		reg: prometheus.NewRegistry(),
	}
	h.reg.MustRegister(h)
	return h
}

// Describe and Collect make histograms a prometheus.Collector, for reg.
func (h *histograms) Describe(ch chan<- *prometheus.Desc) {
	ch <- h.runDuration
	ch <- h.runLateness
	ch <- h.claimDuration
}

func (h *histograms) Collect(ch chan<- prometheus.Metric) {
	for _, s := range h.series {
		ch <- s.t.metric(s.desc, s.labels...)
	}
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
	add := func(desc *prometheus.Desc, bounds []time.Duration, labels ...string) *timing {
		s := timingSeries{desc: desc, t: newTiming(bounds), labels: labels}
		h.series = append(h.series, s)
		return s.t
	}
	for _, typ := range []ngxtasks.Type{ngxtasks.Normal, ngxtasks.Preemption} {
		t.runDuration[typ] = add(h.runDuration, runDurationBuckets(), worker, typ.String())
		t.runLateness[typ] = add(h.runLateness, latencyBuckets(), worker, typ.String())
	}
	t.claimDuration = add(h.claimDuration, latencyBuckets(), worker, store)
	return t
}

// workerTimings are one worker's histograms, resolved at New.
type workerTimings struct {
	runDuration, runLateness [numTypes]*timing // by Type; 0 unused
	claimDuration            *timing
}

// observe is the Watch function. It is called on the path of every run and
// claim, synchronously: it looks nothing up, takes no lock and allocates
// nothing (see timing).
func (t *workerTimings) observe(ev *ngxtasks.Event) {
	switch ev.Kind {
	case ngxtasks.EventFired:
		if typ := ev.Rule.Type; typ == ngxtasks.Normal || typ == ngxtasks.Preemption {
			t.runLateness[typ].observe(ev.Duration)
		}
	case ngxtasks.EventFinished:
		if typ := ev.Rule.Type; typ == ngxtasks.Normal || typ == ngxtasks.Preemption {
			t.runDuration[typ].observe(ev.Duration)
		}
	case ngxtasks.EventWon, ngxtasks.EventLost:
		t.claimDuration.observe(ev.Duration)
	case ngxtasks.EventSkipped:
		// Only these skips come after a round trip to the store, and a late
		// one only when the claim was sent (a slot found stale before its
		// claim has no round trip: Duration 0).
		if ev.Reason == ngxtasks.SkipClaimError || ev.Reason == ngxtasks.SkipLate && ev.Duration > 0 {
			t.claimDuration.observe(ev.Duration)
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
