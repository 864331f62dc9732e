// Command dingdong is the first example of ngx_tasks' README, with short intervals: every
// worker says DING each ding interval, and exactly one worker of them all
// says DONG each dong interval. The workers are managers in one process
// sharing the in-process dictionary; each line says which worker fired.
//
//	go run ./examples/dingdong -for 15s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func main() {
	var (
		workers = flag.Int("workers", 4, "number of workers sharing the dictionary")
		ding    = flag.Duration("ding", 2*time.Second, "interval of the normal rule DING (every worker)")
		dong    = flag.Duration("dong", 6*time.Second, "interval of the preemption rule DONG (one worker)")
		runFor  = flag.Duration("for", 0, "stop after this long (0: run until interrupted)")
	)
	flag.Parse()
	if err := run(*workers, *ding, *dong, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, "dingdong:", err)
		os.Exit(1)
	}
}

// say is that example's dingdong callback: it logs the rule's identifier.
func say(_ context.Context, f ngxtasks.Firing) error {
	fmt.Printf("%s  %-8s  %-4s  slot %d\n", time.Now().Format("15:04:05.000"), f.Worker, f.Rule.Identifier, f.Slot.N)
	return nil
}

func run(workers int, ding, dong, runFor time.Duration) error {
	if workers < 1 {
		return fmt.Errorf("-workers must be at least 1, got %d", workers)
	}
	rules := []ngxtasks.Rule{
		{Identifier: "DING", Interval: ding, Type: ngxtasks.Normal, Callback: say},
		{Identifier: "DONG", Interval: dong, Type: ngxtasks.Preemption, Callback: say},
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}
	fmt.Printf("%d workers: DING every %v in each, DONG every %v in one of them (Ctrl-C stops)\n", workers, ding, dong)

	dict := ngxtasks.NewMemoryDict() // shared: this is what makes DONG run once
	defer dict.Close()
	var wg sync.WaitGroup
	managers := make([]*ngxtasks.Manager, workers)
	for i := range managers {
		m := &ngxtasks.Manager{Dict: dict, Worker: fmt.Sprintf("worker-%d", i+1)}
		if err := m.Push(rules...); err != nil {
			return err
		}
		managers[i] = m
		wg.Go(func() { _ = m.Start(ctx) })
	}
	wg.Wait()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, m := range managers {
		if err := m.Shutdown(shutdownCtx); err != nil {
			return err
		}
	}
	return nil
}
