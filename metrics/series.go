package metrics

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	dto "github.com/prometheus/client_model/go"
)

// A row is one rule of one worker, with the label pairs its series share.
type row struct {
	st         *ngxtasks.RuleStats
	worker     *dto.LabelPair
	rule       *dto.LabelPair
	ruleWorker []*dto.LabelPair
}

// A sink takes the series of one scrape: [Collector.Collect] sends them
// to the registry as Metrics, [Collector.Gather] files them into families.
type sink interface {
	add(f family, labels []*dto.LabelPair, v float64)
}

// readSeries reads every manager's Health and Stats into out, with label
// pairs from a: every worker's aggregates, and the per-rule series of the
// rules c selects.
//
// The series come family by family, each in the order the registry sorts
// it to: by label values, in the order of the label names. The registry
// then finds each family sorted in one pass (at 100,000 rules, sorting them
// in push order took a quarter of a scrape), and Gather need not sort at
// all.
func (c *Collector) readSeries(a *arena, out sink) {
	s := &c.schema
	var rows []row
	rules := make([]ruleCounts, len(c.workers))
	for i, w := range c.workers { // sorted by worker
		workerOnly := a.labels(w.label)
		h := w.m.Health()
		up := 1.0
		if h.StoreDown {
			up = 0
		}
		out.add(famStoreUp, workerOnly, up)
		if !h.ClockMeasured.IsZero() {
			out.add(famClockOffset, workerOnly, h.ClockOffset.Seconds())
		}
		stats := w.m.Stats()
		for j := range stats {
			st := &stats[j]
			rules[i].add(st)
			if c.rules.selects(st.Identifier) {
				rows = append(rows, row{st: st, worker: w.label})
			}
		}
	}
	c.readAggregates(a, out, rules)
	if len(rows) == 0 {
		return
	}

	slices.SortFunc(rows, func(x, y row) int {
		return cmp.Or(strings.Compare(x.st.Identifier, y.st.Identifier), strings.Compare(x.worker.GetValue(), y.worker.GetValue()))
	})
	for i := range rows {
		r := &rows[i]
		r.rule = a.pair(s.ruleName, &r.st.Identifier) // valid UTF-8: Push checks identifiers
		r.ruleWorker = a.labels(r.rule, r.worker)
	}

	// Families whose first label is result or reason: value by value.
	for res := range numRunResults {
		for i := range rows {
			r := &rows[i]
			if n := runsEnded(r.st, res); n > 0 || res == runSuccess || res == runError {
				out.add(famRuns, a.labels(s.runResults[res], r.rule, r.worker), float64(n))
			}
		}
	}
	for _, reason := range s.reasonOrder {
		for i := range rows {
			r := &rows[i]
			if n := r.st.SkipsBy[reason]; n > 0 {
				out.add(famSkips, a.labels(s.reasons[reason], r.rule, r.worker), float64(n))
			}
		}
	}
	for res := range numClaimResults {
		for i := range rows {
			r := &rows[i]
			if n := claims(r.st, res); r.st.Type == ngxtasks.Preemption && (n > 0 || res != claimError) {
				out.add(famClaims, a.labels(s.claimResults[res], r.rule, r.worker), float64(n))
			}
		}
	}

	// Families labelled by rule and worker alone.
	for i := range rows {
		if r := &rows[i]; r.st.Retries > 0 {
			out.add(famRetries, r.ruleWorker, float64(r.st.Retries))
		}
	}
	for i := range rows {
		if r := &rows[i]; r.st.Paused != nil {
			out.add(famPaused, r.ruleWorker, 1)
		}
	}
	for i := range rows {
		if r := &rows[i]; r.st.Disagreement != nil {
			out.add(famDisagreement, r.ruleWorker, 1)
		}
	}
	for i := range rows {
		if r := &rows[i]; r.st.Running {
			out.add(famRunning, r.ruleWorker, 1)
		}
	}
	for i := range rows {
		if r := &rows[i]; !r.st.LastStart.IsZero() {
			out.add(famLastRun, r.ruleWorker, unixSeconds(r.st.LastStart))
		}
	}
	for i := range rows {
		if r := &rows[i]; !r.st.LastSuccess.IsZero() {
			out.add(famLastSuccess, r.ruleWorker, unixSeconds(r.st.LastSuccess))
		}
	}
	for i := range rows {
		r := &rows[i]
		out.add(famNextDue, r.ruleWorker, unixSeconds(r.st.NextDue))
	}
	for i := range rows {
		r := &rows[i]
		if r.st.Schedule == "" {
			out.add(famInterval, r.ruleWorker, r.st.Interval.Seconds())
		}
	}

	// rule_info sorts by drive and name first.
	for i := range rows {
		rows[i].st.Name = validUTF8(rows[i].st.Name) // free text: it may hold anything
	}
	slices.SortFunc(rows, func(x, y row) int {
		return cmp.Or(
			strings.Compare(s.driveLabel(x.st.Drive).GetValue(), s.driveLabel(y.st.Drive).GetValue()),
			strings.Compare(x.st.Name, y.st.Name),
			strings.Compare(x.st.Identifier, y.st.Identifier),
			strings.Compare(x.worker.GetValue(), y.worker.GetValue()))
	})
	for i := range rows {
		r := &rows[i]
		zone := s.empty
		if r.st.Location != nil {
			zone = new(r.st.Location.String()) // rules on a schedule only
		}
		info := a.labels(s.driveLabel(r.st.Drive), a.pair(s.nameName, &r.st.Name), r.rule,
			a.pair(s.scheduleName, &r.st.Schedule), s.typeLabel(r.st.Type), r.worker, a.pair(s.zoneName, zone))
		out.add(famInfo, info, 1)
	}
}

// ruleCounts are a worker's rules, and its runs going on, by type.
type ruleCounts struct {
	rules, running [numTypes]int
}

func (n *ruleCounts) add(st *ngxtasks.RuleStats) {
	if st.Type != ngxtasks.Normal && st.Type != ngxtasks.Preemption {
		return // no such rule passes Push
	}
	n.rules[st.Type]++
	if st.Running {
		n.running[st.Type]++
	}
}

// readAggregates writes every worker's aggregates: the counters its events
// fed since New, and the gauges of rules, counted by readSeries (one per
// worker, in c.workers' order). Every series is there from New on, at
// zero, so that rate() and sum() see the first runs and skips.
func (c *Collector) readAggregates(a *arena, out sink, rules []ruleCounts) {
	s := &c.schema
	for res := range numRunResults {
		for _, typ := range ruleTypes() {
			for _, w := range c.workers {
				out.add(famWorkerRuns, a.labels(s.runResults[res], s.types[typ], w.label), float64(w.events.runDuration[typ][res].count()))
			}
		}
	}
	for _, reason := range s.reasonOrder {
		for _, typ := range ruleTypes() {
			for _, w := range c.workers {
				out.add(famWorkerSkips, a.labels(s.reasons[reason], s.types[typ], w.label), float64(w.events.skips[typ][reason].Load()))
			}
		}
	}
	for res := range numClaimResults {
		for _, w := range c.workers {
			out.add(famWorkerClaims, a.labels(s.claimResults[res], w.label), float64(w.events.claimDuration[res].count()))
		}
	}
	for _, typ := range ruleTypes() {
		for i, w := range c.workers {
			out.add(famWorkerRunning, a.labels(s.types[typ], w.label), float64(rules[i].running[typ]))
		}
	}
	for _, typ := range ruleTypes() {
		for i, w := range c.workers {
			out.add(famWorkerRules, a.labels(s.types[typ], w.label), float64(rules[i].rules[typ]))
		}
	}
}

// runsEnded is how many runs of a rule ended with a result.
func runsEnded(st *ngxtasks.RuleStats, result int) int64 {
	switch result {
	case runError:
		return st.Failed
	case runPanic:
		return st.Panicked
	case runSuccess:
		return st.Succeeded
	case runTimeout:
		return st.TimedOut
	}
	return 0
}

// claims is how many claims of a Preemption rule had a result.
func claims(st *ngxtasks.RuleStats, result int) int64 {
	switch result {
	case claimError:
		return st.SkipsBy[ngxtasks.SkipClaimError]
	case claimLost:
		return st.Lost
	case claimWon:
		return st.Won
	}
	return 0
}

// unixSeconds is t as Unix time in seconds, kept to the nanosecond as far
// as a float64 can (a float64 of UnixNano would lose the last digits first).
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
