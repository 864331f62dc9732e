package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOverlapSkipRunsOneAtATimeAcrossWorkers: a preemption rule with
// overlap: skip whose runs last 2.5 slots, on four worker processes sharing
// the default SQLite dictionary: its runs never overlap anywhere (each
// appends "start" and "end" lines with its token, and no start comes
// before the previous run's end), each run gets a higher token than the
// last (NGXTASKS_LEASE_TOKEN), and the slots that come meanwhile are logged as
// skipped, running elsewhere, naming the holder.
func TestOverlapSkipRunsOneAtATimeAcrossWorkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	config := filepath.Join(dir, "long.yaml")
	writeFile(t, config, fmt.Sprintf(`log: {level: debug}
rules:
  - id: long
    interval: 1s
    type: preemption
    overlap: skip
    exec:
      shell: true
      command: 'echo "start $NGXTASKS_LEASE_TOKEN $NGXTASKS_WORKER" >> %[1]s; sleep 2.5; echo "end $NGXTASKS_LEASE_TOKEN" >> %[1]s'
`, trace))
	in := start(t, config, 4)
	in.waitFor("three runs of the long rule to end", 30*time.Second, func() bool {
		data, _ := os.ReadFile(trace)
		return strings.Count(string(data), "end ") >= 3
	})
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	open := ""
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("trace line %q", line)
		}
		token, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil || token == 0 {
			t.Fatalf("trace line %q: want a token above 0", line)
		}
		switch f[0] {
		case "start":
			if open != "" {
				t.Errorf("run under token %d started while the run under %s went on:\n%s", token, open, data)
			}
			if token <= last {
				t.Errorf("run under token %d started after one under %d: tokens must rise", token, last)
			}
			open, last = f[1], token
		case "end":
			if f[1] != open {
				t.Errorf("run under token %s ended, but %q was the one going on", f[1], open)
			}
			open = ""
		}
	}
	skips := 0
	for _, l := range in.log.find("ngxtasks: skipped") {
		if l["rule"] == "long" && l["reason"] == "running elsewhere" {
			skips++
			if e, _ := l["error"].(string); !strings.Contains(e, "holds the lease under token") {
				t.Errorf("a skip for running elsewhere does not name the holder: %v", l)
			}
		}
	}
	if skips == 0 {
		t.Errorf("no slot was logged skipped for running elsewhere while the long runs went on; log:\n%s", in.log)
	}
}

// TestRetryRunsAFailedProgramAgainWithinItsSlot: a rule whose program
// fails twice, then succeeds, with retry: {attempts: 3}: its run lines
// show the three tries of one slot, numbered, the last ok, and the
// program saw NGXTASKS_RETRY count up.
func TestRetryRunsAFailedProgramAgainWithinItsSlot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tries := filepath.Join(dir, "tries")
	config := filepath.Join(dir, "retry.yaml")
	writeFile(t, config, fmt.Sprintf(`rules:
  - id: flaky
    interval: 1h
    type: normal
    retry: {attempts: 3, backoff: 50ms}
    exec:
      shell: true
      command: 'echo "$NGXTASKS_SLOT $NGXTASKS_RETRY" >> %[1]s; [ "$NGXTASKS_RETRY" -ge 2 ]'
`, tries))
	in := start(t, config, 1)
	in.waitFor("the third try", 20*time.Second, func() bool {
		for _, l := range in.log.find("ngxtasks: run") {
			if l["result"] == "ok" {
				return true
			}
		}
		return false
	})
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	var results []string
	for _, l := range in.log.find("ngxtasks: run") {
		retry, _ := l["retry"].(float64)
		results = append(results, fmt.Sprintf("%v@%v", l["result"], retry))
	}
	if got := strings.Join(results, " "); got != "failed@0 failed@1 ok@2" {
		t.Errorf("runs: %s; want failed@0 failed@1 ok@2", got)
	}
	data, _ := os.ReadFile(tries)
	lines := strings.Fields(strings.ReplaceAll(string(data), "\n", " "))
	if len(lines) != 6 || lines[1] != "0" || lines[3] != "1" || lines[5] != "2" || lines[0] != lines[2] || lines[2] != lines[4] {
		t.Errorf("the program saw %q; want one slot, retries 0, 1, 2", data)
	}
}
