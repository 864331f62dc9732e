package luarules_test

import (
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// TestKeysMatchMidnightKeys: a Lua generator that counts slots from
// midnight, the original's default, gives the slots (numbers, starts,
// ends, the short last slot of the day) and keys of ngxtasks.MidnightKeys,
// for 7 s and 0.3 s rules, at instants around midnight and within the day.
func TestKeysMatchMidnightKeys(t *testing.T) {
	_, w := loadWorker(t, "testdata/midnight_keys.lua", luarules.WorkerConfig{Logger: quiet()})
	k := w.Keys()
	if k == nil {
		t.Fatal("no Keys")
	}
	want := ngxtasks.MidnightKeys{Location: time.UTC}
	midnight := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	for _, r := range w.Rules() {
		for _, at := range []time.Duration{
			-10 * time.Second, -3 * time.Second, -time.Millisecond, 0, time.Millisecond,
			6999 * time.Millisecond, 7 * time.Second, 300 * time.Millisecond, 13*time.Hour + 17*time.Minute + 123*time.Millisecond,
		} {
			tm := midnight.Add(at)
			got, exp := k.Slot(&r, tm), want.Slot(&r, tm)
			// Lua's float arithmetic on now (about 1.8e9 s) puts a
			// boundary of the 0.3 s rule up to a millisecond off; every
			// worker computes it alike. The 7 s rule's are exact.
			tol := time.Duration(0)
			if r.Identifier == "fast" {
				tol = time.Millisecond
			}
			near := func(a, b time.Time) bool { return a.Sub(b) <= tol && b.Sub(a) <= tol }
			if tol > 0 && tm.Sub(exp.Start) <= tol {
				continue // on a boundary, where either side is right
			}
			if got.N != exp.N || !near(got.Start, exp.Start) || !near(got.End, exp.End) {
				t.Errorf("%s at %v: slot %d [%v, %v), want %d [%v, %v)", r.Identifier, tm, got.N, got.Start, got.End, exp.N, exp.Start, exp.End)
			}
			if g, e := k.Name(&r, got), want.Name(&r, got); g != e {
				t.Errorf("%s at %v: key %q, want %q", r.Identifier, tm, g, e)
			}
		}
	}
}

// TestKeysFailingLaterFallsBack: a generator that fails after load is
// logged once per rule, and the rule's slots are then the epoch grid's:
// the manager goes on.
func TestKeysFailingLaterFallsBack(t *testing.T) {
	log := &logged{}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f, err := luarules.Load("testdata/keys_breaks.lua", luarules.Options{Logger: quiet(), Globals: map[string]any{"global_start_time": base.Unix()}})
	if err == nil {
		t.Fatalf("loaded with a generator failing now: %+v", f.Rules())
	}
	// Loaded while it still works, then asked about a later time.
	f, err = luarules.Load("testdata/keys_breaks.lua", luarules.Options{Logger: quiet(), Globals: map[string]any{"global_start_time": time.Now().Unix()}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Worker(luarules.WorkerConfig{Logger: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r := w.Rules()[0]
	late := time.Now().Add(30 * 24 * time.Hour)
	for range 3 {
		if got, want := w.Keys().Slot(&r, late), (ngxtasks.EpochKeys{}).Slot(&r, late); got != want {
			t.Fatalf("fallback slot %+v, want %+v", got, want)
		}
	}
	if recs := log.all(); len(recs) != 1 || recs[0].attrs["rule"] != "k" {
		t.Errorf("logged %+v", recs)
	}
	now := time.Now()
	if s := w.Keys().Slot(&r, now); s.End.Sub(s.Start) != time.Second {
		t.Errorf("slot now %+v", s)
	}
}
