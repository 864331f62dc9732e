package metrics

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ngxtasks/ngxtasks"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A Collector is a [prometheus.Collector] of the metrics of one or more
// managers (see the package documentation for the list), and a
// [prometheus.Gatherer] of them for the faster scrape of many rules (see
// Gather). Its counters and gauges are read from the managers at each
// scrape; its histograms are fed by watching the managers' events from New
// until Close. It is safe for concurrent use, scrapes included.
type Collector struct {
	workers []*worker
	schema  schema
	hist    *histograms
	rules   selector

	closeOnce sync.Once
}

// A worker is one manager as the collector sees it.
type worker struct {
	m      *ngxtasks.Manager
	label  *dto.LabelPair // worker="…", shared by every series of the worker
	events *workerEvents
	stop   func() // ends the Watch
}

// New returns a Collector of the managers' metrics, watching their events
// from now on. Call Close to stop watching. It exports every worker's
// aggregates and no rule's series of its own: [Options.New] selects rules
// for those.
//
// A manager passed more than once is taken once. New fails, watching
// nothing, on a nil manager, and on two managers with one worker ID: every
// series is labelled by worker, so theirs would collide at every scrape
// and the registry would refuse the scrape.
func New(managers ...*ngxtasks.Manager) (*Collector, error) {
	return Options{}.New(managers...)
}

func newCollector(rules selector, managers []*ngxtasks.Manager) (*Collector, error) {
	c := &Collector{schema: newSchema(), hist: newHistograms(), rules: rules}
	byLabel := make(map[string]*ngxtasks.Manager, len(managers))
	for i, m := range managers {
		if m == nil {
			return nil, fmt.Errorf("metrics: manager %d of %d is nil", i+1, len(managers))
		}
		id := m.WorkerID()
		// Compared as exported: two IDs invalid as UTF-8 in different ways may
		// come out alike.
		value := validUTF8(id)
		if prev, ok := byLabel[value]; ok {
			if prev == m {
				continue
			}
			if value != id {
				return nil, fmt.Errorf("metrics: the worker IDs %q and %q are both the label value %q", prev.WorkerID(), id, value)
			}
			return nil, fmt.Errorf("metrics: two managers have the worker ID %q", id)
		}
		byLabel[value] = m
		c.workers = append(c.workers, &worker{
			m:      m,
			label:  labelPair("worker", id),
			events: c.hist.forWorker(value, storeName(m.Dict)),
		})
	}
	// Series go out in the order the registry sorts them to (see
	// readSeries): by worker, among others.
	slices.SortFunc(c.workers, func(x, y *worker) int { return strings.Compare(x.label.GetValue(), y.label.GetValue()) })
	// Watch only once every worker is set up: an error above leaves no
	// watcher behind.
	for _, w := range c.workers {
		w.stop = w.m.Watch(w.events.observe)
	}
	return c, nil
}

// Close stops watching the managers' events: the histograms keep what they
// have and no longer change. The counters and gauges are still read at each
// scrape; unregister the collector to drop them. Close may be called more
// than once.
func (c *Collector) Close() {
	c.closeOnce.Do(func() {
		for _, w := range c.workers {
			w.stop()
		}
	})
}

// Describe sends the description of every metric: a registry takes one
// Collector (see the package documentation).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.schema.descs() {
		ch <- d
	}
	c.hist.Describe(ch)
}

// Collect reads every manager's statistics and health and sends their
// series, then the histograms.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var a arena
	c.readSeries(&a, metricSink{a: &a, s: &c.schema, ch: ch})
	c.hist.Collect(ch)
}
