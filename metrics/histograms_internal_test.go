package metrics

import (
	"errors"
	"math"
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
		{Kind: ngxtasks.EventLost, Rule: preemption, Duration: time.Millisecond},
		{Kind: ngxtasks.EventSkipped, Rule: preemption, Reason: ngxtasks.SkipClaimError, Duration: time.Millisecond, Err: errors.New("x")},
		{Kind: ngxtasks.EventSkipped, Rule: preemption, Reason: ngxtasks.SkipLate, Duration: time.Millisecond},
		{Kind: ngxtasks.EventSkipped, Rule: preemption, Reason: ngxtasks.SkipLate},          // stale before its claim: no round trip
		{Kind: ngxtasks.EventSkipped, Rule: normal, Reason: ngxtasks.SkipFiltered},          // no duration at all
		{Kind: ngxtasks.EventSkipped, Rule: normal, Reason: ngxtasks.SkipBehind, Missed: 3}, // nor here
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range events {
			w.observe(&events[i])
		}
	})
	if allocs != 0 {
		t.Errorf("observe allocates %v times per round of events, want 0", allocs)
	}
	// AllocsPerRun calls once more to warm up: 101 rounds in all.
	for _, c := range []struct {
		name  string
		t     *timing
		count uint64
		sum   float64
	}{
		{"lateness/normal", w.runLateness[ngxtasks.Normal], 101, 0.101},
		{"lateness/preemption", w.runLateness[ngxtasks.Preemption], 101, 0},
		{"duration/normal", w.runDuration[ngxtasks.Normal], 101, 0.101},
		{"duration/preemption", w.runDuration[ngxtasks.Preemption], 101, 0.101},
		{"claims", w.claimDuration, 4 * 101, 0.404},
	} {
		var m dto.Metric
		if err := c.t.metric(h.runDuration, "w", "normal").Write(&m); err != nil {
			t.Fatal(err)
		}
		hist := m.GetHistogram()
		if hist.GetSampleCount() != c.count || hist.GetSampleSum() < c.sum-1e-9 || hist.GetSampleSum() > c.sum+1e-9 {
			t.Errorf("%s: count %d, sum %g; want %d, %g", c.name, hist.GetSampleCount(), hist.GetSampleSum(), c.count, c.sum)
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
	if err := got.metric(prometheus.NewDesc("x", "", nil, nil)).Write(&g); err != nil {
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
		if err := tm.metric(prometheus.NewDesc("x", "", nil, nil)).Write(&m); err != nil {
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
