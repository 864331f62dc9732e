package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests of this file restart parts of a running instance — a worker
// after a reload, the whole daemon within a slot — and check from the
// programs' own output that no slot runs twice under one worker name.
// Their rules run hourly: every run after the first of a slot would be a
// duplicate, and a test that happens to cross the hour sees two slots,
// which is not one slot twice.

// hourlyFile writes rules that append "rule slot worker tag scheduled" to
// dir/runs; env adds a variable to each rule, so that a reload can change
// the rules without changing their slots.
func hourlyFile(dir, env string, rules ...string) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for _, r := range rules {
		id, typ, _ := strings.Cut(r, ":")
		fmt.Fprintf(&b, "  - id: %s\n    interval: 1h\n    type: %s\n    exec:\n      shell: true\n", id, typ)
		fmt.Fprintf(&b, "      env: {TAG: %q}\n", env)
		fmt.Fprintf(&b, "      command: 'echo \"$NGXTASKS_RULE $NGXTASKS_SLOT $NGXTASKS_WORKER $TAG $NGXTASKS_SCHEDULED\" >> %s'\n", filepath.Join(dir, "runs"))
	}
	return b.String()
}

// runsOnce fails the test for a (rule, slot) that ran more than once in
// one worker (per worker: a normal rule) or at all (a preemption rule),
// and returns the runs by rule.
func runsOnce(t *testing.T, path string, preemption ...string) map[string][]runLine {
	t.Helper()
	byRule := map[string][]runLine{}
	seen := map[string]runLine{}
	for _, r := range readRuns(t, path) {
		key := fmt.Sprintf("%s %d %s", r.rule, r.slot, r.worker)
		for _, p := range preemption {
			if r.rule == p {
				key = fmt.Sprintf("%s %d", r.rule, r.slot)
			}
		}
		if first, dup := seen[key]; dup {
			t.Errorf("%s ran twice: by %s (%s) and by %s (%s)", key, first.worker, first.tag, r.worker, r.tag)
		}
		seen[key] = r
		byRule[r.rule] = append(byRule[r.rule], r)
	}
	return byRule
}

// countLines counts the lines of path, 0 if it does not exist yet.
func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

// TestReloadThenKillRunsSlotOnce reloads a rule with only its env changed
// and then SIGKILLs the worker within the same slot: the worker started in
// its place must not run that slot again. (It did: the successor's record
// was keyed by the rule's whole definition, which the reload changed.)
func TestReloadThenKillRunsSlotOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	runs := filepath.Join(dir, "runs")
	writeFile(t, config, hourlyFile(dir, "before", "job:normal"))
	in := start(t, config, 1)
	in.waitFor("the first run", 20*time.Second, func() bool { return countLines(runs) >= 1 })

	writeFile(t, config, hourlyFile(dir, "after", "job:normal"))
	in.signal(syscall.SIGHUP)
	in.waitFor("the reload applied", 20*time.Second, func() bool { return len(in.log.find("ngxtasks: reload applied")) == 1 })
	w := in.workers()[0]
	if err := syscall.Kill(w.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	in.waitFor("the worker's successor", 20*time.Second, func() bool {
		ws := in.workers()
		return ws[0].Up && ws[0].PID != w.PID
	})
	// The successor's first step is done once it is ready; give its run,
	// were there one, time to write its line.
	time.Sleep(time.Second)
	byRule := runsOnce(t, runs)
	if len(byRule["job"]) == 0 {
		t.Fatal("job never ran")
	}
}

// TestRestartWithinSlotRunsEachNormalSlotOncePerWorker stops the daemon and
// starts it again within one slot, as a deploy or systemctl restart does:
// each normal slot runs once per worker name, and the workers keep their
// names.
func TestRestartWithinSlotRunsEachNormalSlotOncePerWorker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	runs := filepath.Join(dir, "runs")
	writeFile(t, config, hourlyFile(dir, "x", "each:normal", "one:preemption"))
	in := start(t, config, 2)
	in.waitFor("runs in both workers", 20*time.Second, func() bool { return countLines(runs) >= 3 })
	first := in.workers()
	in.signal(syscall.SIGTERM)
	if err := in.wait(30 * time.Second); err != nil {
		t.Fatalf("the first instance's exit: %v", err)
	}

	again := start(t, config, 2)
	for i, w := range again.workers() {
		if w.Name != first[i].Name {
			t.Errorf("worker %d is %s after the restart, %s before", i, w.Name, first[i].Name)
		}
	}
	// Both workers are ready: their first steps are done. Give a run,
	// were there one, time to write its line.
	time.Sleep(time.Second)
	byRule := runsOnce(t, runs, "one")
	if n := len(byRule["each"]); n < 2 {
		t.Errorf("each ran %d times; want once in each worker", n)
	}
	if n := len(byRule["one"]); n < 1 {
		t.Errorf("one never ran")
	}
}

// TestPIDFileIsNotTrusted: a pid file left by a crash, naming a live
// process that is not ngxtasks (or init), neither stops a master from
// starting nor gets that process signalled; a second master on the same
// state directory is refused, naming the first's pid.
func TestPIDFileIsNotTrusted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, hourlyFile(dir, "x", "job:normal"))
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stranger.Process.Kill()
		_ = stranger.Wait()
	})
	pidFile := filepath.Join(dir, "ngxtasks.pid")
	for _, pid := range []int{stranger.Process.Pid, 1} {
		writeFile(t, pidFile, strconv.Itoa(pid)+"\n")
		for _, cmd := range []string{"reload", "status"} {
			code, out, errOut := ngxtasks(t, cmd, "-c", config)
			if code != 1 || !strings.Contains(errOut, "no ngxtasks master runs") {
				t.Fatalf("%s with a pid file naming %d and no master: %d %q %q", cmd, pid, code, out, errOut)
			}
		}
	}
	if err := syscall.Kill(stranger.Process.Pid, 0); err != nil {
		t.Fatalf("the stranger named by the pid file is gone: %v", err)
	}

	writeFile(t, pidFile, strconv.Itoa(stranger.Process.Pid)+"\n")
	in := start(t, config, 1) // not refused: the stranger holds no lock
	second := startArgs(t, nil, []string{"run", "-c", config, "--listen", "off", "--log-format", "json"})
	if err := second.wait(30 * time.Second); err == nil {
		t.Fatal("a second master on the same state_dir started")
	}
	want := fmt.Sprintf("another ngxtasks master (pid %d) runs", in.cmd.Process.Pid)
	if !strings.Contains(second.log.String(), want) {
		t.Fatalf("the second master's refusal does not say %q:\n%s", want, second.log)
	}
	if code, out, errOut := ngxtasks(t, "reload", "-c", config); code != 0 || !strings.Contains(out, "reloaded") {
		t.Fatalf("ngxtasks reload: %d %q %q", code, out, errOut)
	}
	if err := syscall.Kill(stranger.Process.Pid, 0); err != nil {
		t.Fatalf("the stranger is gone: %v", err)
	}
}

// TestHostileRuleFilesAreRefusedWhileTheMasterGoesOn: the rule file replaced
// by a FIFO nobody writes to, a link to /dev/zero, or a directory is a
// refused reload — the master goes on, and still stops at SIGTERM (its loop
// used to block in the FIFO's read for good, and /dev/zero took it down out
// of memory) — and validate refuses each by name, under a memory limit.
func TestHostileRuleFilesAreRefusedWhileTheMasterGoesOn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		make func(path string) error
		says string
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "FIFO"},
		{"zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "character device"},
		{"dir", func(p string) error { return os.Mkdir(p, 0o755) }, "directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			config := filepath.Join(dir, "rules.yaml")
			writeFile(t, config, hourlyFile(dir, "x", "job:normal"))
			in := start(t, config, 1)
			if err := os.Remove(config); err != nil {
				t.Fatal(err)
			}
			if err := c.make(config); err != nil {
				t.Fatal(err)
			}
			in.signal(syscall.SIGHUP)
			in.waitFor("the reload refused", 20*time.Second, func() bool {
				for _, l := range in.log.find("ngxtasks: reload refused; the old rules keep running") {
					if strings.Contains(l["error"].(string), c.says) {
						return true
					}
				}
				return false
			})
			// 4 GB of address space: the command's threads reserve much
			// of it (cgo's stacks and malloc arenas) and use little; a
			// read of /dev/zero without a bound takes it all.
			cmd := exec.Command("sh", "-c", `ulimit -v 4000000 && exec "$0" validate -c "$1"`, binary, config)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), c.says) {
				t.Errorf("validate of a %s: %v\n%s", c.name, err, out)
			}
			in.signal(syscall.SIGTERM)
			if err := in.wait(30 * time.Second); err != nil {
				t.Fatalf("exit after SIGTERM: %v", err)
			}
		})
	}
}
