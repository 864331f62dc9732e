package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
)

// A worker's rules served beside the process's own metrics: the
// aggregates of every rule, and the backup rule's series of its own.
func ExampleHandler() {
	m := &ngxtasks.Manager{Worker: "worker-1"}
	defer m.Shutdown(context.Background())
	err := m.Push(ngxtasks.Rule{Identifier: "backup", Interval: time.Hour, Type: ngxtasks.Preemption,
		Callback: func(context.Context, ngxtasks.Firing) error { return nil }})
	if err != nil {
		log.Fatal(err)
	}
	// The aggregates count the runs the collector sees: make it first.
	c, err := metrics.Options{Rules: []string{"backup"}}.New(m)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := m.Run(context.Background()); err != nil { // the hour's slot is due at once
		log.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	srv := httptest.NewServer(metrics.Handler(c, reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(text)) {
		if strings.HasPrefix(line, "ngxtasks_runs_total") || strings.HasPrefix(line, `ngxtasks_worker_runs_total{result="success"`) {
			fmt.Print(line)
		}
	}
	// Output:
	// ngxtasks_runs_total{result="error",rule="backup",worker="worker-1"} 0
	// ngxtasks_runs_total{result="success",rule="backup",worker="worker-1"} 1
	// ngxtasks_worker_runs_total{result="success",type="normal",worker="worker-1"} 0
	// ngxtasks_worker_runs_total{result="success",type="preemption",worker="worker-1"} 1
}

// A program of a few rules that wants every rule's series, as before
// aggregates, asks for them; one of many rules selects those that need
// them by identifier.
func ExampleOptions_New() {
	m := &ngxtasks.Manager{Worker: "worker-1"}
	defer m.Shutdown(context.Background())

	few, err := metrics.Options{AllRules: true}.New(m)
	if err != nil {
		log.Fatal(err)
	}
	defer few.Close()

	some, err := metrics.Options{Rules: []string{"backup", "billing-*"}}.New(m)
	if err != nil {
		log.Fatal(err) // a pattern path.Match cannot parse
	}
	defer some.Close()
}
