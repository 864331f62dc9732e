package metrics

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The Watch function runs on the path of every run: it must not allocate.
func TestObserveDoesNotAllocate(t *testing.T) {
	h := newHistograms()
	w := h.forWorker("w", "ngxtasks.MemoryDict")
	normal := &ngxtasks.Rule{Identifier: "n", Type: ngxtasks.Normal}
	preemption := &ngxtasks.Rule{Identifier: "p", Type: ngxtasks.Preemption}
	events := []ngxtasks.Event{
		{Kind: ngxtasks.EventFired, Rule: normal, Duration: time.Millisecond},
		{Kind: ngxtasks.EventFinished, Rule: normal, Duration: time.Millisecond},
		{Kind: ngxtasks.EventWon, Rule: preemption, Duration: time.Millisecond},
		{Kind: ngxtasks.EventFired, Rule: preemption, Duration: -time.Millisecond}, // counted as 0
		{Kind: ngxtasks.EventFinished, Rule: preemption, Duration: time.Millisecond},
		{Kind: ngxtasks.EventFinished, Rule: preemption, Err: errors.New("x")},
		{Kind: ngxtasks.EventFinished, Rule: preemption, Err: fmt.Errorf("run: %w", &ngxtasks.PanicError{})},
		{Kind: ngxtasks.EventFinished, Rule: preemption, Err: fmt.Errorf("run: %w", ngxtasks.ErrTimeout)},
		{Kind: ngxtasks.EventLost, Rule: preemption, Duration: time.Millisecond},
		{Kind: ngxtasks.EventSkipped, Rule: preemption, Reason: ngxtasks.SkipClaimError, Duration: time.Millisecond, Err: errors.New("x")},
		{Kind: ngxtasks.EventSkipped, Rule: preemption, Reason: ngxtasks.SkipLate, Duration: time.Millisecond},
		{Kind: ngxtasks.EventSkipped, Rule: preemption, Reason: ngxtasks.SkipLate},          // stale before its claim: no round trip
		{Kind: ngxtasks.EventSkipped, Rule: normal, Reason: ngxtasks.SkipFiltered},          // no duration at all
		{Kind: ngxtasks.EventSkipped, Rule: normal, Reason: ngxtasks.SkipBehind, Missed: 3}, // nor here
		{Kind: ngxtasks.EventSkipped, Rule: preemption, Reason: ngxtasks.SkipClockSkewed},
	}
	// Under the race detector, sync.Pool drops some shards, and each timing
	// makes up to its maxShards: enough runs that those do not count.
	const runs = 1000
	allocs := testing.AllocsPerRun(runs, func() {
		for i := range events {
			w.observe(&events[i])
		}
	})
	if allocs != 0 {
		t.Errorf("observe allocates %v times per round of events, want 0", allocs)
	}
	// AllocsPerRun calls once more to warm up.
	const rounds = runs + 1
	const ms = rounds * 1e-3 // a millisecond a round
	one := func(t *timing) []*timing { return []*timing{t} }
	for _, c := range []struct {
		name  string
		ts    []*timing
		count uint64
		sum   float64
	}{
		{"lateness/normal", one(w.runLateness[ngxtasks.Normal]), rounds, ms},
		{"lateness/preemption", one(w.runLateness[ngxtasks.Preemption]), rounds, 0},
		{"duration/normal", w.runDuration[ngxtasks.Normal][:], rounds, ms},
		{"duration/preemption", w.runDuration[ngxtasks.Preemption][:], 4 * rounds, ms},
		{"duration/preemption/success", one(w.runDuration[ngxtasks.Preemption][runSuccess]), rounds, ms},
		{"duration/preemption/error", one(w.runDuration[ngxtasks.Preemption][runError]), rounds, 0},
		{"duration/preemption/panic", one(w.runDuration[ngxtasks.Preemption][runPanic]), rounds, 0},
		{"duration/preemption/timeout", one(w.runDuration[ngxtasks.Preemption][runTimeout]), rounds, 0},
		{"claims", w.claimDuration[:], 4 * rounds, 4 * ms},
		{"claims/won", one(w.claimDuration[claimWon]), rounds, ms},
		{"claims/lost", one(w.claimDuration[claimLost]), rounds, ms},
		{"claims/error", one(w.claimDuration[claimError]), rounds, ms},
		{"claims/late", one(w.claimDuration[claimLate]), rounds, ms},
	} {
		var m dto.Metric
		if err := histogram(h.runDuration, c.ts, "w", "normal").Write(&m); err != nil {
			t.Fatal(err)
		}
		hist := m.GetHistogram()
		if hist.GetSampleCount() != c.count || hist.GetSampleSum() < c.sum-1e-9 || hist.GetSampleSum() > c.sum+1e-9 {
			t.Errorf("%s: count %d, sum %g; want %d, %g", c.name, hist.GetSampleCount(), hist.GetSampleSum(), c.count, c.sum)
		}
	}
	// Skips count by type and reason, a run of slots missed as that many.
	for _, c := range []struct {
		typ    ngxtasks.Type
		reason ngxtasks.SkipReason
		n      int64
	}{
		{ngxtasks.Preemption, ngxtasks.SkipClaimError, rounds},
		{ngxtasks.Preemption, ngxtasks.SkipLate, 2 * rounds},
		{ngxtasks.Normal, ngxtasks.SkipFiltered, rounds},
		{ngxtasks.Normal, ngxtasks.SkipBehind, 3 * rounds},
		{ngxtasks.Preemption, ngxtasks.SkipClockSkewed, rounds},
		{ngxtasks.Normal, ngxtasks.SkipOverlap, 0},
	} {
		if n := w.skips[c.typ][c.reason].Load(); n != c.n {
			t.Errorf("skips of %v rules for %v: %d, want %d", c.typ, c.reason, n, c.n)
		}
	}
}

// A timing's shards add up to the histogram a prometheus.Histogram with the
// same buckets would show, bucket by bucket.
func TestTimingMatchesAHistogram(t *testing.T) {
	bounds := latencyBuckets()
	float := make([]float64, len(bounds))
	for i, b := range bounds {
		float[i] = b.Seconds()
	}
	want := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x", Buckets: float})
	got := newTiming(bounds)
	for i := range 5000 {
		d := time.Duration(i*i) * time.Microsecond / 3 // 0 to 8.3 s, on and off the bounds
		if i%7 == 0 {
			d = bounds[i%len(bounds)] // exactly on a bound: counted in it (le)
		}
		want.Observe(d.Seconds())
		got.observe(d)
	}
	var w, g dto.Metric
	if err := want.Write(&w); err != nil {
		t.Fatal(err)
	}
	if err := histogram(prometheus.NewDesc("x", "", nil, nil), []*timing{got}).Write(&g); err != nil {
		t.Fatal(err)
	}
	wh, gh := w.GetHistogram(), g.GetHistogram()
	if wh.GetSampleCount() != gh.GetSampleCount() || math.Abs(wh.GetSampleSum()-gh.GetSampleSum()) > 1e-6 {
		t.Fatalf("count %d sum %g, want %d %g", gh.GetSampleCount(), gh.GetSampleSum(), wh.GetSampleCount(), wh.GetSampleSum())
	}
	for i, b := range wh.GetBucket() {
		gb := gh.GetBucket()[i]
		if b.GetUpperBound() != gb.GetUpperBound() || b.GetCumulativeCount() != gb.GetCumulativeCount() {
			t.Errorf("bucket %d: le %g count %d, want le %g count %d", i, gb.GetUpperBound(), gb.GetCumulativeCount(), b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
}

// Observations from many goroutines at once all count, whether each has a
// shard of its own or shards are shared past the bound.
func TestTimingCountsEveryObservation(t *testing.T) {
	for _, limit := range []int{1, 64} {
		tm := newTiming(latencyBuckets())
		tm.maxShards = limit
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range 1000 {
					tm.observe(time.Duration(i) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		var m dto.Metric
		if err := histogram(prometheus.NewDesc("x", "", nil, nil), []*timing{tm}).Write(&m); err != nil {
			t.Fatal(err)
		}
		if n, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); n != 8000 || math.Abs(sum-8*499.5) > 1e-6 {
			t.Errorf("maxShards %d: count %d sum %g, want 8000 and %g", limit, n, sum, 8*499.5)
		}
		if len(tm.shards) > limit {
			t.Errorf("maxShards %d: %d shards made", limit, len(tm.shards))
		}
	}
}

// BenchmarkObserve is the collector's part of a run on every core at
// once: the Watch function given a run's two events, started and ended.
func BenchmarkObserve(b *testing.B) {
	h := newHistograms()
	w := h.forWorker("w", "ngxtasks.MemoryDict")
	rule := &ngxtasks.Rule{Identifier: "n", Type: ngxtasks.Normal}
	b.RunParallel(func(pb *testing.PB) {
		fired := ngxtasks.Event{Kind: ngxtasks.EventFired, Rule: rule, Duration: time.Millisecond}
		finished := ngxtasks.Event{Kind: ngxtasks.EventFinished, Rule: rule, Duration: 3 * time.Millisecond}
		for pb.Next() {
			w.observe(&fired)
			w.observe(&finished)
		}
	})
}

// Every skip reason of the core has a label value: one added there and
// not here would be dropped from every scrape.
func TestEverySkipReasonHasItsLabelValue(t *testing.T) {
	names := reasonNames()
	for r := ngxtasks.SkipReason(1); r.String() != "unknown"; r++ {
		if int(r) >= len(names) || names[r] == "" {
			t.Errorf("skip reason %d (%v) has no label value", r, r)
		} else if want := strings.ReplaceAll(r.String(), " ", "_"); names[r] != want {
			t.Errorf("skip reason %v is labelled %q, want %q", r, names[r], want)
		}
	}
}
