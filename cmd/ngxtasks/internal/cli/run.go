package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
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
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default: the file's log.level; a Lua file's: info)")
	stop := fs.Duration("stop-timeout", 10*time.Second, "how long running actions may go on at SIGTERM before they are cancelled")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	mistakes := checkFlags(fs)
	if *stop < 0 {
		mistakes = append(mistakes, fmt.Errorf("--stop-timeout: must not be negative, got %v", *stop))
	}
	if *logFormat != "" && *logFormat != "text" && *logFormat != "json" {
		mistakes = append(mistakes, fmt.Errorf("--log-format: %q is not text or json", *logFormat))
	}
	var level slog.Level
	if *logLevel != "" {
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil || strings.ContainsAny(*logLevel, "+-") {
			mistakes = append(mistakes, fmt.Errorf("--log-level: %q is not debug, info, warn or error", *logLevel))
		}
	}
	f, err := loadFile(*config)
	if err != nil || len(mistakes) > 0 {
		report(stderr, errors.Join(append([]error{err}, mistakes...)...))
		return 2
	}
	redact := new(logs.Redactor)
	if *logLevel == "" {
		level = f.Log.Level
	}
	log := logs.New(stderr, cmp.Or(*logFormat, f.Log.Format), level, redact)
	slog.SetDefault(log)
	m, err := master.New(master.Options{Config: *config, Overrides: *o, StopTimeout: *stop, LogFormat: *logFormat, LogLevel: *logLevel, Logger: log, Redactor: redact})
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
	mistakes := checkFlags(fs)
	f, err := loadFile(*config)
	if err == nil && len(mistakes) == 0 {
		_, err = master.Resolve(f, *o)
	}
	if err != nil || len(mistakes) > 0 {
		report(stderr, errors.Join(append([]error{err}, mistakes...)...))
		return 2
	}
	fmt.Fprintf(stdout, "%s: %d rules, ok\n", *config, len(f.Rules))
	return 0
}

// overrideFlags adds the flags that override the file's settings, which
// run and validate share: validate checks what run would run.
func overrideFlags(fs *flag.FlagSet) *master.Overrides {
	var o master.Overrides
	fs.IntVar(&o.Workers, "workers", 0, "worker processes, 1 to 1024 (default: the file's workers, else the number of CPUs)")
	fs.StringVar(&o.Dict, "dict", "", "dictionary URL, overriding the file's dict")
	fs.StringVar(&o.Listen, "listen", "", "status and metrics listener host:port, or off (default: the file's listen)")
	return &o
}

// checkFlags checks what the override flags hold on their own, so that
// their mistakes are reported with the file's, all at once. An override
// given is held to the file's rule for the same setting: --workers 0 is
// as wrong as workers: 0.
func checkFlags(fs *flag.FlagSet) []error {
	var errs []error
	fs.Visit(func(fl *flag.Flag) {
		v := fl.Value.String()
		switch fl.Name {
		case "workers":
			if n, _ := strconv.Atoi(v); n < 1 || n > 1024 {
				errs = append(errs, fmt.Errorf("--workers: must be between 1 and 1024, got %s", v))
			}
		case "dict":
			if v == "" {
				errs = append(errs, errors.New("--dict: empty; leave it out for the file's dict"))
			}
		case "listen":
			if v == "" {
				errs = append(errs, errors.New("--listen: empty; give host:port, or off"))
			}
		}
	})
	return errs
}
