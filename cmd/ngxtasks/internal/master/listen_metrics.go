package master

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gatherer gathers every worker's metrics, and the master's own: worker
// processes up and their restarts.
func (m *Master) gatherer(client *http.Client) prometheus.Gatherer {
	own := prometheus.NewRegistry()
	own.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ngxtasks_worker_processes_up", Help: "Worker processes ready and running.",
	}, func() float64 {
		n := 0
		for _, w := range m.Workers() {
			if w.Up {
				n++
			}
		}
		return float64(n)
	}))
	own.MustRegister(restartsCollector{m})
	gs := concurrently{own}
	for i := range m.settings.Workers {
		gs = append(gs, remote{client, fmt.Sprintf("http://w%d/metrics", i)})
	}
	return gs
}

// restartsCollector reports each worker's restarts.
type restartsCollector struct{ m *Master }

var restartsDesc = prometheus.NewDesc("ngxtasks_worker_restarts_total", "Times the master restarted a worker process.", []string{"worker"}, nil)

func (c restartsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- restartsDesc }

func (c restartsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.m.Workers() {
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(w.Restarts), w.Name)
	}
}

// remote gathers one worker's metrics over its socket.
type remote struct {
	client *http.Client
	url    string
}

func (r remote) Gather() ([]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(r.url, "http://"), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", strings.TrimPrefix(r.url, "http://"), resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(r.url, "http://"), err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out, nil
}

// concurrently gathers all its gatherers at once and merges their
// families as prometheus.Gatherers does: a scrape waits for the slowest
// worker (at most the socket client's timeout), not for the sum of all,
// and so ends within the listener's WriteTimeout.
type concurrently []prometheus.Gatherer

func (c concurrently) Gather() ([]*dto.MetricFamily, error) {
	done := make(prometheus.Gatherers, len(c))
	var wg sync.WaitGroup
	for i, g := range c {
		wg.Go(func() {
			fams, err := g.Gather()
			done[i] = gathered{fams, err}
		})
	}
	wg.Wait()
	return done.Gather()
}

// gathered is one gatherer's result, gathered already.
type gathered struct {
	fams []*dto.MetricFamily
	err  error
}

func (g gathered) Gather() ([]*dto.MetricFamily, error) { return g.fams, g.err }
