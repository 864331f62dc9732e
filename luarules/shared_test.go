package luarules_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// TestSharedDictAcrossWorkers: ngx.shared.stats in 4 workers is one
// dictionary, the MemoryDict they share: incr counts every run (atomic
// among the workers of a File), add lets one worker in, values keep their
// Lua type, delete removes, and dictionaries are kept apart by name.
func TestSharedDictAcrossWorkers(t *testing.T) {
	f, err := luarules.Load("testdata/shared.lua", luarules.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	d := ngxtasks.NewMemoryDict()
	const workers, each = 4, 25
	var wg sync.WaitGroup
	for i := range workers {
		w, err := f.Worker(luarules.WorkerConfig{ID: i, Dict: d, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close() })
		cb := ruleOf(t, w, "count").Callback
		wg.Go(func() {
			for range each {
				if err := cb(context.Background(), ngxtasks.Firing{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	v, ok, err := d.Get(context.Background(), "ngxtasks:shared:stats:runs")
	if err != nil || !ok || v != "n:100" {
		t.Fatalf("runs = %q, %v, %v; want 100 increments", v, ok, err)
	}
	if _, ok, _ := d.Get(context.Background(), "ngxtasks:shared:other:runs"); ok {
		t.Fatal("ngx.shared.other holds stats's key")
	}
	// What one worker saw on its last run.
	w, err := f.Worker(luarules.WorkerConfig{ID: 9, Dict: d, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := ruleOf(t, w, "count").Callback(context.Background(), ngxtasks.Firing{}); err != nil {
		t.Fatal(err)
	}
	seen := luarules.Inspect(w, "count", "seen")
	want := map[string]any{"runs": 101.0, "first": false, "last": 9.0, "flag": true, "winner": seen["winner"]}
	if w, ok := seen["winner"].(float64); !ok || w < 0 || w > 3 {
		t.Errorf("first worker %v", seen["winner"])
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("seen[%s] = %v, want %v (all: %v)", k, seen[k], v, seen)
		}
	}
	if _, ok := seen["temp"]; ok {
		t.Errorf("temp survived delete: %v", seen)
	}
	if _, ok := seen["other"]; ok {
		t.Errorf("ngx.shared.other: %v", seen)
	}
}

// TestFilterVetoes: a Lua filter returning false keeps a Preemption rule
// from claiming and running its slot.
func TestFilterVetoes(t *testing.T) {
	_, w := loadWorker(t, "testdata/shared.lua", luarules.WorkerConfig{Logger: quiet()})
	r := ruleOf(t, w, "filtered")
	if r.Filter == nil {
		t.Fatal("no Filter")
	}
	if r.Filter(context.Background(), ngxtasks.Firing{}) {
		t.Fatal("filter allowed")
	}
	d := ngxtasks.NewMemoryDict()
	m := &ngxtasks.Manager{Dict: d, Logger: quiet()}
	shutdown(t, m)
	rs := newRuns()
	var skipped []ngxtasks.SkipReason
	var mu sync.Mutex
	m.Observer = func(ev ngxtasks.Event) {
		rs.observe(ev)
		if ev.Kind == ngxtasks.EventSkipped {
			mu.Lock()
			skipped = append(skipped, ev.Reason)
			mu.Unlock()
		}
	}
	if err := m.Push(r); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rs.n) != 0 || len(skipped) != 1 || skipped[0] != ngxtasks.SkipFiltered {
		t.Fatalf("runs %v, skipped %v", rs.n, skipped)
	}
}
