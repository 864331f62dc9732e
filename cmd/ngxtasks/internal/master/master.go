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
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/logs"
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
	LogLevel  string // --log-level, for the workers; "" for the file's
	Logger    *slog.Logger
	// Redactor, when not nil, is given the rule file's secrets (and those
	// of each reloaded file): the Logger's redactor (logs.New).
	Redactor *logs.Redactor
}

// Master runs the worker processes of one rule file.
type Master struct {
	opts     Options
	log      *slog.Logger
	settings Settings       // in effect since the start
	started  *rulefile.File // the file as started: what needs a restart is this
	exe      string
	sockets  string // directory of the workers' status sockets
	ran      *ranLog
	backoff  backoff // each worker's restarts start from this one

	reloads chan reloadRequest // to the reloader
	loading atomic.Bool        // a read of the rule file has not returned

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
	s, err := Resolve(f, opts.Overrides)
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
		started:  f,
		exe:      exe,
		file:     f,
		snap:     wire.Snapshot{Path: abs, Files: files, Started: f.Started.Unix()},
		backoff:  backoff{min: minBackoff, max: maxBackoff, resetAfter: resetAfter},
		reloads:  make(chan reloadRequest, 1),
		pending:  make(map[int64]*reload),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.addSecrets(f, files)
	return m, nil
}

// addSecrets adds f's secrets to those redacted from the logs.
func (m *Master) addSecrets(f *rulefile.File, files rulefile.Files) {
	if m.opts.Redactor != nil {
		m.opts.Redactor.Add(f.Secrets(files, os.LookupEnv)...)
	}
}

// socketOf is worker i's status socket.
func (m *Master) socketOf(i int) string {
	return filepath.Join(m.sockets, "w"+strconv.Itoa(i)+".sock")
}

// Run starts the workers and keeps them running until ctx is done, then
// stops them: SIGTERM, StopTimeout for their runs, then SIGKILL for what
// is left. SIGHUP, and POST /reload on the control socket, reload the rule
// file.
func (m *Master) Run(ctx context.Context) error {
	state := m.started.StateDir
	if err := os.MkdirAll(state, 0o750); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	lock, err := lockPID(PIDFile(state))
	if err != nil {
		return err
	}
	defer func() {
		os.Remove(PIDFile(state)) // before the lock goes: a new master makes its own
		lock.Close()
	}()
	ran, err := openRanLog(filepath.Join(state, "slots.log"))
	if err != nil {
		m.log.Error("ngxtasks: a worker started after the daemon restarts may run its current slots again", "error", err)
	}
	defer ran.Close()
	m.ran = ran
	dir, err := os.MkdirTemp("", "ngxtasks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m.sockets = dir

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	name := instanceName(m.started)
	m.mu.Lock()
	for i := range m.settings.Workers {
		m.workers = append(m.workers, &proc{
			index:   i,
			name:    fmt.Sprintf("%s-w%d", name, i),
			socket:  m.socketOf(i),
			groups:  make(map[int]bool),
			awaited: make(map[int64]bool),
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
	ctl, err := listenControl(ControlSocket(state))
	if err != nil {
		return err
	}
	defer func() {
		ctl.Close()
		os.Remove(ControlSocket(state))
	}()
	go m.serveControl(ctl)

	m.log.Info("ngxtasks: starting", "config", m.opts.Config, "rules", len(m.file.Rules), "workers", m.settings.Workers,
		"dict", ngxtasks.RedactURL(m.settings.Dict), "listen", cmp.Or(m.settings.Listen, "off"), "pid", os.Getpid())

	reloading, stopReloads := context.WithCancel(context.Background())
	defer stopReloads()
	go m.reloader(reloading)
	var wg sync.WaitGroup
	for _, p := range m.workers {
		wg.Go(func() { m.supervise(ctx, p, m.runWorker) })
	}
	for {
		select {
		case <-hup:
			select {
			case m.reloads <- reloadRequest{}:
			default: // one is queued already; it will read the file as it is then
			}
		case <-ctx.Done():
			m.log.Info("ngxtasks: stopping", "stop_timeout", m.opts.StopTimeout)
			stopReloads()
			wg.Wait()
			m.log.Info("ngxtasks: stopped")
			return nil
		}
	}
}

// instanceName is the first part of the workers' names: the file's name,
// else the host's. Workers keep their names across restarts of the
// daemon, so that the slots a worker began are its successor's to skip.
func instanceName(f *rulefile.File) string {
	if f.Name != "" {
		return f.Name
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "ngxtasks"
	}
	return host
}
