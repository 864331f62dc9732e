package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A sample is one series of one scrape through Collect: a
// [prometheus.Metric] that writes what it holds as it is.
// prometheus.MustNewConstMetric would check and copy every label value into
// pairs of its own, a dozen allocations a series; at 100,000 rules and
// several series a rule that is most of a scrape. Here the pairs are made
// once per scrape (the worker's once for all its series, a rule's once for
// all of the rule's), sorted by name as the registry wants them, with values
// that are valid UTF-8; the registry still checks every series as it
// gathers. The value's message comes from the arena too, so that Write
// allocates nothing.
type sample struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	counter *dto.Counter // one of the two is set
	gauge   *dto.Gauge
}

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label, m.Counter, m.Gauge = s.labels, s.counter, s.gauge
	return nil
}

// A metricSink sends the series to a registry, for Collect.
type metricSink struct {
	a  *arena
	s  *schema
	ch chan<- prometheus.Metric
}

func (k metricSink) add(f family, labels []*dto.LabelPair, v float64) {
	spec := &k.s.fams[f]
	smp := k.a.samples.next()
	smp.desc, smp.labels = spec.desc, labels
	smp.counter, smp.gauge = k.a.value(spec.typ, v)
	k.ch <- smp
}

// arenaChunk is how many things of a kind an arena allocates at a time.
const arenaChunk = 4096

// An arena hands out the samples, metrics, values and label pairs of one
// scrape from chunks, one allocation per few thousand rather than one each.
// Nothing it handed out is changed afterwards: the registry, or whoever
// Gather returned it to, may still be reading it.
type arena struct {
	samples  chunks[sample]
	metrics  chunks[dto.Metric]
	values   chunks[float64]
	counters chunks[dto.Counter]
	gauges   chunks[dto.Gauge]
	pairs    chunks[dto.LabelPair]
	refs     []*dto.LabelPair
}

// chunks hands out zeroed Ts, allocated arenaChunk at a time.
type chunks[T any] struct{ free []T }

func (c *chunks[T]) next() *T {
	if len(c.free) == 0 {
		c.free = make([]T, arenaChunk)
	}
	t := &c.free[0]
	c.free = c.free[1:]
	return t
}

// value returns v as a counter or as a gauge, as typ says.
func (a *arena) value(typ dto.MetricType, v float64) (*dto.Counter, *dto.Gauge) {
	p := a.values.next()
	*p = v
	if typ == dto.MetricType_COUNTER {
		c := a.counters.next()
		c.Value = p
		return c, nil
	}
	g := a.gauges.next()
	g.Value = p
	return nil, g
}

// pair returns a label pair pointing to name and value, which must not
// change.
func (a *arena) pair(name, value *string) *dto.LabelPair {
	p := a.pairs.next()
	p.Name, p.Value = name, value
	return p
}

// labels returns a label set holding pairs, which must be sorted by name.
func (a *arena) labels(pairs ...*dto.LabelPair) []*dto.LabelPair {
	if cap(a.refs)-len(a.refs) < len(pairs) {
		a.refs = make([]*dto.LabelPair, 0, max(arenaChunk, len(pairs)))
	}
	n := len(a.refs)
	a.refs = append(a.refs, pairs...)
	return a.refs[n:len(a.refs):len(a.refs)]
}
