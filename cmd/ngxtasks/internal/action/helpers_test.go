package action

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

// The test binary doubles as a program for Exec to run, so that tests of
// large outputs need nothing but sh: with ACTION_TEST_SPEW=N it writes
// pattern(N) to stdout and exits.
func TestMain(m *testing.M) {
	if s := os.Getenv("ACTION_TEST_SPEW"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			os.Exit(2)
		}
		w := bufio.NewWriterSize(os.Stdout, 4093) // odd chunks exercise the ring's wrap
		if _, err := w.Write(pattern(n)); err != nil {
			os.Exit(3)
		}
		if err := w.Flush(); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pattern is n bytes in which any 1024 consecutive ones are unlike any
// other 1024, so that comparing a tail shows which bytes were kept.
func pattern(n int) []byte {
	b := make([]byte, 0, n+9)
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "%08d\n", i)
	}
	return b[:n]
}

var testFiring = Firing{
	Rule:      "ding",
	Slot:      1234567,
	Scheduled: time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600)),
	Worker:    "w-3",
	RunID:     "run-42",
}

// argv is an exec: rule running argv directly.
func argv(args ...string) *rulefile.Exec {
	return &rulefile.Exec{Argv: args, OutputLimit: 64 << 10, Grace: 5 * time.Second}
}

// shell is an exec: rule running a /bin/sh script.
func shell(script string) *rulefile.Exec {
	return &rulefile.Exec{Shell: true, Command: script, OutputLimit: 64 << 10, Grace: 5 * time.Second}
}

func vars(kv ...string) []rulefile.Var {
	var out []rulefile.Var
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, rulefile.Var{Name: kv[i], Value: rulefile.Literal(kv[i+1])})
	}
	return out
}

// gone reports whether process pid has ended. A zombie has: it waits only
// for its parent to reap it, and a container's init may never do so.
func gone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// waitGone waits, at most 5 s, for pid to end, and fails the test if it
// does not (then killing it, so that the test leaves nothing behind).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if gone(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d still runs 5s after Exec returned", pid)
}

// readPID waits, at most 20 s, for a program to write its pid to path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s holds %q, not a pid", path, b)
			}
			return pid
		}
	}
	t.Fatalf("no pid in %s after 20s", path)
	return 0
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
