//go:build unix

package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

// outputDrainTimeout bounds the wait for the end of the output once the
// run's process group is gone. Only a process that left the group
// (setsid) while holding the output pipe makes Exec wait this long.
var outputDrainTimeout = time.Second

// Exec runs the program of an exec: rule and waits until it, and every
// process it left in its process group, is gone (see the package doc).
//
// Argv runs directly, argv[0] looked up in the worker's PATH; only Shell
// runs /bin/sh -c Command. The program gets the worker's environment, then
// the rule's env (e.Environ), then the firing's NGXTASKS_* variables.
//
// The error says why a run failed: it did not start (the program is not
// found, Dir is missing), it exited non-zero ("exit status 3", an
// *exec.ExitError), it died of a signal, or the context ended it, when
// the error wraps ctx.Err() and names the signals sent. The Result is
// filled in as far as the run got, also with an error.
func Exec(ctx context.Context, e *rulefile.Exec, f Firing) (Result, error) {
	res := Result{ExitCode: -1}
	if e.Dir != "" {
		if err := checkDir(e.Dir); err != nil {
			return res, err
		}
	}
	cmd := command(ctx, e)
	cmd.Env = slices.Concat(os.Environ(), e.Environ(), f.environ())
	cmd.Dir = e.Dir
	cmd.SysProcAttr = sysProcAttr()

	// One pipe for stdout and stderr, read by Exec itself rather than by
	// os/exec: os/exec's Wait waits for the pipe to close (or WaitDelay),
	// but a run is over when its leader exits, and what the leader left
	// behind holding the pipe is then stopped, not waited for.
	outR, outW, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("creating the output pipe: %w", err)
	}
	defer outR.Close()
	cmd.Stdout, cmd.Stderr = outW, outW

	group := &processGroup{grace: e.Grace}
	// When ctx ends, os/exec calls Cancel, which signals the group, and
	// if the leader still runs WaitDelay later, SIGKILLs the leader; the
	// rest of the group gets SIGKILL from finish below.
	cmd.Cancel = func() error { return group.cancel(cmd.Process.Pid) }
	cmd.WaitDelay = e.Grace

	// Pdeathsig is tied to the thread that starts the program: keep this
	// goroutine on it, and other goroutines off it, until the program is
	// reaped.
	runtime.LockOSThread()
	err = cmd.Start()
	outW.Close() // the child has its copy; ours would keep the pipe open
	if err != nil {
		runtime.UnlockOSThread()
		return res, startError(ctx, err)
	}
	group.setLeader(cmd.Process.Pid)
	if f.Started != nil {
		f.Started(cmd.Process.Pid)
	}

	tail := newTailBuffer(e.OutputLimit)
	read := make(chan struct{})
	go func() {
		defer close(read)
		_ = readTail(tail, outR) // a read error only ends the output early
	}()

	waitErr := cmd.Wait()
	runtime.UnlockOSThread()
	group.finish()
	drainOutput(read, outR)
	res.Output, res.Dropped = tail.Bytes(), tail.Dropped()

	state := cmd.ProcessState
	if state == nil {
		return res, fmt.Errorf("waiting for %s: %w", programName(e), waitErr)
	}
	res.ExitCode = state.ExitCode()
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal().String()
	}
	if group.stoppedByCancel() {
		return res, stoppedError(ctx, state, e.Grace)
	}
	if !state.Success() {
		var exitErr *exec.ExitError
		if errors.As(waitErr, &exitErr) {
			return res, exitErr
		}
		return res, errors.New(state.String())
	}
	return res, nil
}

// command is the program to run: argv as given, or the shell when asked.
func command(ctx context.Context, e *rulefile.Exec) *exec.Cmd {
	if e.Shell {
		return exec.CommandContext(ctx, "/bin/sh", "-c", e.Command)
	}
	if len(e.Argv) == 0 {
		cmd := exec.CommandContext(ctx, "")
		cmd.Err = errors.New("exec: no program to run (empty argv)")
		return cmd
	}
	return exec.CommandContext(ctx, e.Argv[0], e.Argv[1:]...)
}

func programName(e *rulefile.Exec) string {
	if e.Shell || len(e.Argv) == 0 {
		return "/bin/sh"
	}
	return fmt.Sprintf("%q", e.Argv[0])
}

// checkDir reports a missing working directory by its name: the kernel's
// chdir failure would reach the worker as a bare "no such file or
// directory" against the program's name.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("working directory %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("working directory %q is not a directory", dir)
	}
	return nil
}

// startError explains why the program did not start. os/exec's errors
// name the program, never its environment: `exec: "x": executable file
// not found in $PATH`, `fork/exec /bin/x: permission denied`.
func startError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("not started, the run had already ended: %w", err)
	}
	return err
}

// stoppedError is the error of a program stopped because its context
// ended: how it ended, which signals it was sent, and the context's error.
func stoppedError(ctx context.Context, state *os.ProcessState, grace time.Duration) error {
	var sent string
	ws, _ := state.Sys().(syscall.WaitStatus)
	switch {
	case grace <= 0:
		sent = "SIGKILL to its process group when the run was stopped"
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		sent = fmt.Sprintf("SIGTERM to its process group when the run was stopped, SIGKILL %v later", grace)
	default:
		sent = "SIGTERM to its process group when the run was stopped"
	}
	cause := ctx.Err()
	if cause == nil {
		cause = context.Canceled // cannot happen: Cancel runs only once ctx is done
	}
	return fmt.Errorf("%s (%s): %w", state, sent, cause)
}

// drainOutput waits for the output to be read to its end, which comes as
// soon as the group's processes are gone, unless one that left the group
// holds the pipe: that one is cut off after outputDrainTimeout.
func drainOutput(read <-chan struct{}, out *os.File) {
	timer := time.NewTimer(outputDrainTimeout)
	defer timer.Stop()
	select {
	case <-read:
	case <-timer.C:
		out.Close() // ends the pending Read
		<-read
	}
}
