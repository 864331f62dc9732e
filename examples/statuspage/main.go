// Command statuspage runs a few rules in three workers of one process and
// serves what they do: the status page and its JSON at /debug/ngxtasks/,
// Prometheus metrics at /metrics.
//
//	go run ./examples/statuspage -listen 127.0.0.1:8080
//
// Then open http://127.0.0.1:8080/debug/ngxtasks/. One rule fails now and
// then and one outlives its timeout, so the page has something to show.
// With -act the page gets Trigger, Pause and Resume buttons
// (status.LocalAct), and then answers only requests for loopback host
// names: the page's own checks stop other sites' pages, not a name an
// attacker points at 127.0.0.1 (DNS rebinding; the status package doc,
// "Actions").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/ngxtasks/ngxtasks/status"
)

func main() {
	var (
		listen  = flag.String("listen", "127.0.0.1:8080", "address to serve the status page and metrics on")
		workers = flag.Int("workers", 3, "number of workers sharing the dictionary")
		runFor  = flag.Duration("for", 0, "stop after this long (0: run until interrupted)")
		act     = flag.Bool("act", false, "give the page Trigger, Pause and Resume buttons (serves loopback host names only)")
	)
	flag.Parse()
	if err := run(*listen, *workers, *runFor, *act); err != nil {
		fmt.Fprintln(os.Stderr, "statuspage:", err)
		os.Exit(1)
	}
}

// rules are the example's work: a heartbeat in every worker, a report in
// one worker per slot, a flaky job and one that outlives its timeout.
func rules() []ngxtasks.Rule {
	return []ngxtasks.Rule{
		{Identifier: "heartbeat", Name: "says it is alive", Interval: 2 * time.Second, Type: ngxtasks.Normal,
			Callback: func(context.Context, ngxtasks.Firing) error { return nil }},
		{Identifier: "report", Name: "one worker reports", Interval: 5 * time.Second, Type: ngxtasks.Preemption,
			Callback: func(context.Context, ngxtasks.Firing) error { return nil }},
		{Identifier: "flaky", Name: "fails one time in three", Interval: 3 * time.Second, Type: ngxtasks.Normal,
			Callback: func(context.Context, ngxtasks.Firing) error {
				if rand.IntN(3) == 0 {
					return errors.New("upstream said 503")
				}
				return nil
			}},
		{Identifier: "slow", Name: "outlives its timeout", Interval: 4 * time.Second, Type: ngxtasks.Preemption,
			Timeout: 500 * time.Millisecond,
			Callback: func(ctx context.Context, _ ngxtasks.Firing) error {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
					return nil
				}
			}},
	}
}

func run(listen string, workers int, runFor time.Duration, act bool) error {
	if workers < 1 {
		return fmt.Errorf("-workers must be at least 1, got %d", workers)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}

	dict := ngxtasks.NewMemoryDict()
	defer dict.Close()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	managers := make([]*ngxtasks.Manager, workers)
	for i := range managers {
		managers[i] = &ngxtasks.Manager{Dict: dict, Worker: fmt.Sprintf("worker-%d", i+1), Logger: quiet}
		if err := managers[i].Push(rules()...); err != nil {
			return err
		}
	}

	// A few rules: every rule gets series of its own, beside the
	// aggregates (with many, select the rules that need them).
	collector, err := metrics.Options{AllRules: true}.New(managers...)
	if err != nil {
		return err
	}
	defer collector.Close()
	// The process's own metrics in a registry, the rules' beside them:
	// metrics.Handler serves both, and stays fast with many rules.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	if act {
		page := status.New(status.Options{Act: status.LocalAct(managers...), Logger: quiet.With("from", "status page")}, managers...)
		mux.Handle("/debug/ngxtasks/", loopbackOnly(page))
	} else {
		mux.Handle("/debug/ngxtasks/", status.New(status.Options{}, managers...))
	}
	mux.Handle("/metrics", metrics.Handler(collector, reg, promhttp.HandlerOpts{}))

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("status page: http://%s/debug/ngxtasks/   metrics: http://%s/metrics   (Ctrl-C stops)\n", ln.Addr(), ln.Addr())

	var wg sync.WaitGroup
	for _, m := range managers {
		wg.Go(func() { _ = m.Start(ctx) })
	}
	wg.Wait()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	for _, m := range managers {
		if err := m.Shutdown(shutdownCtx); err != nil {
			return err
		}
	}
	return nil
}

// loopbackOnly answers only requests whose Host names loopback
// (localhost, 127.0.0.0/8, ::1), with or without a port.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ip := net.ParseIP(strings.Trim(host, "[]"))
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "this page answers only requests for localhost or a loopback address", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
