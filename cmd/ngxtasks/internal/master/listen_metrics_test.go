package master

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestGatherAsksEveryWorkerAtOnce: every worker is asked at once, so a scrape
// waits for the slowest, not the sum. Each gatherer here answers only once
// all have been asked, which asked one after another they never are.
func TestGatherAsksEveryWorkerAtOnce(t *testing.T) {
	const n = 3
	asked := make(chan struct{}, n)
	all := make(chan struct{})
	var gs concurrently
	for i := range n {
		gs = append(gs, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			asked <- struct{}{}
			select {
			case <-all:
			case <-time.After(10 * time.Second):
				return nil, errors.New("asked alone: the others were not asked meanwhile")
			}
			name, help, v := "worker_"+string(rune('a'+i)), "one per worker", float64(i)
			typ := dto.MetricType_GAUGE
			return []*dto.MetricFamily{{Name: &name, Help: &help, Type: &typ, Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}}, nil
		}))
	}
	go func() {
		for range n {
			<-asked
		}
		close(all)
	}()
	fams, err := gs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != n {
		t.Fatalf("%d families, want %d", len(fams), n)
	}
}
