package metrics

import (
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
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

// A timingSeries is one histogram series: its family, label values, and
// the timings it adds up (a run's duration is kept by result, a claim's
// round trip by answer, so that the same observation also counts the
// runs and claims of the worker's aggregates).
type timingSeries struct {
	desc   *prometheus.Desc
	ts     []*timing
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
		ch <- histogram(s.desc, s.ts, s.labels...)
	}
}

// gather returns the histograms' families, for Gather.
func (h *histograms) gather() ([]*dto.MetricFamily, error) {
	return h.reg.Gather()
}

// forWorker makes every histogram of a worker now, so that they are
// exported from the start and an event finds its histogram without a
// lookup. worker must be valid UTF-8.
func (h *histograms) forWorker(worker, store string) *workerEvents {
	t := &workerEvents{}
	add := func(desc *prometheus.Desc, ts []*timing, labels ...string) {
		h.series = append(h.series, timingSeries{desc: desc, ts: ts, labels: labels})
	}
	for _, typ := range ruleTypes() {
		for r := range t.runDuration[typ] {
			t.runDuration[typ][r] = newTiming(runDurationBuckets())
		}
		add(h.runDuration, t.runDuration[typ][:], worker, typ.String())
		t.runLateness[typ] = newTiming(latencyBuckets())
		add(h.runLateness, []*timing{t.runLateness[typ]}, worker, typ.String())
	}
	for a := range t.claimDuration {
		t.claimDuration[a] = newTiming(latencyBuckets())
	}
	add(h.claimDuration, t.claimDuration[:], worker, store)
	return t
}

// claimLate indexes, after the claim results, the claims answered after
// their slot ended: timed in the histogram, but not a result of
// claims_total (the per-rule claims_total does not count them either).
const claimLate = numClaimResults

// workerEvents are what one worker's events feed, resolved at New: the
// histograms, and through them and skips the aggregates of its rules.
// They count from New on, and never go down (a rule removed keeps its
// part), as counters must.
type workerEvents struct {
	runDuration   [numTypes][numRunResults]*timing // by Type (0 unused) and run result
	runLateness   [numTypes]*timing                // by Type; 0 unused
	claimDuration [numClaimResults + 1]*timing     // by claim result, then claimLate

	// skips are plain counters: a skip is no run, and costs the core far
	// more than an atomic add on a line another core may hold.
	skips [numTypes][numReasons]atomic.Int64
}

// observe is the Watch function. It is called on the path of every run and
// claim, synchronously: it looks nothing up, takes no lock and allocates
// nothing (see timing).
func (t *workerEvents) observe(ev *ngxtasks.Event) {
	typ := ev.Rule.Type
	if typ != ngxtasks.Normal && typ != ngxtasks.Preemption {
		return // no such rule passes Push
	}
	switch ev.Kind {
	case ngxtasks.EventFired:
		t.runLateness[typ].observe(ev.Duration)
	case ngxtasks.EventFinished:
		t.runDuration[typ][runResult(ev.Err)].observe(ev.Duration)
	case ngxtasks.EventWon:
		t.claimDuration[claimWon].observe(ev.Duration)
	case ngxtasks.EventLost:
		t.claimDuration[claimLost].observe(ev.Duration)
	case ngxtasks.EventSkipped:
		if int(ev.Reason) < numReasons {
			n := int64(1)
			if ev.Reason == ngxtasks.SkipBehind {
				n = ev.Missed // one event for the slots missed in a row
			}
			t.skips[typ][ev.Reason].Add(n)
		}
		// Only these skips come after a round trip to the store, and a late
		// one only when the claim was sent (a slot found stale before its
		// claim has no round trip: Duration 0).
		switch {
		case ev.Reason == ngxtasks.SkipClaimError:
			t.claimDuration[claimError].observe(ev.Duration)
		case ev.Reason == ngxtasks.SkipLate && ev.Duration > 0:
			t.claimDuration[claimLate].observe(ev.Duration)
		}
	}
}

// runResult classifies a run's error as the core's RuleStats count it:
// nil is a success, a PanicError a panic, ErrTimeout a timeout. (AsType,
// unlike As, allocates no target: a failing run costs no more than one
// that succeeds.)
func runResult(err error) int {
	if err == nil {
		return runSuccess
	}
	switch _, panicked := errors.AsType[*ngxtasks.PanicError](err); {
	case panicked:
		return runPanic
	case errors.Is(err, ngxtasks.ErrTimeout):
		return runTimeout
	}
	return runError
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
