// Package master is the ngxtasks command's master process: it starts the
// worker processes, restarts those that die, hands reloads to them, and
// serves the status page and metrics of all of them.
//
// It runs no rule itself. Each worker is the same binary started as
// "ngxtasks worker", given its configuration and its predecessor's slots
// over a pipe (package wire); a worker tells the master of each slot it
// begins before running it, so that a worker started in its place runs
// none of them again.
//
// Workers die with the master: they get SIGTERM from the kernel when the
// master dies (Pdeathsig), and they stop when their pipe from the master
// closes, which the kernel does for a master killed by SIGKILL too.
package master

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// Options configure a Master.
type Options struct {
	Config    string    // the rule file's path
	Overrides Overrides // from the command line
	// StopTimeout is how long running actions may go on when the master
	// stops (SIGTERM, SIGINT) before their contexts end.
	StopTimeout time.Duration
	// Exe is the binary to start workers from; "" is this one.
	Exe       string
	LogFormat string // --log-format, for the workers; "" for the file's
	Logger    *slog.Logger
}

// Master runs the worker processes of one rule file.
type Master struct {
	opts     Options
	log      *slog.Logger
	settings Settings
	exe      string
	sockets  string // directory of the workers' status sockets
	pidFile  string
	tokenEnv string // the file's token_env (a reload does not change it)

	mu      sync.Mutex
	file    *rulefile.File
	snap    wire.Snapshot
	seq     int64 // of the last reload sent
	workers []*proc
	pending map[int64]*reload // reloads waiting for workers' answers
}

// New loads and checks the rule file. Its error is rulefile.Errors for a
// file with mistakes, and says what to change for settings that cannot
// run.
func New(opts Options) (*Master, error) {
	f, abs, files, err := rulefile.LoadFiles(opts.Config, nil)
	if err != nil {
		return nil, err
	}
	s, err := Settle(f, opts.Overrides)
	if err != nil {
		return nil, err
	}
	exe := opts.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding this binary to start workers: %w", err)
		}
	}
	m := &Master{
		opts:     opts,
		log:      opts.Logger,
		settings: s,
		exe:      exe,
		file:     f,
		snap:     wire.Snapshot{Path: abs, Files: files},
		pidFile:  PIDFile(f),
		tokenEnv: f.TokenEnv,
		pending:  make(map[int64]*reload),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// socketOf is worker i's status socket.
func (m *Master) socketOf(i int) string {
	return filepath.Join(m.sockets, "w"+strconv.Itoa(i)+".sock")
}

// PIDFile is where Run writes the master's pid, for "ngxtasks reload".
func PIDFile(f *rulefile.File) string { return filepath.Join(f.StateDir, "ngxtasks.pid") }

// Run starts the workers and keeps them running until ctx is done, then
// stops them: SIGTERM, StopTimeout for their runs, then SIGKILL for what
// is left. SIGHUP reloads the rule file.
func (m *Master) Run(ctx context.Context) error {
	if err := os.MkdirAll(m.file.StateDir, 0o750); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	if err := m.writePID(); err != nil {
		return err
	}
	defer os.Remove(m.pidFile)
	dir, err := os.MkdirTemp("", "ngxtasks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m.sockets = dir

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	host, _ := os.Hostname()
	m.mu.Lock()
	for i := range m.settings.Workers {
		m.workers = append(m.workers, &proc{
			index:  i,
			name:   fmt.Sprintf("%s-%d-w%d", host, os.Getpid(), i),
			socket: m.socketOf(i),
			ran:    make(map[string]wire.Ran),
			groups: make(map[int]bool),
		})
	}
	m.mu.Unlock()
	ln, err := m.listen()
	if err != nil {
		return err
	}
	if ln != nil {
		defer ln.Close()
	}

	m.log.Info("ngxtasks: starting", "config", m.opts.Config, "rules", len(m.file.Rules), "workers", m.settings.Workers,
		"dict", ngxtasks.RedactURL(m.settings.Dict), "listen", cmp.Or(m.settings.Listen, "off"), "pid", os.Getpid())

	var wg sync.WaitGroup
	for _, p := range m.workers {
		wg.Go(func() { m.supervise(ctx, p) })
	}
	for {
		select {
		case <-hup:
			m.Reload()
		case <-ctx.Done():
			m.log.Info("ngxtasks: stopping", "stop_timeout", m.opts.StopTimeout)
			wg.Wait()
			m.log.Info("ngxtasks: stopped")
			return nil
		}
	}
}

// writePID writes the pid file, refusing when a live master holds it.
func (m *Master) writePID() error {
	if b, err := os.ReadFile(m.pidFile); err == nil {
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("another ngxtasks master (pid %d) runs with state_dir %s; stop it, or give this one its own state_dir", pid, m.file.StateDir)
		}
	}
	tmp := m.pidFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return os.Rename(tmp, m.pidFile)
}
