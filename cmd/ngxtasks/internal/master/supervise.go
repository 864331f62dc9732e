package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// proc is one worker's place: its successive processes share its index,
// name, socket and the slots they began.
type proc struct {
	index  int
	name   string
	socket string

	mu       sync.Mutex
	groups   map[int]bool   // process groups of the running process's exec actions
	awaited  map[int64]bool // reloads sent to the running process, not yet answered
	pid      int
	up       bool // ready and not yet exited
	since    time.Time
	restarts int
	lastExit string
	to       *wire.Writer[wire.ToWorker] // to the running process; nil between processes
}

// supervise keeps one worker running until ctx is done: run runs one
// process of it until that exits (runWorker), and supervise starts the
// next after m.backoff's wait.
func (m *Master) supervise(ctx context.Context, p *proc, run func(context.Context, *proc) error) {
	b := m.backoff
	for {
		began := time.Now()
		err := run(ctx, p)
		if ctx.Err() != nil {
			return
		}
		wait := b.next(time.Since(began))
		p.mu.Lock()
		p.restarts++
		p.lastExit = err.Error()
		n := p.restarts
		p.mu.Unlock()
		m.log.Error("ngxtasks: worker exited; restarting", "worker", p.name, "error", err, "restarts", n, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// runWorker runs one process of p until it exits; when ctx is done it
// stops the process, SIGKILLing it if it outlives the stop timeout.
func (m *Master) runWorker(ctx context.Context, p *proc) error {
	// Pdeathsig fires when the thread that started the worker ends, not
	// the process: keep this goroutine, which lives as long as the
	// worker, on that thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	toR, toW, err := os.Pipe()
	if err != nil {
		return err
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		toR.Close()
		toW.Close()
		return err
	}
	cmd := exec.Command(m.exe, "worker", "--stop-timeout", m.opts.StopTimeout.String())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// The listener's token is the master's: not the workers', nor their
	// actions' programs'.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, m.started.TokenEnv+"=")
	})
	cmd.ExtraFiles = []*os.File{toR, fromW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	err = cmd.Start()
	toR.Close()
	fromW.Close()
	if err != nil {
		toW.Close()
		fromR.Close()
		return fmt.Errorf("starting: %w", err)
	}
	defer fromR.Close()
	to := wire.NewWriter[wire.ToWorker](toW)

	// The hello and registering p.to happen under m.mu, so that a reload
	// reaches this process either in its hello or as a Config line.
	m.mu.Lock()
	p.mu.Lock()
	hello := wire.Hello{Index: p.index, Count: m.settings.Workers, Worker: p.name, Dict: m.settings.Dict, Socket: p.socket, LogFormat: m.opts.LogFormat, LogLevel: m.opts.LogLevel,
		Config: m.snap, Ran: m.ran.of(p.name)}
	p.pid, p.to, p.since = cmd.Process.Pid, to, time.Now()
	p.mu.Unlock()
	helloErr := to.Write(wire.ToWorker{Hello: &hello})
	m.mu.Unlock()

	exited := make(chan error, 1)
	go func() {
		m.listenTo(p, wire.NewReader[wire.ToMaster](fromR))
		exited <- cmd.Wait()
	}()
	if helloErr != nil {
		m.log.Warn("ngxtasks: sending a worker its hello", "worker", p.name, "error", helloErr)
	}

	var werr error
	select {
	case werr = <-exited:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr = <-exited:
		case <-time.After(m.opts.StopTimeout + maxGrace(m) + 5*time.Second):
			m.log.Error("ngxtasks: worker did not stop in time; killing it", "worker", p.name, "pid", cmd.Process.Pid)
			_ = cmd.Process.Kill()
			werr = <-exited
		}
	}
	left := m.exited(p)
	toW.Close()
	m.killGroups(p, left)
	return describeExit(werr)
}

// exited forgets p's process, which ended: nothing more is sent to it,
// the reloads it had not answered are answered for it (its successor
// starts with the new file), and the process groups its actions left
// running are returned, to be killed.
func (m *Master) exited(p *proc) (groups []int) {
	m.mu.Lock()
	p.mu.Lock()
	p.to, p.up = nil, false
	groups = slices.Sorted(maps.Keys(p.groups))
	clear(p.groups)
	unanswered := slices.Collect(maps.Keys(p.awaited))
	clear(p.awaited)
	p.mu.Unlock()
	m.mu.Unlock()
	for _, seq := range unanswered {
		m.log.Warn("ngxtasks: a worker exited before it answered the reload; its successor starts with the new file", "worker", p.name, "seq", seq)
		m.answered(seq, false)
	}
	return groups
}

// killGroups kills the process groups of exec actions a worker left
// running when it died: their programs got SIGKILL with the worker
// (Pdeathsig), but not what those started. A worker that stops cleanly
// leaves none.
func (m *Master) killGroups(p *proc, groups []int) {
	if len(groups) == 0 {
		return
	}
	var killed []int
	for _, g := range groups {
		if syscall.Kill(-g, syscall.SIGKILL) == nil {
			killed = append(killed, g)
		}
	}
	if len(killed) > 0 {
		m.log.Warn("ngxtasks: killed the process groups of actions the worker left", "worker", p.name, "pgids", killed)
	}
}

// listenTo reads a worker's lines until its pipe closes.
func (m *Master) listenTo(p *proc, r *wire.Reader[wire.ToMaster]) {
	for {
		msg, err := r.Read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				m.log.Warn("ngxtasks: reading a worker's pipe", "worker", p.name, "error", err)
			}
			return
		}
		switch {
		case msg.Fired != nil:
			if err := m.ran.record(p.name, *msg.Fired); err != nil {
				m.log.Error("ngxtasks: a worker started after the daemon restarts may run its current slots again", "error", err)
			}
		case msg.Group != nil:
			p.mu.Lock()
			if msg.Group.Live {
				p.groups[msg.Group.PGID] = true
			} else {
				delete(p.groups, msg.Group.PGID)
			}
			p.mu.Unlock()
		case msg.Ready:
			p.mu.Lock()
			p.up = true
			pid := p.pid
			p.mu.Unlock()
			m.log.Info("ngxtasks: worker ready", "worker", p.name, "pid", pid)
		case msg.Reloaded != nil:
			m.reloaded(p, msg.Reloaded)
		}
	}
}

// maxGrace is the longest grace any exec rule gives its program between
// SIGTERM and SIGKILL.
func maxGrace(m *Master) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var g time.Duration
	for _, r := range m.file.Rules {
		if r.Exec != nil {
			g = max(g, r.Exec.Grace)
		}
	}
	return g
}

// signalName is a signal's name as kill -l spells it (SIGKILL), not its
// description ("killed"). golang.org/x/sys/unix, the Go project's own
// system-call package, has the names; the standard library does not.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// describeExit says how a worker process ended.
func describeExit(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("killed by %s", signalName(ws.Signal()))
		}
		return fmt.Errorf("exit status %d", ee.ExitCode())
	}
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}
