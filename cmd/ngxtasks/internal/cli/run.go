package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/logs"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/master"
)

func runCmd(args []string, _, stderr io.Writer) int {
	fs := flags("run", stderr)
	config := configFlag(fs)
	o := overrideFlags(fs)
	logFormat := fs.String("log-format", "", "text or json (default: the file's log.format)")
	stop := fs.Duration("stop-timeout", 10*time.Second, "how long running actions may go on at SIGTERM before they are cancelled")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2
	}
	log := logs.New(stderr, cmp.Or(*logFormat, f.Log.Format), f.Log.Level)
	m, err := master.New(master.Options{Config: *config, Overrides: *o, StopTimeout: *stop, LogFormat: *logFormat, Logger: log})
	if err != nil {
		report(stderr, err)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		report(stderr, err)
		return 1
	}
	return 0
}

func validateCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("validate", stderr)
	config := configFlag(fs)
	o := overrideFlags(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2
	}
	if _, err := master.Settle(f, *o); err != nil {
		report(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: %d rules, ok\n", *config, len(f.Rules))
	return 0
}

// overrideFlags adds the flags that override the file's settings, which
// run and validate share: validate checks what run would run.
func overrideFlags(fs *flag.FlagSet) *master.Overrides {
	var o master.Overrides
	fs.IntVar(&o.Workers, "workers", 0, "worker processes (default: the file's workers, else the number of CPUs)")
	fs.StringVar(&o.Dict, "dict", "", "dictionary URL, overriding the file's dict")
	fs.StringVar(&o.Listen, "listen", "", "status and metrics listener host:port, or off (default: the file's listen)")
	return &o
}
