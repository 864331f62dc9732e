//go:build unix

package action

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// processGroup stops the process group a run's program leads: SIGTERM,
// then SIGKILL grace later (at once when grace is 0).
//
// Signals go to the group (kill(-pgid)), so that the programs the leader
// started stop with it; the package doc says why a signal cannot reach
// another group that took the number over.
type processGroup struct {
	grace time.Duration

	mu       sync.Mutex
	pgid     int       // the leader's pid; 0 until known
	stopped  time.Time // when the first signal went out; zero before
	byCancel bool      // stopped because the run's context ended
}

// setLeader records the group's number, the pid of its leader, once it is
// started. exec.Cmd.Cancel may run before Start returns, so it passes the
// pid too; both come from cmd.Process.
func (g *processGroup) setLeader(pid int) {
	g.mu.Lock()
	g.pgid = pid
	g.mu.Unlock()
}

// cancel is for exec.Cmd.Cancel: the run's context ended while the
// leader, pid, runs.
func (g *processGroup) cancel(pid int) error {
	g.mu.Lock()
	g.pgid = pid
	g.byCancel = true
	g.mu.Unlock()
	return g.stop()
}

// stop sends the first signal, once: SIGTERM, or SIGKILL when there is no
// grace.
func (g *processGroup) stop() error {
	g.mu.Lock()
	if !g.stopped.IsZero() {
		g.mu.Unlock()
		return nil
	}
	g.stopped = time.Now()
	g.mu.Unlock()
	sig := syscall.SIGTERM
	if g.grace <= 0 {
		sig = syscall.SIGKILL
	}
	return g.signal(sig)
}

func (g *processGroup) signal(sig syscall.Signal) error {
	pgid := g.leader()
	if pgid <= 1 {
		// kill(0) and kill(-1) would signal the worker's own group
		// and every process it may signal.
		return fmt.Errorf("no process group to signal (pgid %d)", pgid)
	}
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

func (g *processGroup) leader() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pgid
}

// stoppedByCancel reports whether the run's context ended the program.
func (g *processGroup) stoppedByCancel() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byCancel
}

// finish runs once the leader has been reaped, and returns when nothing
// of the group runs any more: what the leader left behind gets SIGTERM
// (unless it already had it) and, if still running grace after that
// first signal, SIGKILL. It may thus take up to grace, and returns at once
// when the leader left nothing behind, the usual case.
func (g *processGroup) finish() {
	pgid := g.leader()
	if pgid <= 1 || !groupRunning(pgid) {
		return
	}
	if g.stop() != nil {
		return // gone meanwhile (or not ours to signal)
	}
	g.mu.Lock()
	deadline := g.stopped.Add(g.grace)
	g.mu.Unlock()
	for pause := time.Millisecond; time.Now().Before(deadline); pause = min(2*pause, 50*time.Millisecond) {
		time.Sleep(min(pause, time.Until(deadline)))
		if !groupRunning(pgid) {
			return
		}
	}
	if groupRunning(pgid) {
		_ = g.signal(syscall.SIGKILL)
	}
}

// groupRunning reports whether a process of the group runs. A zombie
// does not count: it is dead and waits only for its parent (init, for an
// orphan) to reap it, which a container's init may never do.
func groupRunning(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return false
	}
	return hasLiveMember(pgid)
}
