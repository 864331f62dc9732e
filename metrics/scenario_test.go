package metrics_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scenario drives two workers sharing a dictionary through two slots of
// one-second rules, on a fake clock: alpha runs a rule that succeeds, one
// that fails, one that panics, one that times out, one its filter vetoes,
// and a Preemption rule it wins; beta loses that rule's both slots. Three
// collectors watch from before the runs: c gives every rule series of its
// own, byDefault none, picked those of two patterns.
type scenario struct {
	alpha, beta          *ngxtasks.Manager
	c, byDefault, picked *metrics.Collector
	began, done          time.Time // the wall clock around the runs
}

// slot0 is a slot boundary of every one-second rule.
var slot0 = time.Unix(1_800_000_000, 0)

func newScenario(t *testing.T) *scenario {
	clock := newFakeClock(slot0.Add(250 * time.Millisecond))
	dict := &ngxtasks.MemoryDict{Clock: clock}
	rule := func(id string, typ ngxtasks.Type, fn ngxtasks.Func) ngxtasks.Rule {
		return ngxtasks.Rule{Identifier: id, Interval: time.Second, Type: typ, Callback: fn}
	}
	vetoed := rule("vetoed", ngxtasks.Normal, succeed)
	vetoed.Filter = func(context.Context, ngxtasks.Firing) bool { return false }
	slow := rule("slow", ngxtasks.Normal, func(ctx context.Context, _ ngxtasks.Firing) error {
		<-ctx.Done()
		return ctx.Err()
	})
	slow.Timeout = time.Millisecond
	slow.Drive = ngxtasks.DriveRun
	slow.Name = "waits for its timeout"
	s := &scenario{
		alpha: newManager(t, "alpha", dict, clock,
			rule("ok", ngxtasks.Normal, succeed),
			rule("fails", ngxtasks.Normal, func(context.Context, ngxtasks.Firing) error { return errors.New("boom") }),
			rule("panics", ngxtasks.Normal, func(context.Context, ngxtasks.Firing) error { panic("oops") }),
			slow,
			vetoed,
			rule("leader", ngxtasks.Preemption, succeed),
		),
		beta: newManager(t, "beta", dict, clock, rule("leader", ngxtasks.Preemption, succeed)),
	}
	s.c = newCollector(t, metrics.Options{AllRules: true}, s.alpha, s.beta)
	s.byDefault = newCollector(t, metrics.Options{}, s.alpha, s.beta)
	s.picked = newCollector(t, metrics.Options{Rules: []string{"l*", "ok"}}, s.alpha, s.beta)

	s.began = time.Now()
	ctx := context.Background()
	// Lateness is measured on the fake clock: 250 ms in the first slot,
	// 2^-7 s in the second (exact in binary, so that the sums are too).
	for _, at := range []time.Time{slot0.Add(250 * time.Millisecond), slot0.Add(time.Second + 7812500*time.Nanosecond)} {
		clock.Set(at)
		if err := s.alpha.Run(ctx); err == nil {
			t.Fatal("alpha's Run reported no error; three rules fail")
		}
		if err := s.beta.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s.done = time.Now()
	// Sharing a dictionary that tells the time, each worker measures its
	// offset from it, in the background.
	for _, m := range []*ngxtasks.Manager{s.alpha, s.beta} {
		for m.Health().ClockMeasured.IsZero() {
			if time.Since(s.began) > 5*time.Second {
				t.Fatal("the store's clock was never measured")
			}
			time.Sleep(time.Millisecond)
		}
	}
	return s
}

func TestScenarioCountersAndGaugesAreExact(t *testing.T) {
	s := newScenario(t)
	const want = `
# HELP ngxtasks_claims_total Claims of the Preemption rule's slots by this worker, by result: won (this worker runs the slot), lost (another worker holds it), error (the dictionary failed; the slot is skipped).
# TYPE ngxtasks_claims_total counter
ngxtasks_claims_total{result="lost",rule="leader",worker="alpha"} 0
ngxtasks_claims_total{result="lost",rule="leader",worker="beta"} 2
ngxtasks_claims_total{result="won",rule="leader",worker="alpha"} 2
ngxtasks_claims_total{result="won",rule="leader",worker="beta"} 0
# HELP ngxtasks_clock_offset_seconds How far the dictionary's clock was ahead of this worker's when last measured; absent until measured.
# TYPE ngxtasks_clock_offset_seconds gauge
ngxtasks_clock_offset_seconds{worker="alpha"} 0
ngxtasks_clock_offset_seconds{worker="beta"} 0
# HELP ngxtasks_next_due_timestamp_seconds When the rule next falls due in this worker, on the clock its slots follow (Unix time).
# TYPE ngxtasks_next_due_timestamp_seconds gauge
ngxtasks_next_due_timestamp_seconds{rule="fails",worker="alpha"} 1.800000002e+09
ngxtasks_next_due_timestamp_seconds{rule="leader",worker="alpha"} 1.800000002e+09
ngxtasks_next_due_timestamp_seconds{rule="leader",worker="beta"} 1.800000002e+09
ngxtasks_next_due_timestamp_seconds{rule="ok",worker="alpha"} 1.800000002e+09
ngxtasks_next_due_timestamp_seconds{rule="panics",worker="alpha"} 1.800000002e+09
ngxtasks_next_due_timestamp_seconds{rule="slow",worker="alpha"} 1.800000002e+09
ngxtasks_next_due_timestamp_seconds{rule="vetoed",worker="alpha"} 1.800000002e+09
# HELP ngxtasks_rule_info A rule pushed to this worker, always 1: its type (normal or preemption), drive mode (any, timer, request or run), name, and for a rule on a schedule the schedule as written and its time zone (empty for an interval).
# TYPE ngxtasks_rule_info gauge
ngxtasks_rule_info{drive="any",name="",rule="fails",schedule="",type="normal",worker="alpha",zone=""} 1
ngxtasks_rule_info{drive="any",name="",rule="leader",schedule="",type="preemption",worker="alpha",zone=""} 1
ngxtasks_rule_info{drive="any",name="",rule="leader",schedule="",type="preemption",worker="beta",zone=""} 1
ngxtasks_rule_info{drive="any",name="",rule="ok",schedule="",type="normal",worker="alpha",zone=""} 1
ngxtasks_rule_info{drive="any",name="",rule="panics",schedule="",type="normal",worker="alpha",zone=""} 1
ngxtasks_rule_info{drive="any",name="",rule="vetoed",schedule="",type="normal",worker="alpha",zone=""} 1
ngxtasks_rule_info{drive="run",name="waits for its timeout",rule="slow",schedule="",type="normal",worker="alpha",zone=""} 1
# HELP ngxtasks_rule_interval_seconds The rule's interval: the length of its slots; absent for a rule on a schedule (rule_info has the schedule).
# TYPE ngxtasks_rule_interval_seconds gauge
ngxtasks_rule_interval_seconds{rule="fails",worker="alpha"} 1
ngxtasks_rule_interval_seconds{rule="leader",worker="alpha"} 1
ngxtasks_rule_interval_seconds{rule="leader",worker="beta"} 1
ngxtasks_rule_interval_seconds{rule="ok",worker="alpha"} 1
ngxtasks_rule_interval_seconds{rule="panics",worker="alpha"} 1
ngxtasks_rule_interval_seconds{rule="slow",worker="alpha"} 1
ngxtasks_rule_interval_seconds{rule="vetoed",worker="alpha"} 1
# HELP ngxtasks_run_lateness_seconds How long after its slot began a run started, by the manager's clock, by worker and rule type.
# TYPE ngxtasks_run_lateness_seconds histogram
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.0001"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.00025"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.0005"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.001"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.0025"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.005"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.01"} 4
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.025"} 4
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.05"} 4
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.1"} 4
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.25"} 8
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="0.5"} 8
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="1"} 8
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="2.5"} 8
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="5"} 8
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="alpha",le="+Inf"} 8
ngxtasks_run_lateness_seconds_sum{type="normal",worker="alpha"} 1.03125
ngxtasks_run_lateness_seconds_count{type="normal",worker="alpha"} 8
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.0001"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.00025"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.0005"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.001"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.0025"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.005"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.01"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.025"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.05"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.1"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.25"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="0.5"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="1"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="2.5"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="5"} 0
ngxtasks_run_lateness_seconds_bucket{type="normal",worker="beta",le="+Inf"} 0
ngxtasks_run_lateness_seconds_sum{type="normal",worker="beta"} 0
ngxtasks_run_lateness_seconds_count{type="normal",worker="beta"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.0001"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.00025"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.0005"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.001"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.0025"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.005"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.01"} 1
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.025"} 1
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.05"} 1
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.1"} 1
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.25"} 2
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="0.5"} 2
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="1"} 2
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="2.5"} 2
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="5"} 2
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="alpha",le="+Inf"} 2
ngxtasks_run_lateness_seconds_sum{type="preemption",worker="alpha"} 0.2578125
ngxtasks_run_lateness_seconds_count{type="preemption",worker="alpha"} 2
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.0001"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.00025"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.0005"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.001"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.0025"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.005"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.01"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.025"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.05"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.1"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.25"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="0.5"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="1"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="2.5"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="5"} 0
ngxtasks_run_lateness_seconds_bucket{type="preemption",worker="beta",le="+Inf"} 0
ngxtasks_run_lateness_seconds_sum{type="preemption",worker="beta"} 0
ngxtasks_run_lateness_seconds_count{type="preemption",worker="beta"} 0
# HELP ngxtasks_runs_total Runs of the rule in this worker that ended, by result: success, error (the callback returned an error), panic (recovered), timeout (outlived the rule's Timeout).
# TYPE ngxtasks_runs_total counter
ngxtasks_runs_total{result="error",rule="fails",worker="alpha"} 2
ngxtasks_runs_total{result="error",rule="leader",worker="alpha"} 0
ngxtasks_runs_total{result="error",rule="leader",worker="beta"} 0
ngxtasks_runs_total{result="error",rule="ok",worker="alpha"} 0
ngxtasks_runs_total{result="error",rule="panics",worker="alpha"} 0
ngxtasks_runs_total{result="error",rule="slow",worker="alpha"} 0
ngxtasks_runs_total{result="error",rule="vetoed",worker="alpha"} 0
ngxtasks_runs_total{result="panic",rule="panics",worker="alpha"} 2
ngxtasks_runs_total{result="success",rule="fails",worker="alpha"} 0
ngxtasks_runs_total{result="success",rule="leader",worker="alpha"} 2
ngxtasks_runs_total{result="success",rule="leader",worker="beta"} 0
ngxtasks_runs_total{result="success",rule="ok",worker="alpha"} 2
ngxtasks_runs_total{result="success",rule="panics",worker="alpha"} 0
ngxtasks_runs_total{result="success",rule="slow",worker="alpha"} 0
ngxtasks_runs_total{result="success",rule="vetoed",worker="alpha"} 0
ngxtasks_runs_total{result="timeout",rule="slow",worker="alpha"} 2
# HELP ngxtasks_skips_total Due slots of the rule not run in this worker, by reason: overlap (the previous run goes on), filtered, claim_error (the dictionary failed), late (the claim was answered after the slot ended), closed (shutting down), behind (the timer loop did not run while the slots lasted), clock_skewed (a Preemption slot while this worker's clock is not known to be close enough to the dictionary's), busy (MaxRunning callbacks went on until the slot's latest start), down (CatchUp: no worker ran it while the fleet was down), running_elsewhere (Overlap skip: a run of the rule holds its lease in another worker), paused (Pause).
# TYPE ngxtasks_skips_total counter
ngxtasks_skips_total{reason="filtered",rule="vetoed",worker="alpha"} 2
# HELP ngxtasks_store_up 0 while this worker's dictionary fails or answers claims after their slot ended, else 1.
# TYPE ngxtasks_store_up gauge
ngxtasks_store_up{worker="alpha"} 1
ngxtasks_store_up{worker="beta"} 1
`
	err := testutil.CollectAndCompare(s.c, strings.NewReader(want),
		"ngxtasks_runs_total", "ngxtasks_skips_total", "ngxtasks_claims_total",
		"ngxtasks_running", "ngxtasks_next_due_timestamp_seconds", "ngxtasks_rule_info",
		"ngxtasks_rule_interval_seconds", "ngxtasks_store_up", "ngxtasks_clock_offset_seconds",
		"ngxtasks_run_lateness_seconds")
	if err != nil {
		t.Error(err)
	}
}

// The wall-clock timestamps and the real durations cannot be compared
// exactly: their presence, their range and their counts can.
func TestScenarioWallClockSeriesFallWithinTheRuns(t *testing.T) {
	s := newScenario(t)
	mfs := gather(t, s.c)
	lo, hi := float64(s.began.UnixNano())/1e9, float64(s.done.UnixNano())/1e9
	inRange := func(name string, ran map[string]bool) {
		t.Helper()
		got := map[string]bool{}
		for _, m := range mfs[name].GetMetric() {
			ls := labelsOf(m)
			if ls["worker"] != "alpha" {
				t.Errorf("%s: series for %v: beta ran nothing", name, ls)
				continue
			}
			got[ls["rule"]] = true
			if v := m.GetGauge().GetValue(); v < lo || v > hi {
				t.Errorf("%s{rule=%q} = %f, not within the runs [%f, %f]", name, ls["rule"], v, lo, hi)
			}
		}
		if len(got) != len(ran) {
			t.Errorf("%s: series for rules %v, want %v", name, got, ran)
		}
		for r := range ran {
			if !got[r] {
				t.Errorf("%s: no series for rule %q", name, r)
			}
		}
	}
	inRange("ngxtasks_last_run_timestamp_seconds", map[string]bool{"ok": true, "fails": true, "panics": true, "slow": true, "leader": true})
	inRange("ngxtasks_last_success_timestamp_seconds", map[string]bool{"ok": true, "leader": true})

	counts := map[string]uint64{}
	for _, name := range []string{"ngxtasks_run_duration_seconds", "ngxtasks_claim_duration_seconds"} {
		for _, m := range mfs[name].GetMetric() {
			ls := labelsOf(m)
			counts[name+"/"+ls["worker"]+"/"+ls["type"]+ls["store"]] = m.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{
		"ngxtasks_run_duration_seconds/alpha/normal":                8,
		"ngxtasks_run_duration_seconds/alpha/preemption":            2,
		"ngxtasks_run_duration_seconds/beta/normal":                 0,
		"ngxtasks_run_duration_seconds/beta/preemption":             0,
		"ngxtasks_claim_duration_seconds/alpha/ngxtasks.MemoryDict": 2,
		"ngxtasks_claim_duration_seconds/beta/ngxtasks.MemoryDict":  2,
	}
	if len(counts) != len(want) {
		t.Errorf("histogram series %v, want %v", counts, want)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: count %d, want %d", k, counts[k], n)
		}
	}
	// The slow rule waited for its 1 ms timeout, twice.
	for _, m := range find(mfs["ngxtasks_run_duration_seconds"], map[string]string{"worker": "alpha", "type": "normal"}) {
		if sum := m.GetHistogram().GetSampleSum(); sum < 0.002 {
			t.Errorf("alpha's normal runs took %fs in all, less than the slow rule's two timeouts", sum)
		}
	}
}

// The aggregates by worker and type, exactly, and nothing per rule: what
// a collector of the default Options serves.
func TestScenarioDefaultOptionsServeOnlyTheAggregates(t *testing.T) {
	s := newScenario(t)
	const want = `
# HELP ngxtasks_worker_claims_total Claims of Preemption slots by this worker since the collector began, by result: won (this worker runs the slot), lost (another worker holds it), error (the dictionary failed; the slot is skipped).
# TYPE ngxtasks_worker_claims_total counter
ngxtasks_worker_claims_total{result="error",worker="alpha"} 0
ngxtasks_worker_claims_total{result="error",worker="beta"} 0
ngxtasks_worker_claims_total{result="lost",worker="alpha"} 0
ngxtasks_worker_claims_total{result="lost",worker="beta"} 2
ngxtasks_worker_claims_total{result="won",worker="alpha"} 2
ngxtasks_worker_claims_total{result="won",worker="beta"} 0
# HELP ngxtasks_worker_rules Rules of the type pushed to this worker.
# TYPE ngxtasks_worker_rules gauge
ngxtasks_worker_rules{type="normal",worker="alpha"} 5
ngxtasks_worker_rules{type="normal",worker="beta"} 0
ngxtasks_worker_rules{type="preemption",worker="alpha"} 1
ngxtasks_worker_rules{type="preemption",worker="beta"} 1
# HELP ngxtasks_worker_running Runs of rules of the type going on in this worker.
# TYPE ngxtasks_worker_running gauge
ngxtasks_worker_running{type="normal",worker="alpha"} 0
ngxtasks_worker_running{type="normal",worker="beta"} 0
ngxtasks_worker_running{type="preemption",worker="alpha"} 0
ngxtasks_worker_running{type="preemption",worker="beta"} 0
# HELP ngxtasks_worker_runs_total Runs of every rule of the type in this worker that ended since the collector began, by result: success, error (the callback returned an error), panic (recovered), timeout (outlived the rule's Timeout).
# TYPE ngxtasks_worker_runs_total counter
ngxtasks_worker_runs_total{result="error",type="normal",worker="alpha"} 2
ngxtasks_worker_runs_total{result="error",type="normal",worker="beta"} 0
ngxtasks_worker_runs_total{result="error",type="preemption",worker="alpha"} 0
ngxtasks_worker_runs_total{result="error",type="preemption",worker="beta"} 0
ngxtasks_worker_runs_total{result="panic",type="normal",worker="alpha"} 2
ngxtasks_worker_runs_total{result="panic",type="normal",worker="beta"} 0
ngxtasks_worker_runs_total{result="panic",type="preemption",worker="alpha"} 0
ngxtasks_worker_runs_total{result="panic",type="preemption",worker="beta"} 0
ngxtasks_worker_runs_total{result="success",type="normal",worker="alpha"} 2
ngxtasks_worker_runs_total{result="success",type="normal",worker="beta"} 0
ngxtasks_worker_runs_total{result="success",type="preemption",worker="alpha"} 2
ngxtasks_worker_runs_total{result="success",type="preemption",worker="beta"} 0
ngxtasks_worker_runs_total{result="timeout",type="normal",worker="alpha"} 2
ngxtasks_worker_runs_total{result="timeout",type="normal",worker="beta"} 0
ngxtasks_worker_runs_total{result="timeout",type="preemption",worker="alpha"} 0
ngxtasks_worker_runs_total{result="timeout",type="preemption",worker="beta"} 0
# HELP ngxtasks_worker_skips_total Due slots of every rule of the type not run in this worker since the collector began, by reason: overlap (the previous run goes on), filtered, claim_error (the dictionary failed), late (the claim was answered after the slot ended), closed (shutting down), behind (the timer loop did not run while the slots lasted), clock_skewed (a Preemption slot while this worker's clock is not known to be close enough to the dictionary's), busy (MaxRunning callbacks went on until the slot's latest start), down (CatchUp: no worker ran it while the fleet was down), running_elsewhere (Overlap skip: a run of the rule holds its lease in another worker), paused (Pause).
# TYPE ngxtasks_worker_skips_total counter
ngxtasks_worker_skips_total{reason="behind",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="busy",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="behind",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="busy",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="behind",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="busy",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="behind",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="busy",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="claim_error",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="claim_error",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="claim_error",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="claim_error",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="clock_skewed",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="clock_skewed",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="clock_skewed",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="clock_skewed",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="down",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="down",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="down",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="down",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="running_elsewhere",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="running_elsewhere",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="running_elsewhere",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="running_elsewhere",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="closed",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="closed",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="closed",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="closed",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="filtered",type="normal",worker="alpha"} 2
ngxtasks_worker_skips_total{reason="filtered",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="filtered",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="filtered",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="late",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="late",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="late",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="late",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="overlap",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="overlap",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="overlap",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="overlap",type="preemption",worker="beta"} 0
ngxtasks_worker_skips_total{reason="paused",type="normal",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="paused",type="normal",worker="beta"} 0
ngxtasks_worker_skips_total{reason="paused",type="preemption",worker="alpha"} 0
ngxtasks_worker_skips_total{reason="paused",type="preemption",worker="beta"} 0
`
	aggregates := []string{"ngxtasks_worker_runs_total", "ngxtasks_worker_skips_total", "ngxtasks_worker_claims_total",
		"ngxtasks_worker_running", "ngxtasks_worker_rules"}
	// Every rule counts in the aggregates, whether it has series of its
	// own or not: the three collectors agree.
	for name, c := range map[string]*metrics.Collector{"default": s.byDefault, "picked": s.picked, "all": s.c} {
		if err := testutil.CollectAndCompare(c, strings.NewReader(want), aggregates...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// By default, nothing else but the worker's own series and the
	// histograms.
	var families []string
	for name := range gather(t, s.byDefault) {
		families = append(families, name)
	}
	slices.Sort(families)
	wantFamilies := append(aggregates, "ngxtasks_store_up", "ngxtasks_clock_offset_seconds",
		"ngxtasks_run_duration_seconds", "ngxtasks_run_lateness_seconds", "ngxtasks_claim_duration_seconds")
	slices.Sort(wantFamilies)
	if !slices.Equal(families, wantFamilies) {
		t.Errorf("families by default %v, want %v", families, wantFamilies)
	}
}

// Patterns select rules by identifier, in every worker; the others have no
// series of their own.
func TestScenarioPatternsGiveSeriesOnlyToPickedRules(t *testing.T) {
	s := newScenario(t)
	const want = `
# HELP ngxtasks_runs_total Runs of the rule in this worker that ended, by result: success, error (the callback returned an error), panic (recovered), timeout (outlived the rule's Timeout).
# TYPE ngxtasks_runs_total counter
ngxtasks_runs_total{result="error",rule="leader",worker="alpha"} 0
ngxtasks_runs_total{result="error",rule="leader",worker="beta"} 0
ngxtasks_runs_total{result="error",rule="ok",worker="alpha"} 0
ngxtasks_runs_total{result="success",rule="leader",worker="alpha"} 2
ngxtasks_runs_total{result="success",rule="leader",worker="beta"} 0
ngxtasks_runs_total{result="success",rule="ok",worker="alpha"} 2
# HELP ngxtasks_rule_interval_seconds The rule's interval: the length of its slots; absent for a rule on a schedule (rule_info has the schedule).
# TYPE ngxtasks_rule_interval_seconds gauge
ngxtasks_rule_interval_seconds{rule="leader",worker="alpha"} 1
ngxtasks_rule_interval_seconds{rule="leader",worker="beta"} 1
ngxtasks_rule_interval_seconds{rule="ok",worker="alpha"} 1
`
	err := testutil.CollectAndCompare(s.picked, strings.NewReader(want),
		"ngxtasks_runs_total", "ngxtasks_skips_total", "ngxtasks_rule_interval_seconds")
	if err != nil {
		t.Error(err)
	}
}
