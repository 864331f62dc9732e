package luarules_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// The seed's README snippets are in testdata/seed, copied verbatim:
// base_usage.lua, rules_import.lua, rule_example.lua, rules.lua (DING/DONG)
// and keys.lua. Two of them hold a placeholder line "..." that is not Lua
// (base_usage.lua, rule_example.lua): they are refused with that line,
// and *_completed.lua are them without it. dingdong_keys.lua is the glue
// nginx.conf would hold: require('rules') and require('keys').

// TestSeedSnippetsLoad: every snippet of the seed loads unchanged, with
// the rules the README gives it, and its callbacks run.
func TestSeedSnippetsLoad(t *testing.T) {
	ding := luarules.RuleInfo{Identifier: "TRYDING", Interval: 10 * time.Second, Type: ngxtasks.Normal, File: "testdata/seed/rules.lua", Line: 7}
	dong := luarules.RuleInfo{Identifier: "TRYDONG", Interval: time.Minute, Type: ngxtasks.Preemption, File: "testdata/seed/rules.lua", Line: 13}
	testDing := func(file string, line int) luarules.RuleInfo {
		return luarules.RuleInfo{Identifier: "testDing", Name: "test ding", Interval: time.Minute, Type: ngxtasks.Normal, File: file, Line: line}
	}
	for _, tc := range []struct {
		file  string
		rules []luarules.RuleInfo
		keys  bool
		dict  string
	}{
		{"rules.lua", []luarules.RuleInfo{ding, dong}, false, "PreemptionTasks"},
		{"rules_import.lua", []luarules.RuleInfo{ding, dong}, false, "your_shared_dict_config_in_<nginx.conf>"},
		{"dingdong_keys.lua", []luarules.RuleInfo{ding, dong}, true, "PreemptionTasks"},
		{"rule_example_completed.lua", []luarules.RuleInfo{testDing("testdata/seed/rule_example_completed.lua", 5)}, false, "PreemptionTasks"},
		{"base_usage_completed.lua", []luarules.RuleInfo{testDing("testdata/seed/base_usage_completed.lua", 6)}, false, "your_shared_dict_config_in_<nginx.conf>"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := luarules.Load("testdata/seed/"+tc.file, luarules.Options{Globals: map[string]any{"global_start_time": t0}})
			if err != nil {
				t.Fatal(err)
			}
			got := f.Rules()
			if fmt.Sprint(got) != fmt.Sprint(tc.rules) {
				t.Errorf("rules\n got %+v\nwant %+v", got, tc.rules)
			}
			if f.HasKeys() != tc.keys || f.DictName() != tc.dict {
				t.Errorf("keys %v, dict %q; want %v, %q", f.HasKeys(), f.DictName(), tc.keys, tc.dict)
			}
			// And each callback runs, logging what the seed's logs.
			log := &logged{}
			w, err := f.Worker(luarules.WorkerConfig{Logger: log.logger()})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			var want []string
			for _, r := range w.Rules() {
				if err := r.Callback(context.Background(), ngxtasks.Firing{}); err != nil {
					t.Fatal(err)
				}
				if r.Identifier == "testDing" {
					want = append(want, "DING")
				} else {
					want = append(want, r.Identifier)
				}
			}
			var msgs []string
			for _, r := range log.all() {
				msgs = append(msgs, r.msg)
			}
			if fmt.Sprint(msgs) != fmt.Sprint(want) {
				t.Errorf("logged %v, want %v", msgs, want)
			}
		})
	}
	// A fingerprint per set of sources.
	a, _ := luarules.Load("testdata/seed/rules.lua", luarules.Options{})
	b, _ := luarules.Load("testdata/seed/rules.lua", luarules.Options{})
	c, _ := luarules.Load("testdata/seed/rules_import.lua", luarules.Options{})
	if a.Fingerprint() == "" || a.Fingerprint() != b.Fingerprint() || a.Fingerprint() == c.Fingerprint() {
		t.Errorf("fingerprints %q %q %q", a.Fingerprint(), b.Fingerprint(), c.Fingerprint())
	}
	// The snippets with a placeholder line: refused at that line.
	for file, line := range map[string]int{"base_usage.lua": 4, "rule_example.lua": 21} {
		_, err := luarules.Load("testdata/seed/"+file, luarules.Options{})
		var le *luarules.Error
		if !errors.As(err, &le) || le.Line != line || !strings.Contains(le.Msg, "syntax error") {
			t.Errorf("%s: %v; want a syntax error at line %d (the placeholder \"...\")", file, err, line)
		}
	}
}

// TestSeedDingDong_InProcess: the seed's DING/DONG rules, unchanged, in 4
// workers of one process (a Manager and a Lua state each) sharing a
// MemoryDict, driven by Run on a fake clock through 10 minutes, every
// worker stepping at once on its own goroutine. TRYDING runs once per 10 s
// slot in every worker, TRYDONG once per minute across them, and the
// callbacks' ngx.log(ngx.ALERT, self.identifier) reach slog with the rule.
// With the seed's keys generator (dingdong_keys.lua), slots are counted
// from global_start_time and claimed under the generator's key.
func TestSeedDingDong_InProcess(t *testing.T) {
	for _, file := range []string{"rules.lua", "rules_import.lua", "dingdong_keys.lua"} {
		t.Run(file, func(t *testing.T) {
			const workers = 4
			base := t0.Add(-7 * time.Second) // global_start_time: slots are off the minute grid
			clock := newFakeClock(t0)
			d := &ngxtasks.MemoryDict{Clock: clock}
			f, err := luarules.Load("testdata/seed/"+file, luarules.Options{Globals: map[string]any{"global_start_time": base}})
			if err != nil {
				t.Fatal(err)
			}
			log := &logged{}
			rs := newRuns()
			ms := make([]*ngxtasks.Manager, workers)
			for i := range ms {
				w, err := f.Worker(luarules.WorkerConfig{ID: i, Dict: d, Logger: log.logger().With("worker", i), Clock: clock})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = w.Close() })
				if (w.Keys() != nil) != f.HasKeys() {
					t.Fatalf("Keys() = %v with HasKeys %v", w.Keys(), f.HasKeys())
				}
				ms[i] = &ngxtasks.Manager{Dict: d, Keys: w.Keys(), Worker: fmt.Sprintf("w%d", i), Clock: clock, Logger: quiet(), Observer: rs.observe}
				shutdown(t, ms[i])
				if err := ms[i].Push(w.Rules()...); err != nil {
					t.Fatal(err)
				}
			}
			const step = 500 * time.Millisecond
			end := t0.Add(10 * time.Minute)
			for clock.Now().Before(end) {
				var wg sync.WaitGroup
				for _, m := range ms {
					wg.Go(func() {
						if err := m.Run(context.Background()); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				clock.Add(step)
			}
			slotOf := func(id string, iv time.Duration, at time.Time) int64 {
				if f.HasKeys() { // the seed's generator: whole intervals since base_time
					return int64(math.Floor(at.Sub(base).Seconds() / iv.Seconds()))
				}
				return at.UnixNano() / int64(iv)
			}
			// Every slot that began after the first step and ended before the last.
			check := func(id string, iv time.Duration, perWorker bool) int {
				first, last := slotOf(id, iv, t0)+1, slotOf(id, iv, end)-1
				for s := first; s <= last; s++ {
					if perWorker {
						for i := range ms {
							if n := rs.count(id, s, fmt.Sprintf("w%d", i)); n != 1 {
								t.Errorf("%s slot %d ran %d times in worker %d, want 1", id, s, n, i)
							}
						}
					} else if n := rs.count(id, s, ""); n != 1 {
						t.Errorf("%s slot %d ran %d times across the workers, want 1", id, s, n)
					}
				}
				return int(last - first + 1)
			}
			if n := check("TRYDING", 10*time.Second, true); n < 55 {
				t.Errorf("checked %d TRYDING slots", n)
			}
			if n := check("TRYDONG", time.Minute, false); n < 8 {
				t.Errorf("checked %d TRYDONG slots", n)
			}
			if len(rs.errs) > 0 {
				t.Errorf("runs failed: %v", rs.errs)
			}
			// Every run logged its identifier at ALERT (slog's Error), from
			// the seed's dingdong function, line 2.
			lines := map[string]int{}
			for _, r := range log.all() {
				if r.level != 8 || r.attrs["ngx_level"] != "alert" || r.attrs["lua"] != "testdata/seed/rules.lua:2" || r.attrs["rule"] != r.msg {
					t.Fatalf("ngx.log record %+v", r)
				}
				lines[r.msg]++
			}
			total := func(id string) int {
				rs.mu.Lock()
				defer rs.mu.Unlock()
				n := 0
				for k, c := range rs.n {
					if k.rule == id {
						n += c
					}
				}
				return n
			}
			if lines["TRYDING"] != total("TRYDING") || lines["TRYDONG"] != total("TRYDONG") {
				t.Errorf("logged %v, ran TRYDING %d and TRYDONG %d times", lines, total("TRYDING"), total("TRYDONG"))
			}
			if f.HasKeys() {
				// Slots start on base_time's grid, and the claim is stored
				// under the generator's key, identifier .. 'Preemption'.
				rs.mu.Lock()
				for k, start := range rs.starts {
					iv := 10 * time.Second
					if k.rule == "TRYDONG" {
						iv = time.Minute
					}
					if want := base.Add(time.Duration(k.slot) * iv); !start.Equal(want) {
						t.Errorf("%s slot %d starts %v, want %v", k.rule, k.slot, start, want)
					}
				}
				rs.mu.Unlock()
				n := slotOf("TRYDONG", time.Minute, clock.Now())
				winner, ok, err := d.Get(context.Background(), fmt.Sprintf("ngxtasks:TRYDONGPreemption:%d", n))
				if err != nil || !ok || !strings.HasPrefix(winner, "w") {
					t.Errorf("claim of slot %d under the generator's key: %q, %v, %v", n, winner, ok, err)
				}
			}
		})
	}
}

// TestSeedDingDong_TimerLoops: the DING/DONG rules at 0.2 s with the
// seed's keys generator, in 3 in-process workers driven by their own
// timer loops (Manager.Start) on the real clock for 3 s, callbacks and
// slot arithmetic on the managers' goroutines: no DONG slot runs twice;
// every slot all workers drove ran (DONG once, DING in each worker) unless
// a worker reported it skipped.
func TestSeedDingDong_TimerLoops(t *testing.T) {
	const workers = 3
	f, err := luarules.Load("testdata/fast/main.lua", luarules.Options{Logger: quiet(), Globals: map[string]any{"global_start_time": time.Now().Add(-time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	d := ngxtasks.NewMemoryDict()
	rs := newRuns()
	var mu sync.Mutex
	skipped := map[runKey]bool{}
	first, last := map[string]int64{}, map[string]int64{}
	observe := func(ev ngxtasks.Event) {
		rs.observe(ev)
		mu.Lock()
		defer mu.Unlock()
		if ev.Kind == ngxtasks.EventSkipped {
			for n := range max(ev.Missed, 1) {
				skipped[runKey{ev.Rule.Identifier, ev.Slot.N + n, ev.Worker}] = true
			}
		}
		// A worker drove the slots from its first TRYDING event to its last.
		if ev.Rule.Identifier == "TRYDING" && (ev.Kind == ngxtasks.EventFinished || ev.Kind == ngxtasks.EventSkipped) {
			if f, ok := first[ev.Worker]; !ok || ev.Slot.N < f {
				first[ev.Worker] = ev.Slot.N
			}
			last[ev.Worker] = max(last[ev.Worker], ev.Slot.N)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range workers {
		w, err := f.Worker(luarules.WorkerConfig{ID: i, Dict: d, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		m := &ngxtasks.Manager{Dict: d, Keys: w.Keys(), Worker: fmt.Sprintf("w%d", i), Logger: quiet(), Observer: observe}
		if err := m.Push(w.Rules()...); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = m.Start(ctx) })
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = m.Shutdown(sctx)
		}()
	}
	<-ctx.Done()
	wg.Wait()
	if len(rs.errs) > 0 {
		t.Fatalf("runs failed: %v", rs.errs)
	}
	mu.Lock()
	defer mu.Unlock()
	lo, hi := int64(-1<<62), int64(1<<62)
	for i := range workers {
		name := fmt.Sprintf("w%d", i)
		if _, ok := first[name]; !ok {
			t.Fatalf("worker %s reported no TRYDING slot", name)
		}
		lo, hi = max(lo, first[name]+1), min(hi, last[name]-1)
	}
	checked := 0
	for s := lo; s <= hi; s++ {
		skippedAnywhere := false
		for i := range workers {
			name := fmt.Sprintf("w%d", i)
			skippedAnywhere = skippedAnywhere || skipped[runKey{"TRYDONG", s, name}]
			if n := rs.count("TRYDING", s, name); n != 1 && !skipped[runKey{"TRYDING", s, name}] {
				t.Errorf("TRYDING slot %d ran %d times in %s, not reported skipped", s, n, name)
			}
		}
		if n := rs.count("TRYDONG", s, ""); n > 1 || (n == 0 && !skippedAnywhere) {
			t.Errorf("TRYDONG slot %d ran %d times", s, n)
		}
		checked++
	}
	rs.mu.Lock()
	for k, n := range rs.n {
		if k.rule == "TRYDONG" && rs.countLocked("TRYDONG", k.slot) > 1 {
			t.Errorf("TRYDONG slot %d ran more than once (%d in %s)", k.slot, n, k.worker)
		}
	}
	rs.mu.Unlock()
	if checked < 5 {
		t.Errorf("only %d slots were driven by every worker", checked)
	}
}
