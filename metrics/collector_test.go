package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// histogramCount is the count of the run duration histogram of a worker's
// Normal rules.
func histogramCount(t *testing.T, c prometheus.Collector, worker string) uint64 {
	t.Helper()
	ms := find(gather(t, c)["ngxtasks_run_duration_seconds"], map[string]string{"worker": worker, "type": "normal"})
	if len(ms) != 1 {
		t.Fatalf("%d run duration series for worker %s, want 1", len(ms), worker)
	}
	return ms[0].GetHistogram().GetSampleCount()
}

func TestCloseStopsHistograms(t *testing.T) {
	clock := newFakeClock(slot0)
	m := newManager(t, "w", nil, clock, ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: succeed})
	c := newCollector(t, metrics.Options{Rules: []string{"r"}}, m)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := histogramCount(t, c, "w"); n != 1 {
		t.Fatalf("count %d after one run, want 1", n)
	}
	c.Close()
	c.Close() // a second Close does nothing
	clock.Add(time.Second)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := histogramCount(t, c, "w"); n != 1 {
		t.Errorf("count %d after Close and another run, want 1 still", n)
	}
	// The series read from Stats still follow the manager.
	want := `
# HELP ngxtasks_runs_total Runs of the rule in this worker that ended, by result: success, error (the callback returned an error), panic (recovered), timeout (outlived the rule's Timeout).
# TYPE ngxtasks_runs_total counter
ngxtasks_runs_total{result="error",rule="r",worker="w"} 0
ngxtasks_runs_total{result="success",rule="r",worker="w"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ngxtasks_runs_total"); err != nil {
		t.Error(err)
	}
}

func TestSeveralManagersKeepTheirOwnHistograms(t *testing.T) {
	clock := newFakeClock(slot0)
	var ms []*ngxtasks.Manager
	for i := range 3 {
		var rules []ngxtasks.Rule
		for j := range i + 1 { // worker i has i+1 rules
			rules = append(rules, ngxtasks.Rule{Identifier: fmt.Sprint("r", j), Interval: time.Second, Type: ngxtasks.Normal, Callback: succeed})
		}
		ms = append(ms, newManager(t, fmt.Sprint("w", i), nil, clock, rules...))
	}
	c := newCollector(t, metrics.Options{AllRules: true}, ms...)
	for _, m := range ms {
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range ms {
		if n := histogramCount(t, c, fmt.Sprint("w", i)); n != uint64(i+1) {
			t.Errorf("worker w%d: %d runs counted, want %d", i, n, i+1)
		}
	}
	if n := testutil.CollectAndCount(c, "ngxtasks_rule_info"); n != 1+2+3 {
		t.Errorf("%d rule_info series, want 6", n)
	}
}

// A registry takes one Collector: a second, even of other managers,
// describes the same metrics and is refused. Each wrapped in its own value
// of one label, both are taken.
func TestOneCollectorPerRegistry(t *testing.T) {
	a := newManager(t, "a", nil, nil)
	b := newManager(t, "b", nil, nil)
	ca, cb := newCollector(t, metrics.Options{}, a), newCollector(t, metrics.Options{}, b)
	reg := prometheus.NewRegistry()
	if err := reg.Register(ca); err != nil {
		t.Fatal(err)
	}
	var already prometheus.AlreadyRegisteredError
	if err := reg.Register(cb); !errors.As(err, &already) {
		t.Fatalf("second collector registered with error %v, want an AlreadyRegisteredError", err)
	}

	reg = prometheus.NewRegistry()
	for pool, c := range map[string]*metrics.Collector{"a": ca, "b": cb} {
		if err := prometheus.WrapRegistererWith(prometheus.Labels{"pool": pool}, reg).Register(c); err != nil {
			t.Fatalf("collector wrapped with pool=%s: %v", pool, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var workers []string
	for _, mf := range mfs {
		if mf.GetName() == "ngxtasks_store_up" {
			for _, m := range mf.GetMetric() {
				ls := labelsOf(m)
				workers = append(workers, ls["pool"]+"/"+ls["worker"])
			}
		}
	}
	sort.Strings(workers)
	if fmt.Sprint(workers) != "[a/a b/b]" {
		t.Errorf("store_up series of pool/worker %v, want [a/a b/b]", workers)
	}
}

func TestNewRefusesOneWorkerTwice(t *testing.T) {
	a := newManager(t, "same", nil, nil)
	b := newManager(t, "same", nil, nil)
	c, err := metrics.New(a, b)
	if err == nil || !strings.Contains(err.Error(), `"same"`) {
		t.Errorf("New of two managers named alike: %v, %v; want an error naming the worker", c, err)
	}
	// Invalid UTF-8 comes out as U+FFFD: these two would collide as labels.
	x := newManager(t, "w\xff", nil, nil)
	y := newManager(t, "w\xfe", nil, nil)
	if _, err := metrics.New(x, y); err == nil || !strings.Contains(err.Error(), `"w`+"\uFFFD"+`"`) {
		t.Errorf("New of two workers alike as labels: %v, want an error naming the label value", err)
	}
}

func TestNewRefusesANilManager(t *testing.T) {
	a := newManager(t, "a", nil, nil)
	if c, err := metrics.New(a, nil); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("New with a nil manager: %v, %v; want an error", c, err)
	}
}

// A manager passed twice is one worker, not two.
func TestNewTakesAManagerOnce(t *testing.T) {
	m := newManager(t, "w", nil, newFakeClock(slot0),
		ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: succeed})
	c := newCollector(t, metrics.Options{}, m, m)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "ngxtasks_store_up"); n != 1 {
		t.Errorf("%d store_up series, want 1", n)
	}
	if n := histogramCount(t, c, "w"); n != 1 {
		t.Errorf("one run counted %d times, want once", n)
	}
}

// A rule that never ran has its zero series only where the package
// documentation says so.
func TestFreshRulesHaveOnlyTheDocumentedZeroSeries(t *testing.T) {
	m := newManager(t, "w", nil, newFakeClock(slot0),
		ngxtasks.Rule{Identifier: "n", Interval: time.Minute, Type: ngxtasks.Normal, Callback: succeed},
		ngxtasks.Rule{Identifier: "p", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: succeed, Drive: ngxtasks.DriveTimer},
	)
	c := newCollector(t, metrics.Options{AllRules: true}, m)
	got := map[string]int{}
	for name, mf := range gather(t, c) {
		for _, s := range mf.GetMetric() {
			got[name+"/"+labelsOf(s)["rule"]]++
		}
	}
	want := map[string]int{
		"ngxtasks_runs_total/n": 2, "ngxtasks_runs_total/p": 2, // success and error
		"ngxtasks_claims_total/p":               2, // won and lost
		"ngxtasks_next_due_timestamp_seconds/n": 1, "ngxtasks_next_due_timestamp_seconds/p": 1,
		"ngxtasks_rule_info/n": 1, "ngxtasks_rule_info/p": 1,
		"ngxtasks_rule_interval_seconds/n": 1, "ngxtasks_rule_interval_seconds/p": 1,
		"ngxtasks_store_up/": 1,
		// normal and preemption for runs; the one store for claims
		"ngxtasks_run_duration_seconds/": 2, "ngxtasks_run_lateness_seconds/": 2, "ngxtasks_claim_duration_seconds/": 1,
		// the aggregates: 4 results and 11 reasons by 2 types, 3 claim
		// results, 2 types
		"ngxtasks_worker_runs_total/": 8, "ngxtasks_worker_skips_total/": 22, "ngxtasks_worker_claims_total/": 3,
		"ngxtasks_worker_running/": 2, "ngxtasks_worker_rules/": 2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series of fresh rules:\n got %v\nwant %v", got, want)
	}
}

func TestRunningGaugeIsOneDuringARunAndAbsentAfter(t *testing.T) {
	m := newManager(t, "w", nil, newFakeClock(slot0))
	entered, release := make(chan struct{}), make(chan struct{})
	if err := m.Push(ngxtasks.Rule{Identifier: "busy", Interval: time.Second, Type: ngxtasks.Normal,
		Callback: func(context.Context, ngxtasks.Firing) error { close(entered); <-release; return nil }}); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, metrics.Options{AllRules: true}, m)
	done := make(chan error)
	go func() { done <- m.Run(context.Background()) }()
	<-entered
	want := `
# HELP ngxtasks_running 1 while a run of the rule goes on in this worker; absent otherwise.
# TYPE ngxtasks_running gauge
ngxtasks_running{rule="busy",worker="w"} 1
# HELP ngxtasks_worker_running Runs of rules of the type going on in this worker.
# TYPE ngxtasks_worker_running gauge
ngxtasks_worker_running{type="normal",worker="w"} 1
ngxtasks_worker_running{type="preemption",worker="w"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ngxtasks_running", "ngxtasks_worker_running"); err != nil {
		t.Error(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "ngxtasks_running"); n != 0 {
		t.Errorf("%d running series after the run ended, want 0", n)
	}
}

// brokenDict fails every claim.
type brokenDict struct{}

var errBroken = errors.New("broken")

func (brokenDict) Add(context.Context, string, string, time.Duration) (bool, error) {
	return false, errBroken
}
func (brokenDict) Get(context.Context, string) (string, bool, error) { return "", false, errBroken }
func (brokenDict) Close() error                                      { return nil }

func TestStoreDownCountsClaimErrorsAndStoreUpIsZero(t *testing.T) {
	m := newManager(t, "w", brokenDict{}, newFakeClock(slot0),
		ngxtasks.Rule{Identifier: "p", Interval: time.Second, Type: ngxtasks.Preemption, Callback: succeed})
	c := newCollector(t, metrics.Options{AllRules: true}, m)
	if err := m.Run(context.Background()); !errors.Is(err, errBroken) {
		t.Fatalf("Run: %v, want the dictionary's error", err)
	}
	want := `
# HELP ngxtasks_claims_total Claims of the Preemption rule's slots by this worker, by result: won (this worker runs the slot), lost (another worker holds it), error (the dictionary failed; the slot is skipped).
# TYPE ngxtasks_claims_total counter
ngxtasks_claims_total{result="error",rule="p",worker="w"} 1
ngxtasks_claims_total{result="lost",rule="p",worker="w"} 0
ngxtasks_claims_total{result="won",rule="p",worker="w"} 0
# HELP ngxtasks_skips_total Due slots of the rule not run in this worker, by reason: overlap (the previous run goes on), filtered, claim_error (the dictionary failed), late (the claim was answered after the slot ended), closed (shutting down), behind (the timer loop did not run while the slots lasted), clock_skewed (a Preemption slot while this worker's clock is not known to be close enough to the dictionary's), busy (MaxRunning callbacks went on until the slot's latest start), down (CatchUp: no worker ran it while the fleet was down), running_elsewhere (Overlap skip: a run of the rule holds its lease in another worker), paused (Pause).
# TYPE ngxtasks_skips_total counter
ngxtasks_skips_total{reason="claim_error",rule="p",worker="w"} 1
# HELP ngxtasks_store_up 0 while this worker's dictionary fails or answers claims after their slot ended, else 1.
# TYPE ngxtasks_store_up gauge
ngxtasks_store_up{worker="w"} 0
# HELP ngxtasks_worker_claims_total Claims of Preemption slots by this worker since the collector began, by result: won (this worker runs the slot), lost (another worker holds it), error (the dictionary failed; the slot is skipped).
# TYPE ngxtasks_worker_claims_total counter
ngxtasks_worker_claims_total{result="error",worker="w"} 1
ngxtasks_worker_claims_total{result="lost",worker="w"} 0
ngxtasks_worker_claims_total{result="won",worker="w"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ngxtasks_claims_total", "ngxtasks_skips_total", "ngxtasks_store_up", "ngxtasks_worker_claims_total"); err != nil {
		t.Error(err)
	}
	ms := find(gather(t, c)["ngxtasks_claim_duration_seconds"], map[string]string{"worker": "w", "store": "metrics_test.brokenDict"})
	if len(ms) != 1 || ms[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("claim duration of the failed claim: %v, want one series counting 1", ms)
	}
}

// A pattern path.Match cannot parse is New's error, naming it; New then
// watches nothing.
func TestNewRefusesABadPattern(t *testing.T) {
	m := newManager(t, "w", nil, nil)
	c, err := metrics.Options{Rules: []string{"ok-*", "bad-["}}.New(m)
	if err == nil || !strings.Contains(err.Error(), `"bad-["`) || !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("New with a bad pattern: %v, %v; want an error naming it", c, err)
	}
}

// A '*' stops at a '/', as path.Match has it; AllRules takes every rule.
func TestPatternStarStopsAtASlashAndAllRulesTakesEvery(t *testing.T) {
	m := newManager(t, "w", nil, newFakeClock(slot0),
		ngxtasks.Rule{Identifier: "billing/daily", Interval: time.Hour, Type: ngxtasks.Normal, Callback: succeed},
		ngxtasks.Rule{Identifier: "billing-hourly", Interval: time.Hour, Type: ngxtasks.Normal, Callback: succeed},
		ngxtasks.Rule{Identifier: "backup", Interval: time.Hour, Type: ngxtasks.Normal, Callback: succeed},
	)
	for _, c := range []struct {
		opts metrics.Options
		want []string
	}{
		{metrics.Options{}, nil},
		{metrics.Options{Rules: []string{"*"}}, []string{"backup", "billing-hourly"}},
		{metrics.Options{Rules: []string{"billing*"}}, []string{"billing-hourly"}},
		{metrics.Options{Rules: []string{"billing", "billing-*"}}, []string{"billing-hourly"}},
		{metrics.Options{Rules: []string{"backup"}}, []string{"backup"}},
		{metrics.Options{Rules: []string{`\b*`}}, []string{"backup", "billing-hourly"}},
		{metrics.Options{Rules: []string{"billing/*", "back?p"}}, []string{"backup", "billing/daily"}},
		{metrics.Options{Rules: []string{"nothing"}, AllRules: true}, []string{"backup", "billing-hourly", "billing/daily"}},
	} {
		var got []string
		for _, s := range gather(t, newCollector(t, c.opts, m))["ngxtasks_rule_interval_seconds"].GetMetric() {
			got = append(got, labelsOf(s)["rule"])
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%+v: rules with series of their own %v, want %v", c.opts, got, c.want)
		}
	}
}

// The aggregates are counters: a rule removed keeps its part, where a sum
// of per-rule counters would go down, and rate() would read a reset.
func TestAggregatesKeepRemovedRules(t *testing.T) {
	m := newManager(t, "w", nil, newFakeClock(slot0),
		ngxtasks.Rule{Identifier: "a", Interval: time.Second, Type: ngxtasks.Normal, Callback: succeed},
		ngxtasks.Rule{Identifier: "b", Interval: time.Second, Type: ngxtasks.Normal, Callback: succeed})
	c := newCollector(t, metrics.Options{}, m)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !m.Remove("b") {
		t.Fatal("b not removed")
	}
	const want = `
# HELP ngxtasks_worker_rules Rules of the type pushed to this worker.
# TYPE ngxtasks_worker_rules gauge
ngxtasks_worker_rules{type="normal",worker="w"} 1
ngxtasks_worker_rules{type="preemption",worker="w"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ngxtasks_worker_rules"); err != nil {
		t.Error(err)
	}
	mfs := gather(t, c)
	if ms := find(mfs["ngxtasks_worker_runs_total"], map[string]string{"result": "success", "type": "normal"}); len(ms) != 1 || ms[0].GetCounter().GetValue() != 2 {
		t.Errorf("successful normal runs after b's removal: %v, want one series of 2", ms)
	}
}

// tokyo is a stand-in for a calendar schedule: every hour, in Asia/Tokyo.
type tokyo struct{ loc *time.Location }

func (z tokyo) Slot(t time.Time) ngxtasks.Slot {
	start := t.Truncate(time.Hour)
	return ngxtasks.Slot{N: start.Unix() / 3600, Start: start, End: start.Add(time.Hour)}
}
func (z tokyo) SlotName(s ngxtasks.Slot) string { return s.Start.In(z.loc).Format(time.RFC3339) }
func (z tokyo) String() string                  { return "@hourly Asia/Tokyo" }
func (z tokyo) Location() *time.Location        { return z.loc }

// TestRuleInfoNamesAScheduleAndItsZone: a rule on a schedule has its text
// and zone in rule_info, and no interval series; a rule on an interval has
// them empty.
func TestRuleInfoNamesAScheduleAndItsZone(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip(err)
	}
	m := newManager(t, "w1", nil, newFakeClock(time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)),
		ngxtasks.Rule{Identifier: "cal", Schedule: tokyo{loc}, Type: ngxtasks.Normal, Callback: succeed},
		ngxtasks.Rule{Identifier: "iv", Interval: time.Minute, Type: ngxtasks.Normal, Callback: succeed},
	)
	mfs := gather(t, newCollector(t, metrics.Options{AllRules: true}, m))
	for rule, want := range map[string]map[string]string{
		"cal": {"schedule": "@hourly Asia/Tokyo", "zone": "Asia/Tokyo"},
		"iv":  {"schedule": "", "zone": ""},
	} {
		want["rule"] = rule
		if got := find(mfs["ngxtasks_rule_info"], want); len(got) != 1 {
			t.Errorf("rule_info of %s with %v: %d series", rule, want, len(got))
		}
	}
	if got := find(mfs["ngxtasks_rule_interval_seconds"], map[string]string{"rule": "cal"}); len(got) != 0 {
		t.Errorf("a rule on a schedule has %d interval series, want none", len(got))
	}
	if got := find(mfs["ngxtasks_rule_interval_seconds"], map[string]string{"rule": "iv"}); len(got) != 1 {
		t.Errorf("a rule on an interval has %d interval series, want one", len(got))
	}
}

func TestRetriesAreCountedApartAndInTheRuns(t *testing.T) {
	m := newManager(t, "w", nil, newFakeClock(slot0))
	if err := m.Push(ngxtasks.Rule{Identifier: "flaky", Interval: time.Hour, Type: ngxtasks.Normal,
		Retry:    &ngxtasks.Retry{Attempts: 2, Backoff: time.Millisecond},
		Callback: func(context.Context, ngxtasks.Firing) error { return errors.New("fails") }}); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, metrics.Options{AllRules: true}, m)
	_ = m.Run(context.Background())
	want := `
# HELP ngxtasks_retries_total Runs of the rule in this worker that were a failed run's retry (its Retry policy); runs_total counts them too. Absent until the first retry.
# TYPE ngxtasks_retries_total counter
ngxtasks_retries_total{rule="flaky",worker="w"} 2
# HELP ngxtasks_runs_total Runs of the rule in this worker that ended, by result: success, error (the callback returned an error), panic (recovered), timeout (outlived the rule's Timeout).
# TYPE ngxtasks_runs_total counter
ngxtasks_runs_total{result="error",rule="flaky",worker="w"} 3
ngxtasks_runs_total{result="success",rule="flaky",worker="w"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ngxtasks_retries_total", "ngxtasks_runs_total"); err != nil {
		t.Error(err)
	}
}

func TestPausedRuleHasItsGauge(t *testing.T) {
	m := newManager(t, "w", nil, newFakeClock(slot0))
	if err := m.Push(ngxtasks.Rule{Identifier: "p", Interval: time.Hour, Type: ngxtasks.Normal, Callback: func(context.Context, ngxtasks.Firing) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, metrics.Options{AllRules: true}, m)
	if n := testutil.CollectAndCount(c, "ngxtasks_rule_paused"); n != 0 {
		t.Errorf("%d paused series before the pause", n)
	}
	if err := m.Pause(context.Background(), "p", time.Time{}, "n"); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP ngxtasks_rule_paused 1 while the rule is paused fleet-wide (Pause), as this worker last read; absent otherwise.
# TYPE ngxtasks_rule_paused gauge
ngxtasks_rule_paused{rule="p",worker="w"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ngxtasks_rule_paused"); err != nil {
		t.Error(err)
	}
}
