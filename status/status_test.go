package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// t0 starts a 10-second slot (slots count from the Unix epoch).
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// n0 is the number of t0's slot for a 10-second rule.
var n0 = t0.Unix() / 10

// fakeClock is a settable clock for the managers and their dictionary.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time             { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time)            { c.ns.Store(t.UnixNano()) }
func quiet() *slog.Logger                       { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func stamp(t time.Time) string                  { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }
func f64(v float64) *float64                    { return &v }
func at(d time.Duration) time.Time              { return t0.Add(d) }
func ok(context.Context, ngxtasks.Firing) error { return nil }

// rulesUnderTest are pushed to every worker of the fleet: one rule for
// each state but running, and one Preemption rule.
func rulesUnderTest() []ngxtasks.Rule {
	every := 10 * time.Second
	return []ngxtasks.Rule{
		{Identifier: "ok", Name: "succeeds", Interval: every, Type: ngxtasks.Normal, Callback: ok},
		{Identifier: "bad", Name: "fails", Interval: every, Type: ngxtasks.Normal,
			Callback: func(context.Context, ngxtasks.Firing) error { return errors.New("boom") }},
		{Identifier: "panics", Interval: every, Type: ngxtasks.Normal,
			Callback: func(context.Context, ngxtasks.Firing) error { panic("oops") }},
		{Identifier: "slow", Interval: every, Type: ngxtasks.Normal, Timeout: time.Millisecond,
			Callback: func(ctx context.Context, _ ngxtasks.Firing) error { <-ctx.Done(); return ctx.Err() }},
		{Identifier: "pre", Name: "one worker", Interval: every, Type: ngxtasks.Preemption, Callback: ok},
		{Identifier: "filtered", Interval: every, Type: ngxtasks.Normal, Callback: ok,
			Filter: func(context.Context, ngxtasks.Firing) bool { return false }},
		{Identifier: "timer-only", Interval: every, Type: ngxtasks.Normal, Callback: ok, Drive: ngxtasks.DriveTimer},
	}
}

// fleet is two workers, w1 and w2, sharing a dictionary and a fake clock,
// driven by hand through four slots of every rule:
//
//	slot  clock    steps    pre: w1   w2
//	n0    +1s      w1, w2        won  lost
//	n0+1  +13s     w2, w1        lost won
//	n0+2  +22s     w1            won  -
//	n0+3  +34s     w1, w2        won  lost
//
// so w1 runs at lateness 1, 3, 2, 4 s and w2 at 1, 3, 4 s.
func fleet(t *testing.T) (w1, w2 *ngxtasks.Manager) {
	t.Helper()
	clock := &fakeClock{}
	clock.Set(t0)
	dict := ngxtasks.NewMemoryDict()
	dict.Clock = clock
	t.Cleanup(func() { dict.Close() })
	w1 = &ngxtasks.Manager{Dict: dict, Clock: clock, Worker: "w1", Logger: quiet()}
	w2 = &ngxtasks.Manager{Dict: dict, Clock: clock, Worker: "w2", Logger: quiet()}
	for _, m := range []*ngxtasks.Manager{w1, w2} {
		if err := m.Push(rulesUnderTest()...); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, step := range []struct {
		at  time.Duration
		run []*ngxtasks.Manager
	}{
		{1 * time.Second, []*ngxtasks.Manager{w1, w2}},
		{13 * time.Second, []*ngxtasks.Manager{w2, w1}},
		{22 * time.Second, []*ngxtasks.Manager{w1}},
		{34 * time.Second, []*ngxtasks.Manager{w1, w2}},
	} {
		clock.Set(at(step.at))
		for _, m := range step.run {
			_ = m.Run(ctx) // the failing rules' errors
		}
	}
	return w1, w2
}

// get serves one request through h.
func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// decode reads a JSON answer with status code want into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, want int, v any) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
}

func statusOf(t *testing.T, h http.Handler, target string) status.Status {
	t.Helper()
	var doc status.Status
	decode(t, get(t, h, target), http.StatusOK, &doc)
	if doc.Schema != status.Schema {
		t.Errorf("schema %q", doc.Schema)
	}
	return doc
}

// row finds the row of (id, worker).
func row(t *testing.T, doc status.Status, id, worker string) status.Rule {
	t.Helper()
	for _, r := range doc.Rules {
		if r.Identifier == id && r.Worker == worker {
			return r
		}
	}
	t.Fatalf("no row (%s, %s) in %d rows", id, worker, len(doc.Rules))
	return status.Rule{}
}

// TestStatusRulesRowsMatchWhatTheFleetDid checks every field of the rows
// against what the fleet did: outcomes, counters, skips by reason, states,
// the last winner and the lateness quantiles.
func TestStatusRulesRowsMatchWhatTheFleetDid(t *testing.T) {
	w1, w2 := fleet(t)
	doc := statusOf(t, status.New(status.Options{}, w1, w2), "/status.json")

	if len(doc.Rules) != 14 {
		t.Fatalf("%d rows, want 7 rules × 2 workers", len(doc.Rules))
	}
	for i := 1; i < len(doc.Rules); i++ {
		a, b := doc.Rules[i-1], doc.Rules[i]
		if a.Identifier > b.Identifier || a.Identifier == b.Identifier && a.Worker >= b.Worker {
			t.Errorf("rows %d and %d out of order: (%s, %s), (%s, %s)", i-1, i, a.Identifier, a.Worker, b.Identifier, b.Worker)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, doc.Generated); err != nil {
		t.Errorf("generated %q: %v", doc.Generated, err)
	}

	base := func(id, name, worker string) status.Rule {
		return status.Rule{Identifier: id, Name: name, Type: "normal", Interval: 10, IntervalText: "10s", Drive: "any",
			Worker: worker, NextDue: stamp(at(40 * time.Second)), SkipsBy: map[string]int64{}}
	}
	last := func(n int64, outcome string, won bool) *status.LastSlot {
		return &status.LastSlot{N: n0 + n, Start: stamp(at(time.Duration(n) * 10 * time.Second)), Outcome: outcome, Won: won}
	}
	want := map[[2]string]status.Rule{}
	add := func(r status.Rule) { want[[2]string{r.Identifier, r.Worker}] = r }

	r := base("ok", "succeeds", "w1")
	r.State, r.LastSlot, r.Runs, r.Succeeded, r.LastResult = "ok", last(3, "succeeded", false), 4, 4, "succeeded"
	r.LatenessP50, r.LatenessP99 = f64(2), f64(4) // of 1, 3, 2, 4
	add(r)
	r = base("ok", "succeeds", "w2")
	r.State, r.LastSlot, r.Runs, r.Succeeded, r.LastResult = "ok", last(3, "succeeded", false), 3, 3, "succeeded"
	r.LatenessP50, r.LatenessP99 = f64(3), f64(4) // of 1, 3, 4
	add(r)

	r = base("bad", "fails", "w1")
	r.State, r.LastSlot, r.Runs, r.Failed, r.Errors = "failing", last(3, "failed", false), 4, 4, 4
	r.LastResult, r.LastError = "failed", "boom"
	r.LatenessP50, r.LatenessP99 = f64(2), f64(4)
	add(r)
	r = base("bad", "fails", "w2")
	r.State, r.LastSlot, r.Runs, r.Failed, r.Errors = "failing", last(3, "failed", false), 3, 3, 3
	r.LastResult, r.LastError = "failed", "boom"
	r.LatenessP50, r.LatenessP99 = f64(3), f64(4)
	add(r)

	r = base("panics", "", "w1")
	r.State, r.LastSlot, r.Runs, r.Panicked, r.Errors = "failing", last(3, "panicked", false), 4, 4, 4
	r.LastResult, r.LastError = "panicked", "SET BELOW"
	r.LatenessP50, r.LatenessP99 = f64(2), f64(4)
	add(r)
	r = base("slow", "", "w1")
	r.State, r.LastSlot, r.Runs, r.TimedOut, r.Errors = "failing", last(3, "timed out", false), 4, 4, 4
	r.LastResult, r.LastError = "timed out", "SET BELOW"
	r.LatenessP50, r.LatenessP99 = f64(2), f64(4)
	add(r)

	r = base("filtered", "", "w1")
	r.State, r.LastSlot, r.Skips, r.SkipsBy, r.LastSkip = "skipping", last(3, "skipped", false), 4, map[string]int64{"filtered": 4}, "filtered"
	r.LastSlot.Reason = "filtered"
	add(r)
	r = base("filtered", "", "w2")
	r.State, r.LastSlot, r.Skips, r.SkipsBy, r.LastSkip = "skipping", last(3, "skipped", false), 3, map[string]int64{"filtered": 3}, "filtered"
	r.LastSlot.Reason = "filtered"
	add(r)

	// A rule kept to the timer loop never runs under Run: idle, no slot,
	// no lateness, due since it was pushed.
	for _, w := range []string{"w1", "w2"} {
		r = base("timer-only", "", w)
		r.Drive, r.State, r.NextDue = "timer", "idle", stamp(t0)
		add(r)
	}

	// w1 won slots n0, n0+2 and n0+3 and lost n0+1; w2 won n0+1 and lost
	// n0 and n0+3. The newest slot is n0+3, won by w1: both rows say so.
	r = base("pre", "one worker", "w1")
	r.Type, r.State, r.LastSlot, r.LastWinner = "preemption", "ok", last(3, "succeeded", true), "w1"
	r.Runs, r.Succeeded, r.LastResult, r.Won, r.Lost = 3, 3, "succeeded", 3, 1
	r.LatenessP50, r.LatenessP99 = f64(2), f64(4) // of 1, 2, 4
	add(r)
	r = base("pre", "one worker", "w2")
	r.Type, r.State, r.LastSlot, r.LastWinner = "preemption", "ok", last(3, "lost", false), "w1"
	r.Runs, r.Succeeded, r.LastResult, r.Won, r.Lost = 1, 1, "succeeded", 1, 2
	r.LatenessP50, r.LatenessP99 = f64(3), f64(3)
	add(r)

	for _, got := range doc.Rules {
		w, ok := want[[2]string{got.Identifier, got.Worker}]
		if !ok {
			continue // panics and slow in w2: as in w1, checked there
		}
		// Runs start and end by the real clock: present, and RFC 3339.
		for name, v := range map[string]string{"last_start": got.LastStart, "last_success": got.LastSuccess} {
			ran := got.Runs > 0
			if name == "last_success" {
				ran = got.Succeeded > 0
			}
			if _, err := time.Parse(time.RFC3339Nano, v); ran && err != nil || !ran && v != "" {
				t.Errorf("%s/%s: %s = %q", got.Identifier, got.Worker, name, v)
			}
		}
		got.LastStart, got.LastSuccess = "", ""
		if w.LastError == "SET BELOW" {
			w.LastError = got.LastError
		}
		if !reflect.DeepEqual(got, w) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(w)
			t.Errorf("%s/%s:\n got %s\nwant %s", got.Identifier, got.Worker, gj, wj)
		}
	}
	if e := row(t, doc, "panics", "w1").LastError; !strings.Contains(e, "oops") {
		t.Errorf("panics: last_error %q, want the panic's value", e)
	}
	if e := row(t, doc, "slow", "w1").LastError; !strings.Contains(e, "timeout") && !strings.Contains(e, "timed out") {
		t.Errorf("slow: last_error %q, want a timeout", e)
	}

	// Seen from w2 alone, the newest slot went to a worker outside the
	// view: no last winner.
	alone := statusOf(t, status.New(status.Options{}, w2), "/status.json")
	if r := row(t, alone, "pre", "w2"); r.LastWinner != "" {
		t.Errorf("pre seen from w2 alone: last_winner %q, want none", r.LastWinner)
	}
}

// TestStatusListsEachManagerAsAWorkerWithItsHealth: each Manager is a
// worker, with its Health.
func TestStatusListsEachManagerAsAWorkerWithItsHealth(t *testing.T) {
	w1, w2 := fleet(t)
	doc := statusOf(t, status.New(status.Options{}, w2, w1), "/status.json")
	want := []status.Worker{
		{Worker: "w1", Source: "local", Rules: 7, FirstStep: stamp(at(time.Second))},
		{Worker: "w2", Source: "local", Rules: 7, FirstStep: stamp(at(time.Second))},
	}
	// MemoryDict tells the time: the offset was measured.
	for i := range doc.Workers {
		if doc.Workers[i].ClockMeasured == "" {
			t.Errorf("%s: clock not measured", doc.Workers[i].Worker)
		}
		doc.Workers[i].ClockMeasured = ""
	}
	if !reflect.DeepEqual(doc.Workers, want) {
		t.Errorf("workers\n got %+v\nwant %+v", doc.Workers, want)
	}
	if len(doc.Peers) != 0 {
		t.Errorf("peers %+v, want none", doc.Peers)
	}
}

// TestStatusShowsARunningRuleAndItsNewestSlotRunning: a rule whose run is
// going on is running, and so is its newest slot.
func TestStatusShowsARunningRuleAndItsNewestSlotRunning(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	m := &ngxtasks.Manager{Worker: "w", Logger: quiet()}
	err := m.Push(ngxtasks.Rule{Identifier: "long", Interval: time.Hour, Type: ngxtasks.Normal,
		Callback: func(context.Context, ngxtasks.Firing) error { close(entered); <-release; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- m.Run(context.Background()) }()
	<-entered
	h := status.New(status.Options{}, m)
	r := row(t, statusOf(t, h, "/status.json"), "long", "w")
	if r.State != "running" || !r.Running || r.LastSlot == nil || r.LastSlot.Outcome != "running" || r.Runs != 1 {
		t.Errorf("while it runs: state %q, running %v, last slot %+v, runs %d", r.State, r.Running, r.LastSlot, r.Runs)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := row(t, statusOf(t, h, "/status.json"), "long", "w"); r.State != "ok" || r.Running {
		t.Errorf("after: state %q, running %v", r.State, r.Running)
	}
}

// TestHistoryListsSlotsWithTheirWinners: history.json lists each worker's
// slots newest first, with the winner of every lost slot: from the other
// worker's history when it is in the view, from the dictionary (Explain) for
// the newest lost slot.
func TestHistoryListsSlotsWithTheirWinners(t *testing.T) {
	w1, w2 := fleet(t)
	h := status.New(status.Options{}, w1, w2)
	var doc status.History
	decode(t, get(t, h, "/history.json?rule=pre"), http.StatusOK, &doc)
	if doc.Schema != status.Schema || doc.Rule != "pre" || len(doc.Workers) != 2 {
		t.Fatalf("schema %q rule %q, %d workers", doc.Schema, doc.Rule, len(doc.Workers))
	}
	type slot struct {
		n       int64
		outcome string
		won     bool
		winner  string
		late    float64
	}
	brief := func(wh status.WorkerHistory) []slot {
		var out []slot
		for _, s := range wh.Slots {
			out = append(out, slot{s.N - n0, s.Outcome, s.Won, s.Winner, s.Lateness})
		}
		return out
	}
	if w := doc.Workers[0]; w.Worker != "w1" || w.Source != "local" || w.Type != "preemption" || w.Interval != 10 {
		t.Errorf("first worker %+v", w)
	}
	want1 := []slot{{3, "succeeded", true, "", 4}, {2, "succeeded", true, "", 2}, {1, "lost", false, "w2", 0}, {0, "succeeded", true, "", 1}}
	want2 := []slot{{3, "lost", false, "w1", 0}, {1, "succeeded", true, "", 3}, {0, "lost", false, "w1", 0}}
	if got := brief(doc.Workers[0]); !reflect.DeepEqual(got, want1) {
		t.Errorf("w1 slots\n got %+v\nwant %+v", got, want1)
	}
	if got := brief(doc.Workers[1]); !reflect.DeepEqual(got, want2) {
		t.Errorf("w2 slots\n got %+v\nwant %+v", got, want2)
	}
	s := doc.Workers[0].Slots[0]
	if s.Start != stamp(at(30*time.Second)) || s.End != stamp(at(40*time.Second)) || s.RunStart != stamp(at(34*time.Second)) || s.Reason != "" {
		t.Errorf("w1's newest slot %+v", s)
	}
	// w2's newest lost slot (n0+3, claimed at +34 s) still has its claim:
	// the dictionary names w1. w1's (n0+1, claimed at +13 s by w2) expired
	// at +28 s (claims live Interval + SkewTolerance).
	if x := doc.Workers[1].NewestLost; x == nil || x.N != n0+3 || !x.WinnerKnown || x.Winner != "w1" || !strings.Contains(x.Why, "w1") {
		t.Errorf("w2's newest lost: %+v", x)
	}
	if x := doc.Workers[0].NewestLost; x == nil || x.N != n0+1 || x.WinnerKnown || x.Why == "" {
		t.Errorf("w1's newest lost: %+v", x)
	}

	// w2 alone: w1 is not in the view, so only the dictionary names the
	// winner, of the newest lost slot.
	doc = status.History{}
	decode(t, get(t, h, "/history.json?rule=pre&worker=w2"), http.StatusOK, &doc)
	want2 = []slot{{3, "lost", false, "w1", 0}, {1, "succeeded", true, "", 3}, {0, "lost", false, "", 0}}
	if len(doc.Workers) != 1 || !reflect.DeepEqual(brief(doc.Workers[0]), want2) {
		t.Errorf("worker=w2: %+v, want %+v", doc.Workers, want2)
	}

	// A skip says why.
	doc = status.History{}
	decode(t, get(t, h, "/history.json?rule=filtered&worker=w1"), http.StatusOK, &doc)
	if n := len(doc.Workers[0].Slots); n != 4 {
		t.Fatalf("filtered: %d slots", n)
	}
	for _, s := range doc.Workers[0].Slots {
		if s.Outcome != "skipped" || s.Reason != "filtered" || s.RunStart != "" {
			t.Errorf("filtered slot %+v", s)
		}
	}
	if doc.Workers[0].NewestLost != nil {
		t.Errorf("a Normal rule has no lost slot: %+v", doc.Workers[0].NewestLost)
	}

	for target, names := range map[string]string{"/history.json?rule=nope": `"nope"`, "/history.json?rule=pre&worker=w9": `"w9"`} {
		var e status.Error
		decode(t, get(t, h, target), http.StatusNotFound, &e)
		if e.Schema != status.Schema || !strings.Contains(e.Error, names) {
			t.Errorf("%s: %+v, want an error naming %s", target, e, names)
		}
	}
	var e status.Error
	decode(t, get(t, h, "/history.json"), http.StatusBadRequest, &e)
}

// hourly is a stand-in for a calendar schedule: every hour on the hour, in
// Europe/Berlin.
type hourly struct{ loc *time.Location }

func (h hourly) Slot(t time.Time) ngxtasks.Slot {
	start := t.Truncate(time.Hour)
	return ngxtasks.Slot{N: start.Unix() / 3600, Start: start, End: start.Add(time.Hour)}
}
func (h hourly) SlotName(s ngxtasks.Slot) string { return s.Start.In(h.loc).Format(time.RFC3339) }
func (h hourly) String() string                  { return "0 * * * * Europe/Berlin" }
func (h hourly) Location() *time.Location        { return h.loc }

// TestStatusShowsASchedulesTextZoneAndLocalNextDue: a rule with a Schedule
// shows the schedule as written where an interval would be, its zone, and
// its next due time in that zone as well as in UTC.
func TestStatusShowsASchedulesTextZoneAndLocalNextDue(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	clock := &fakeClock{}
	clock.Set(time.Date(2026, 12, 7, 10, 20, 0, 0, time.UTC))
	m := &ngxtasks.Manager{Clock: clock, Worker: "w1", Logger: quiet()}
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	err = m.Push(ngxtasks.Rule{Identifier: "cal", Schedule: ngxtasks.Jittered(hourly{berlin}, time.Second, "cal"), Type: ngxtasks.Normal,
		Callback: func(context.Context, ngxtasks.Firing) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	doc := statusOf(t, status.New(status.Options{}, m), "/status.json")
	r := doc.Rules[0]
	next := ngxtasks.Jittered(hourly{berlin}, time.Second, "cal").Slot(clock.Now()).End
	if r.Schedule != "0 * * * * Europe/Berlin jitter 1s" || r.IntervalText != r.Schedule || r.Interval != 0 || r.Zone != "Europe/Berlin" ||
		r.NextDue != stamp(next) || r.NextDueLocal != next.In(berlin).Format("2006-01-02T15:04:05.000000Z07:00") {
		t.Fatalf("row %+v", r)
	}
	if !strings.HasSuffix(r.NextDueLocal, "+01:00") {
		t.Fatalf("next_due_local %q, want Berlin's winter offset", r.NextDueLocal)
	}
}

// TestStatusShowsAPausedRule: a paused rule's row says paused, by whom and
// why, and stops saying so once resumed.
func TestStatusShowsAPausedRule(t *testing.T) {
	m := &ngxtasks.Manager{Worker: "w", Logger: quiet()}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Hour, Type: ngxtasks.Normal,
		Callback: func(context.Context, ngxtasks.Firing) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	h := status.New(status.Options{}, m)
	if err := m.Pause(ngxtasks.WithOrigin(context.Background(), "ops"), "r", time.Time{}, "migrating"); err != nil {
		t.Fatal(err)
	}
	r := row(t, statusOf(t, h, "/status.json"), "r", "w")
	if r.State != "paused" || r.Paused == nil || r.Paused.Origin != "ops" || r.Paused.Note != "migrating" || r.Paused.Until != "" {
		t.Errorf("paused row: state %q, paused %+v", r.State, r.Paused)
	}
	if err := m.Resume(context.Background(), "r", ""); err != nil {
		t.Fatal(err)
	}
	if r := row(t, statusOf(t, h, "/status.json"), "r", "w"); r.State == "paused" || r.Paused != nil {
		t.Errorf("resumed row: state %q, paused %+v", r.State, r.Paused)
	}
}
