// Command ngxtasks runs a rule file's periodic tasks in worker processes:
// normal rules in every worker each interval, preemption rules in exactly
// one worker of all that share the dictionary, nginx-style: a master
// process starts the workers, restarts those that die, reloads on SIGHUP
// and serves the status page and metrics of them all.
//
//	ngxtasks run -c rules.yaml [--workers N] [--dict URL] [--listen ADDR]
//	ngxtasks validate -c rules.yaml
//	ngxtasks next -c rules.yaml [RULE] [-n 5]
//	ngxtasks status -c rules.yaml [--json]
//	ngxtasks reload -c rules.yaml
//	ngxtasks version
//
// The rule file's format is described in the README and in package
// rulefile. Exit status: 0 done, 1 failed, 2 a bad command line or rule
// file (nothing was started).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/cli"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/worker"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "worker" {
		return runWorker(args[1:], stderr)
	}
	return cli.Main(args, stdout, stderr)
}

// runWorker is a worker process, started by the master with its pipes as
// fds 3 and 4; not for people to run.
func runWorker(args []string, stderr io.Writer) int {
	stop := 10 * time.Second
	if len(args) == 2 && args[0] == "--stop-timeout" {
		d, err := time.ParseDuration(args[1])
		if err != nil {
			fmt.Fprintln(stderr, "ngxtasks worker:", err)
			return 2
		}
		stop = d
	}
	// The pipes must not reach the actions' programs: a program holding
	// fd 4 would keep the master from seeing this worker exit.
	var st syscall.Stat_t
	if syscall.Fstat(3, &st) != nil || syscall.Fstat(4, &st) != nil {
		fmt.Fprintln(stderr, "ngxtasks worker: started without the master's pipes; run `ngxtasks run` instead")
		return 2
	}
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	in, out := os.NewFile(3, "from-master"), os.NewFile(4, "to-master")
	// Reloads come from the master over the pipe; a SIGHUP sent to the
	// whole process group (a closed terminal) is the master's to take.
	signal.Ignore(syscall.SIGHUP)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	if err := worker.Run(ctx, in, out, worker.Options{StopTimeout: stop, Stderr: stderr}); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "ngxtasks worker:", err)
		return 1
	}
	return 0
}
