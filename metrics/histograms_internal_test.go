package metrics

import (
	"errors"
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
			w.observe(events[i])
		}
	})
	if allocs != 0 {
		t.Errorf("observe allocates %v times per round of events, want 0", allocs)
	}
	// AllocsPerRun calls once more to warm up: 101 rounds in all.
	for _, c := range []struct {
		name  string
		o     prometheus.Observer
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
		if err := c.o.(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		hist := m.GetHistogram()
		if hist.GetSampleCount() != c.count || hist.GetSampleSum() < c.sum-1e-9 || hist.GetSampleSum() > c.sum+1e-9 {
			t.Errorf("%s: count %d, sum %g; want %d, %g", c.name, hist.GetSampleCount(), hist.GetSampleSum(), c.count, c.sum)
		}
	}
}
