package master

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestDescribeExitNamesTheSignalOnce names a signal as kill -l does ("killed
// by killed" was the description doubled).
func TestDescribeExitNamesTheSignalOnce(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if got := describeExit(cmd.Wait()).Error(); got != "killed by SIGKILL" {
		t.Fatalf("%q", got)
	}
	if got := describeExit(exec.Command("sh", "-c", "exit 3").Run()).Error(); got != "exit status 3" {
		t.Fatalf("%q", got)
	}
}

// TestBackoffDoublesUpToItsCap: each quick exit doubles the wait, up to
// max; a process that ran past resetAfter starts the waits over.
func TestBackoffDoublesUpToItsCap(t *testing.T) {
	b := backoff{min: minBackoff, max: maxBackoff, resetAfter: resetAfter}
	var got []time.Duration
	for range 9 {
		got = append(got, b.next(time.Second))
	}
	got = append(got, b.next(resetAfter+time.Millisecond), b.next(0), b.next(resetAfter))
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 10 * time.Second, 10 * time.Second,
		100 * ms, 200 * ms, 400 * ms} // resetAfter itself is not past it
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits %v\nwant  %v", got, want)
	}
}

// TestSuperviseRestartsAfterTheBackoffUntilTheMasterStops: a worker that
// keeps exiting is started again after the backoff's waits, its restarts and
// last exit are counted for /workers.json, and supervise returns once ctx is
// done, without restarting the process that ctx stopped.
func TestSuperviseRestartsAfterTheBackoffUntilTheMasterStops(t *testing.T) {
	var logged bytes.Buffer
	m := &Master{
		log:     slog.New(slog.NewJSONHandler(&logged, nil)),
		backoff: backoff{min: time.Millisecond, max: 4 * time.Millisecond, resetAfter: time.Hour},
	}
	p := &proc{name: "w0"}
	m.workers = []*proc{p}
	ctx, cancel := context.WithCancel(context.Background())
	starts := 0
	run := func(ctx context.Context, _ *proc) error {
		starts++
		if starts <= 4 {
			return fmt.Errorf("exit status %d", starts)
		}
		cancel() // the master stops during the fifth
		<-ctx.Done()
		return errors.New("killed by SIGTERM")
	}
	done := make(chan struct{})
	go func() { m.supervise(ctx, p, run); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("supervise did not return once ctx was done")
	}
	if starts != 5 {
		t.Fatalf("%d starts, want 5", starts)
	}
	if w := m.Workers()[0]; w.Restarts != 4 || w.LastExit != "exit status 4" {
		t.Fatalf("workers.json: %+v; want 4 restarts, the last exit status 4", w)
	}
	var waits []string
	for s := bufio.NewScanner(&logged); s.Scan(); {
		var line struct{ In time.Duration }
		if err := json.Unmarshal(s.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		waits = append(waits, line.In.String())
	}
	if fmt.Sprint(waits) != "[1ms 2ms 4ms 4ms]" {
		t.Fatalf("logged waits %v", waits)
	}
}
