package action

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopped is how a run that was cancelled ended.
type stopped struct {
	res  Result
	err  error
	pid  int           // what the script wrote to $PIDFILE
	took time.Duration // from the cancel to Exec's return
}

// stopAfterPID runs script, which writes a pid to $PIDFILE once ready, and
// cancels the run as soon as the pid is there.
func stopAfterPID(t *testing.T, script string, grace time.Duration) stopped {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	e := shell(script)
	e.Env = vars("PIDFILE", pidFile)
	e.Grace = grace
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan stopped, 1)
	go func() {
		res, err := Exec(ctx, e, testFiring)
		done <- stopped{res: res, err: err}
	}()
	pid := readPID(t, pidFile)
	cancel()
	cancelled := time.Now()
	select {
	case s := <-done:
		s.pid, s.took = pid, time.Since(cancelled)
		return s
	case <-time.After(grace + 30*time.Second):
		t.Fatalf("Exec still running %v after the cancel", grace+30*time.Second)
		return stopped{}
	}
}

// A leader and a child that both ignore SIGTERM get SIGKILL after grace,
// and Exec returns only once both are gone.
func TestExecStopKillsWholeGroupAfterGrace(t *testing.T) {
	const grace = 300 * time.Millisecond
	s := stopAfterPID(t, `trap '' TERM; sleep 60 & echo $! > "$PIDFILE"; wait; wait; wait`, grace)
	waitGone(t, s.pid)
	if s.took < grace {
		t.Errorf("Exec returned %v after the cancel, before the %v grace", s.took, grace)
	}
	if s.res.Signal != "killed" || s.res.ExitCode != -1 {
		t.Errorf("result %+v, want killed", s.res)
	}
	if !errors.Is(s.err, context.Canceled) || !strings.Contains(s.err.Error(), "SIGKILL 300ms later") {
		t.Errorf("error %v, want one naming SIGKILL and wrapping context.Canceled", s.err)
	}
}

// A leader that dies of SIGTERM does not take a child that ignores it
// along: the child gets SIGKILL after grace, before Exec returns.
func TestExecStopKillsLeftoverAfterGrace(t *testing.T) {
	const grace = 300 * time.Millisecond
	s := stopAfterPID(t, `sh -c 'trap "" TERM; echo $$ > "$PIDFILE"; exec sleep 60' & wait`, grace)
	waitGone(t, s.pid)
	if s.took < grace {
		t.Errorf("Exec returned %v after the cancel, before the %v grace", s.took, grace)
	}
	if s.res.Signal != "terminated" {
		t.Errorf("result %+v, want terminated", s.res)
	}
	if !errors.Is(s.err, context.Canceled) || !strings.Contains(s.err.Error(), "signal: terminated (SIGTERM") {
		t.Errorf("error %v", s.err)
	}
}

// A program that stops on SIGTERM ends the run without waiting for grace.
func TestExecStopRespectsSIGTERM(t *testing.T) {
	const grace = time.Minute
	s := stopAfterPID(t, `sleep 60 & echo $! > "$PIDFILE"; wait`, grace)
	waitGone(t, s.pid)
	if s.took > grace/2 {
		t.Errorf("Exec took %v after the cancel, though the program stops on SIGTERM", s.took)
	}
	if s.res.Signal != "terminated" || !errors.Is(s.err, context.Canceled) {
		t.Errorf("Exec = %+v, %v", s.res, s.err)
	}
}

func TestExecTimeoutSendsSIGTERMToTheGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := Exec(ctx, argv("sleep", "60"), testFiring)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
	want := "signal: terminated (SIGTERM to its process group when the run was stopped): context deadline exceeded"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	if res.Signal != "terminated" || res.ExitCode != -1 {
		t.Errorf("result %+v", res)
	}
}

func TestExecNoGraceKillsAtOnce(t *testing.T) {
	s := stopAfterPID(t, `trap '' TERM; sleep 60 & echo $! > "$PIDFILE"; wait`, 0)
	waitGone(t, s.pid)
	if s.res.Signal != "killed" || !errors.Is(s.err, context.Canceled) || !strings.Contains(s.err.Error(), "SIGKILL to its process group") {
		t.Errorf("Exec = %+v, %v", s.res, s.err)
	}
}

// A program that exits leaving a child behind that holds its output does
// not keep Exec waiting: the child is stopped (SIGTERM) on the way out.
func TestExecLeaderExitStopsLeftovers(t *testing.T) {
	e := shell(`sleep 60 & echo $!; echo done`)
	e.Grace = time.Minute
	start := time.Now()
	res, err := Exec(context.Background(), e, testFiring)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	pidText, rest, _ := strings.Cut(string(res.Output), "\n")
	if rest != "done\n" {
		t.Fatalf("output %q", res.Output)
	}
	waitGone(t, atoi(t, pidText))
	if took > e.Grace/2 {
		t.Errorf("Exec took %v", took)
	}
}

// A leftover that ignores SIGTERM too gets SIGKILL after grace.
func TestExecLeaderExitKillsStubbornLeftovers(t *testing.T) {
	e := shell(`trap '' TERM; sleep 60 & echo $!`)
	e.Grace = 200 * time.Millisecond
	res, err := Exec(context.Background(), e, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, atoi(t, strings.TrimSpace(string(res.Output))))
}

// A program that left the process group (setsid) while holding the output
// pipe is beyond Exec's reach: Exec stops waiting for the output after
// outputDrainTimeout.
func TestExecDoesNotWaitForEscapedProcess(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid program")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	e := shell(`setsid sh -c 'echo $$ > "$PIDFILE"; exec sleep 60' & while [ ! -s "$PIDFILE" ]; do sleep 0.01; done; echo started`)
	e.Env = vars("PIDFILE", pidFile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Exec(ctx, e, testFiring)
	took := time.Since(start)
	pid := readPID(t, pidFile)
	defer syscall.Kill(pid, syscall.SIGKILL) // this test's own leftover
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != "started\n" {
		t.Errorf("output %q", res.Output)
	}
	if took < outputDrainTimeout || took > 20*time.Second {
		t.Errorf("Exec took %v, want about %v", took, outputDrainTimeout)
	}
}
