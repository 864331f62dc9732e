package action

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

func TestExecArgvIsNotShell(t *testing.T) {
	res, err := Exec(context.Background(), argv("echo", "$HOME;", "a|b", "`id`", "*"), testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Output), "$HOME; a|b `id` *\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if res.ExitCode != 0 || res.Signal != "" || res.Status != 0 || res.Dropped != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestExecShellRunsAPipelineWithTheRulesEnv(t *testing.T) {
	e := shell(`echo "$X" | tr a-z A-Z; echo "$NGXTASKS_RULE"`)
	e.Env = vars("X", "from env")
	res, err := Exec(context.Background(), e, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Output), "FROM ENV\nding\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestExecEnvironmentIsTheWorkersThenTheRulesThenTheRunsOwn(t *testing.T) {
	t.Setenv("ACTION_TEST_WORKER_VAR", "worker")
	t.Setenv("ACTION_TEST_OVERRIDDEN", "worker")
	t.Setenv("NGXTASKS_RUN_ID", "stale")
	e := argv("env")
	e.Env = vars("ACTION_TEST_OVERRIDDEN", "rule", "ACTION_TEST_RULE_VAR", "rule", "NGXTASKS_RULE", "forged")
	res, err := Exec(context.Background(), e, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for line := range strings.Lines(string(res.Output)) {
		name, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		got[name] = append(got[name], value)
	}
	for name, want := range map[string]string{
		"ACTION_TEST_WORKER_VAR": "worker",
		"ACTION_TEST_OVERRIDDEN": "rule",
		"ACTION_TEST_RULE_VAR":   "rule",
		"NGXTASKS_RULE":          "ding",
		"NGXTASKS_SLOT":          "1234567",
		"NGXTASKS_SCHEDULED":     "2026-03-04T04:06:07.00000089Z",
		"NGXTASKS_WORKER":        "w-3",
		"NGXTASKS_RUN_ID":        "run-42",
	} {
		if len(got[name]) != 1 || got[name][0] != want {
			t.Errorf("%s = %q, want [%q]", name, got[name], want)
		}
	}
}

func TestExecRunsInTheRulesDir(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := argv("pwd", "-P")
	e.Dir = dir
	res, err := Exec(context.Background(), e, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Output)); got != dir {
		t.Errorf("ran in %q, want %q", got, dir)
	}
}

func TestExecReportsTheExitStatusAndKeepsStderr(t *testing.T) {
	res, err := Exec(context.Background(), shell("echo failing >&2; exit 3"), testFiring)
	if err == nil || err.Error() != "exit status 3" {
		t.Errorf("error %v, want exit status 3", err)
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Errorf("error %T is not an *exec.ExitError", err)
	}
	if res.ExitCode != 3 || res.Signal != "" || string(res.Output) != "failing\n" {
		t.Errorf("result %+v", res)
	}
}

func TestExecReportsTheSignalAProgramDiedOf(t *testing.T) {
	res, err := Exec(context.Background(), shell("kill -KILL $$"), testFiring)
	if err == nil || err.Error() != "signal: killed" {
		t.Errorf("error %v, want signal: killed", err)
	}
	if res.ExitCode != -1 || res.Signal != "killed" {
		t.Errorf("result %+v", res)
	}
}

// A program that cannot start is named; its environment is not shown.
func TestExecStartErrorsNameTheProgramNotItsEnvironment(t *testing.T) {
	const secret = "s3cr3t-value"
	missing := filepath.Join(t.TempDir(), "missing")
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		exec *rulefile.Exec
		want string
	}{
		{"not in PATH", argv("ngxtasks-no-such-program", "arg"), `exec: "ngxtasks-no-such-program": executable file not found in $PATH`},
		{"no such file", argv(missing), "fork/exec " + missing + ": no such file or directory"},
		{"missing dir", withDir(argv("true"), missing), `working directory "` + missing + `": no such file or directory`},
		{"dir is a file", withDir(argv("true"), notDir), `working directory "` + notDir + `" is not a directory`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.exec.Env = vars("TOKEN", secret)
			res, err := Exec(context.Background(), tc.exec, testFiring)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error shows an env value: %v", err)
			}
			if res.ExitCode != -1 {
				t.Errorf("ExitCode = %d, want -1", res.ExitCode)
			}
		})
	}
}

func withDir(e *rulefile.Exec, dir string) *rulefile.Exec {
	e.Dir = dir
	return e
}

func TestExecWithAnEndedContextReturnsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Exec(ctx, argv("true"), testFiring)
	if !errors.Is(err, context.Canceled) || res.ExitCode != -1 {
		t.Errorf("Exec = %+v, %v; want ExitCode -1 and context.Canceled", res, err)
	}
}

func TestExecKeepsTheTailOfItsOutput(t *testing.T) {
	const total, limit = 1 << 20, 1 << 10
	e := argv(os.Args[0])
	// A race-enabled helper would sleep 1s on exit by default.
	e.Env = vars("ACTION_TEST_SPEW", strconv.Itoa(total), "GORACE", "atexit_sleep_ms=0")
	e.OutputLimit = limit
	res, err := Exec(context.Background(), e, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if want := pattern(total)[total-limit:]; !bytes.Equal(res.Output, want) {
		t.Errorf("kept %d bytes ending %q, want the last %d ending %q",
			len(res.Output), res.Output[max(0, len(res.Output)-20):], limit, want[limit-20:])
	}
	if res.Dropped != total-limit {
		t.Errorf("Dropped = %d, want %d", res.Dropped, total-limit)
	}

	e.OutputLimit = 0
	res, err = Exec(context.Background(), e, testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != 0 || res.Dropped != total {
		t.Errorf("limit 0: kept %d bytes, dropped %d; want 0 and %d", len(res.Output), res.Dropped, total)
	}
}

// Stdout and stderr are one stream, in the order written.
func TestExecStdoutAndStderrInterleaveInWrittenOrder(t *testing.T) {
	res, err := Exec(context.Background(), shell("echo 1; echo 2 >&2; echo 3; echo 4 >&2"), testFiring)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Output), "1\n2\n3\n4\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}
