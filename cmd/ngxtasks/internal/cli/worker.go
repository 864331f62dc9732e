package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/worker"
)

// workerCmd is a worker process, started by the master (package master)
// as "ngxtasks worker --stop-timeout D" with its pipes as fds 3 and 4; not
// for people to run, and so not in the usage.
func workerCmd(args []string, _, stderr io.Writer) int {
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
