package metrics

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Gather makes the Collector a [prometheus.Gatherer]: it returns every
// family, as a registry holding only the Collector would, but builds them
// itself. A registry writes each series into a message of its own, checks
// it, hashes its labels against duplicates and sorts each family again; at
// 100,000 rules, all selected (740,000 series), that was most of a scrape
// of over a second. The Collector makes its series valid (label values in UTF-8),
// distinct (one worker ID per manager, one identifier per rule) and in
// order as it reads them, so Gather skips all of that, and a scrape takes
// about half as long.
//
// Serve it alone with promhttp.HandlerFor(c, opts), or next to a registry's
// metrics with [Handler]; register c in neither. (Through
// [prometheus.Gatherers], the series are checked and sorted again, as in a
// registry.)
//
// The families are sorted by name and each family's series by label values,
// as a registry returns them; none is empty. They are new at each call and
// the caller may keep them, but they share label pairs and values with one
// another: change none of them.
func (c *Collector) Gather() ([]*dto.MetricFamily, error) {
	k := familySink{s: &c.schema}
	c.readSeries(&k.a, &k)
	hist, err := c.hist.gather()
	if err != nil {
		return nil, err
	}
	mfs := make([]*dto.MetricFamily, 0, int(numFamilies)+len(hist))
	for f := range numFamilies {
		if k.n[f] > 0 {
			spec := &c.schema.fams[f]
			mfs = append(mfs, &dto.MetricFamily{Name: spec.name, Help: spec.help, Type: spec.typ.Enum(), Metric: k.metrics(f)})
		}
	}
	mfs = append(mfs, hist...)
	slices.SortFunc(mfs, func(x, y *dto.MetricFamily) int { return strings.Compare(x.GetName(), y.GetName()) })
	return mfs, nil
}

// A familySink files the series into families, for Gather. A family's
// series are kept in chunks and joined once all are in: appending to one
// slice each would copy the larger families' series a dozen times.
type familySink struct {
	a      arena
	s      *schema
	chunks [numFamilies][][]*dto.Metric
	n      [numFamilies]int
}

func (k *familySink) add(f family, labels []*dto.LabelPair, v float64) {
	m := k.a.metrics.next()
	m.Label = labels
	m.Counter, m.Gauge = k.a.value(k.s.fams[f].typ, v)
	cs := k.chunks[f]
	if len(cs) == 0 || len(cs[len(cs)-1]) == cap(cs[len(cs)-1]) {
		cs = append(cs, make([]*dto.Metric, 0, arenaChunk))
		k.chunks[f] = cs
	}
	cs[len(cs)-1] = append(cs[len(cs)-1], m)
	k.n[f]++
}

// metrics returns the series of a family, in the order they came.
func (k *familySink) metrics(f family) []*dto.Metric {
	if len(k.chunks[f]) == 1 {
		return k.chunks[f][0]
	}
	ms := make([]*dto.Metric, 0, k.n[f])
	for _, c := range k.chunks[f] {
		ms = append(ms, c...)
	}
	return ms
}
