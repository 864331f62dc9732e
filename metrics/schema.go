package metrics

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ngxtasks/ngxtasks"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A schema holds what every scrape shares: the families of the series read
// from Stats and Health, and the label pairs whose values come from a fixed
// set (results, reasons, types, drive modes). Label pairs are never changed
// once made, so every series may point to the same ones.
type schema struct {
	fams [numFamilies]familySpec

	ruleName, nameName     *string // "rule" and "name", for the pairs made per rule
	scheduleName, zoneName *string // "schedule" and "zone", for rule_info
	empty                  *string // "", the zone of a rule on an interval

	runResults   [numRunResults]*dto.LabelPair
	claimResults [numClaimResults]*dto.LabelPair
	reasons      [numReasons]*dto.LabelPair // by SkipReason; 0 unused
	reasonOrder  []ngxtasks.SkipReason      // in the order of their label values
	types        [numTypes]*dto.LabelPair   // by Type; 0 unused
	drives       [numDrives]*dto.LabelPair  // by Drive
}

// A family is one metric read from Stats and Health.
type family int

const (
	famRuns family = iota
	famSkips
	famClaims
	famRetries
	famPaused
	famDisagreement
	famRunning
	famLastRun
	famLastSuccess
	famNextDue
	famInterval
	famInfo
	famStoreUp
	famClockOffset
	famWorkerRuns
	famWorkerSkips
	famWorkerClaims
	famWorkerRunning
	famWorkerRules
	numFamilies
)

// A familySpec describes a family twice: as a [prometheus.Desc] for the
// registry, and by name, help and type for [Collector.Gather], which
// builds the families itself (a Desc does not tell its name or help).
type familySpec struct {
	desc       *prometheus.Desc
	name, help *string // shared by the families of every Gather
	typ        dto.MetricType
}

func newFamily(typ dto.MetricType, name, help string, labels ...string) familySpec {
	return familySpec{desc: prometheus.NewDesc(name, help, labels, nil), name: &name, help: &help, typ: typ}
}

// ruleTypes are the rule types, in the order of their label values.
func ruleTypes() [2]ngxtasks.Type { return [2]ngxtasks.Type{ngxtasks.Normal, ngxtasks.Preemption} }

// How runs ended, as runs_total's result label says it, in the order of
// the label values (the order the registry sorts series to).
const (
	runError = iota
	runPanic
	runSuccess
	runTimeout
	numRunResults
)

// How claims went, as claims_total's result label says it, in the order of
// the label values.
const (
	claimError = iota
	claimLost
	claimWon
	numClaimResults
)

// The ranges of the core's enumerations, for the tables indexed by them.
const (
	numReasons = int(ngxtasks.SkipPaused) + 1
	numTypes   = int(ngxtasks.Preemption) + 1
	numDrives  = int(ngxtasks.DriveRun) + 1
)

// reasonNames are the skip reasons in snake_case, as label values are
// written (SkipReason.String has "claim error").
func reasonNames() [numReasons]string {
	var n [numReasons]string
	n[ngxtasks.SkipOverlap] = "overlap"
	n[ngxtasks.SkipFiltered] = "filtered"
	n[ngxtasks.SkipClaimError] = "claim_error"
	n[ngxtasks.SkipLate] = "late"
	n[ngxtasks.SkipClosed] = "closed"
	n[ngxtasks.SkipBehind] = "behind"
	n[ngxtasks.SkipClockSkewed] = "clock_skewed"
	n[ngxtasks.SkipBusy] = "busy"
	n[ngxtasks.SkipDown] = "down"
	n[ngxtasks.SkipElsewhere] = "running_elsewhere"
	n[ngxtasks.SkipPaused] = "paused"
	return n
}

func newSchema() schema {
	const counter, gauge = dto.MetricType_COUNTER, dto.MetricType_GAUGE
	s := schema{ruleName: new("rule"), nameName: new("name"), scheduleName: new("schedule"), zoneName: new("zone"), empty: new("")}
	s.fams = [numFamilies]familySpec{
		famRuns: newFamily(counter, "ngxtasks_runs_total",
			"Runs of the rule in this worker that ended, by result: success, error (the callback returned an error), panic (recovered), timeout (outlived the rule's Timeout).",
			"rule", "worker", "result"),
		famSkips: newFamily(counter, "ngxtasks_skips_total",
			"Due slots of the rule not run in this worker, by reason: overlap (the previous run goes on), filtered, claim_error (the dictionary failed), late (the claim was answered after the slot ended), closed (shutting down), behind (the timer loop did not run while the slots lasted), clock_skewed (a Preemption slot while this worker's clock is not known to be close enough to the dictionary's), busy (MaxRunning callbacks went on until the slot's latest start), down (CatchUp: no worker ran it while the fleet was down), running_elsewhere (Overlap skip: a run of the rule holds its lease in another worker), paused (Pause).",
			"rule", "worker", "reason"),
		famClaims: newFamily(counter, "ngxtasks_claims_total",
			"Claims of the Preemption rule's slots by this worker, by result: won (this worker runs the slot), lost (another worker holds it), error (the dictionary failed; the slot is skipped).",
			"rule", "worker", "result"),
		famRetries: newFamily(counter, "ngxtasks_retries_total",
			"Runs of the rule in this worker that were a failed run's retry (its Retry policy); runs_total counts them too. Absent until the first retry.",
			"rule", "worker"),
		famPaused: newFamily(gauge, "ngxtasks_rule_paused",
			"1 while the rule is paused fleet-wide (Pause), as this worker last read; absent otherwise.", "rule", "worker"),
		famDisagreement: newFamily(gauge, "ngxtasks_rule_disagreement",
			"1 while this worker's last check found a claim of the rule's slots made under another definition (Version) by another worker: a half-reloaded fleet, or a host with an old file; absent otherwise.",
			"rule", "worker"),
		famRunning: newFamily(gauge, "ngxtasks_running",
			"1 while a run of the rule goes on in this worker; absent otherwise.", "rule", "worker"),
		famLastRun: newFamily(gauge, "ngxtasks_last_run_timestamp_seconds",
			"When the rule's last run in this worker began, by the wall clock (Unix time).", "rule", "worker"),
		famLastSuccess: newFamily(gauge, "ngxtasks_last_success_timestamp_seconds",
			"When the rule's last successful run in this worker ended, by the wall clock (Unix time).", "rule", "worker"),
		famNextDue: newFamily(gauge, "ngxtasks_next_due_timestamp_seconds",
			"When the rule next falls due in this worker, on the clock its slots follow (Unix time).", "rule", "worker"),
		famInterval: newFamily(gauge, "ngxtasks_rule_interval_seconds",
			"The rule's interval: the length of its slots; absent for a rule on a schedule (rule_info has the schedule).", "rule", "worker"),
		famInfo: newFamily(gauge, "ngxtasks_rule_info",
			"A rule pushed to this worker, always 1: its type (normal or preemption), drive mode (any, timer, request or run), name, and for a rule on a schedule the schedule as written and its time zone (empty for an interval).",
			"rule", "worker", "type", "drive", "name", "schedule", "zone"),
		famStoreUp: newFamily(gauge, "ngxtasks_store_up",
			"0 while this worker's dictionary fails or answers claims after their slot ended, else 1.", "worker"),
		famClockOffset: newFamily(gauge, "ngxtasks_clock_offset_seconds",
			"How far the dictionary's clock was ahead of this worker's when last measured; absent until measured.", "worker"),
		famWorkerRuns: newFamily(counter, "ngxtasks_worker_runs_total",
			"Runs of every rule of the type in this worker that ended since the collector began, by result: success, error (the callback returned an error), panic (recovered), timeout (outlived the rule's Timeout).",
			"result", "type", "worker"),
		famWorkerSkips: newFamily(counter, "ngxtasks_worker_skips_total",
			"Due slots of every rule of the type not run in this worker since the collector began, by reason: overlap (the previous run goes on), filtered, claim_error (the dictionary failed), late (the claim was answered after the slot ended), closed (shutting down), behind (the timer loop did not run while the slots lasted), clock_skewed (a Preemption slot while this worker's clock is not known to be close enough to the dictionary's), busy (MaxRunning callbacks went on until the slot's latest start), down (CatchUp: no worker ran it while the fleet was down), running_elsewhere (Overlap skip: a run of the rule holds its lease in another worker), paused (Pause).",
			"reason", "type", "worker"),
		famWorkerClaims: newFamily(counter, "ngxtasks_worker_claims_total",
			"Claims of Preemption slots by this worker since the collector began, by result: won (this worker runs the slot), lost (another worker holds it), error (the dictionary failed; the slot is skipped).",
			"result", "worker"),
		famWorkerRunning: newFamily(gauge, "ngxtasks_worker_running",
			"Runs of rules of the type going on in this worker.", "type", "worker"),
		famWorkerRules: newFamily(gauge, "ngxtasks_worker_rules",
			"Rules of the type pushed to this worker.", "type", "worker"),
	}
	for i, v := range [numRunResults]string{runError: "error", runPanic: "panic", runSuccess: "success", runTimeout: "timeout"} {
		s.runResults[i] = labelPair("result", v)
	}
	for i, v := range [numClaimResults]string{claimError: "error", claimLost: "lost", claimWon: "won"} {
		s.claimResults[i] = labelPair("result", v)
	}
	for r, v := range reasonNames() {
		if v != "" {
			s.reasons[r] = labelPair("reason", v)
			s.reasonOrder = append(s.reasonOrder, ngxtasks.SkipReason(r))
		}
	}
	slices.SortFunc(s.reasonOrder, func(x, y ngxtasks.SkipReason) int {
		return strings.Compare(s.reasons[x].GetValue(), s.reasons[y].GetValue())
	})
	for _, t := range ruleTypes() {
		s.types[t] = labelPair("type", t.String())
	}
	for d := range ngxtasks.Drive(numDrives) {
		s.drives[d] = labelPair("drive", d.String())
	}
	return s
}

// descs lists the descriptions, for Describe.
func (s *schema) descs() []*prometheus.Desc {
	ds := make([]*prometheus.Desc, numFamilies)
	for f := range numFamilies {
		ds[f] = s.fams[f].desc
	}
	return ds
}

// typeLabel is the type pair of a rule.
func (s *schema) typeLabel(t ngxtasks.Type) *dto.LabelPair {
	if int(t) < numTypes && s.types[t] != nil {
		return s.types[t]
	}
	return labelPair("type", t.String()) // no such rule passes Push
}

// driveLabel is the drive pair of a rule.
func (s *schema) driveLabel(d ngxtasks.Drive) *dto.LabelPair {
	if int(d) < numDrives {
		return s.drives[d]
	}
	return labelPair("drive", d.String()) // no such rule passes Push
}

// labelPair makes a pair, its value made valid UTF-8: the registry refuses
// a whole scrape over one invalid label value.
func labelPair(name, value string) *dto.LabelPair {
	value = validUTF8(value)
	return &dto.LabelPair{Name: &name, Value: &value}
}

// validUTF8 replaces the invalid bytes of free text (a rule's Name, a
// Worker) with U+FFFD. Identifiers need not pass here: Push refuses
// invalid ones.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
