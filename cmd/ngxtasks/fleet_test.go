package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

// The fleet test runs the built command with four workers for about 20
// seconds on a shared dictionary, with exec rules that append a line per
// run to a file, and checks every slot from those lines: a normal rule
// once per slot in each worker, a preemption rule once per slot in all.
// Meanwhile it SIGKILLs a worker (the master restarts it; no slot runs
// twice), reloads a changed file with SIGHUP (no slot lost or doubled; the
// change takes effect), and at the end SIGTERMs the master: every process
// of the tree, the actions' children included, is gone within the timeout.

func TestFleetSQLiteRunsEachSlotRightThroughKillReloadAndStop(t *testing.T) {
	t.Parallel()
	testFleet(t, "") // the file's default: sqlite in the state directory
}

func TestFleetRedisRunsEachSlotRightThroughKillReloadAndStop(t *testing.T) {
	t.Parallel()
	testFleet(t, dicttest.ServerURL(t, "NGXTASKS_REDIS_URL"))
}

// fleetRule is one rule of the fleet file.
type fleetRule struct {
	id       string
	interval time.Duration
	typ      string
	tag      string // written by each run, to tell definitions apart
}

// fleetFile writes the rule file: each rule appends "rule slot worker tag
// scheduled" to runs; "long" starts a grandchild that ignores SIGTERM and
// outlives the worker unless the process group is killed, and writes both
// pids to pids.
func fleetFile(dir string, rules []fleetRule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "log: {level: debug}\nrules:\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "  - id: %s\n    interval: %v\n    type: %s\n    exec:\n      shell: true\n", r.id, r.interval, r.typ)
		fmt.Fprintf(&b, "      command: 'echo \"$NGXTASKS_RULE $NGXTASKS_SLOT $NGXTASKS_WORKER %s $NGXTASKS_SCHEDULED\" >> %s'\n", r.tag, filepath.Join(dir, "runs"))
	}
	fmt.Fprintf(&b, "  - id: long\n    interval: 1h\n    type: normal\n    exec:\n      shell: true\n      grace: 1s\n")
	// The child ignores SIGTERM: only the group's SIGKILL after the grace ends it.
	fmt.Fprintf(&b, "      command: 'sh -c \"trap \\\"\\\" TERM; exec sleep 300\" & echo \"$$ $!\" >> %s; wait'\n", filepath.Join(dir, "pids"))
	return b.String()
}

type runLine struct {
	rule, worker, tag string
	slot              int64
	scheduled         time.Time
}

func readRuns(t *testing.T, path string) []runLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []runLine
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) != 5 {
			t.Fatalf("runs: malformed line %q", s.Text())
		}
		slot, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("runs: %q: %v", s.Text(), err)
		}
		at, err := time.Parse(time.RFC3339Nano, fields[4])
		if err != nil {
			t.Fatalf("runs: %q: %v", s.Text(), err)
		}
		out = append(out, runLine{rule: fields[0], slot: slot, worker: fields[2], tag: fields[3], scheduled: at})
	}
	return out
}

func readPids(t testing.TB, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pids: %q", b)
		}
		pids = append(pids, pid)
	}
	return pids
}

func uniqueSuffix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func testFleet(t *testing.T, dict string) {
	dir := t.TempDir()
	sfx := uniqueSuffix() // rule ids unique to this run: a shared Redis remembers claims
	n1 := fleetRule{"n1-" + sfx, 2 * time.Second, "normal", "v1"}
	n2 := fleetRule{"n2-" + sfx, 3 * time.Second, "normal", "v1"}
	p1 := fleetRule{"p1-" + sfx, time.Second, "preemption", "v1"}
	p2 := fleetRule{"p2-" + sfx, 2 * time.Second, "preemption", "v1"}
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, fleetFile(dir, []fleetRule{n1, n2, p1, p2}))
	var args []string
	if dict != "" {
		args = []string{"--dict", dict}
	}
	args = append(args, "--stop-timeout", "1s")
	const workers = 4
	in := start(t, config, workers, args...)
	began := time.Now()

	// A worker SIGKILLed: the master starts another in its place.
	time.Sleep(5 * time.Second)
	victim := in.workers()[1]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	in.waitFor("the killed worker's successor", 15*time.Second, func() bool {
		w := in.workers()[1]
		return w.Restarts == 1 && w.Up && w.PID != victim.PID
	})
	restartedAt := time.Now()

	// A reload: n2 changes what it does, p2 goes, n3 comes.
	time.Sleep(3 * time.Second)
	n2b := n2
	n2b.tag = "v2"
	n3 := fleetRule{"n3-" + sfx, 2 * time.Second, "normal", "v1"}
	writeFile(t, config, fleetFile(dir, []fleetRule{n1, n2b, p1, n3}))
	in.signal(syscall.SIGHUP)
	in.waitFor("the reload applied", 10*time.Second, func() bool { return len(in.log.find("ngxtasks: reload applied")) == 1 })
	reloadedAt := time.Now()
	if l := in.log.find("ngxtasks: reload applied")[0]; l["failed_workers"] != 0.0 {
		t.Fatalf("reload: %v", l)
	}

	time.Sleep(time.Until(began.Add(20 * time.Second)))
	ws := in.workers()
	stoppedAt := time.Now()
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("ngxtasks exited with %v after SIGTERM", err)
	}
	runs := readRuns(t, filepath.Join(dir, "runs"))
	count := map[string]int{} // rule/slot/worker, or rule/slot for preemption
	tags := map[string]string{}
	for _, r := range runs {
		k := fmt.Sprintf("%s/%d", r.rule, r.slot)
		if r.rule == n1.id || r.rule == n2.id || r.rule == n3.id {
			k += "/" + r.worker
		}
		count[k]++
		tags[fmt.Sprintf("%s/%d", r.rule, r.slot)] = r.tag
	}
	for k, n := range count {
		if n > 1 {
			t.Errorf("%s ran %d times", k, n)
		}
	}
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Name
	}
	// Slots that began after every worker was ready and ended before the
	// stop must all have run; those around the kill and the reload are
	// checked separately below.
	const margin = 300 * time.Millisecond
	check := func(r fleetRule, from, to time.Time, everyWorker bool, wantTag string) {
		t.Helper()
		iv := int64(r.interval)
		first := (from.UnixNano() + iv - 1) / iv
		last := to.UnixNano()/iv - 1
		if last < first {
			t.Fatalf("%s: no whole slot between %v and %v", r.id, from, to)
		}
		for s := first; s <= last; s++ {
			if everyWorker {
				for _, w := range names {
					if n := count[fmt.Sprintf("%s/%d/%s", r.id, s, w)]; n != 1 {
						t.Errorf("%s slot %d ran %d times in %s, want once", r.id, s, n, w)
					}
				}
			} else if n := count[fmt.Sprintf("%s/%d", r.id, s)]; n != 1 {
				t.Errorf("%s slot %d ran %d times in all, want once", r.id, s, n)
			}
			if wantTag != "" {
				if tag := tags[fmt.Sprintf("%s/%d", r.id, s)]; tag != wantTag {
					t.Errorf("%s slot %d ran definition %q, want %q", r.id, s, tag, wantTag)
				}
			}
		}
	}
	end := stoppedAt.Add(-margin)
	// The killed worker's own slots: those that began before it died
	// ran once (its successor skipped them); those after, once more.
	// Only a normal slot that began and ended while no process held the
	// worker's place could be missed; the restart takes well under a
	// slot, so none is.
	t.Logf("ready %v, killed +%v, restarted +%v, reloaded +%v, stopped +%v", began.Format("15:04:05.000"),
		killedAt.Sub(began).Round(time.Millisecond), restartedAt.Sub(began).Round(time.Millisecond),
		reloadedAt.Sub(began).Round(time.Millisecond), stoppedAt.Sub(began).Round(time.Millisecond))
	check(n1, began, end, true, "v1")
	check(p1, began, end, false, "v1")
	check(n2, began, reloadedAt.Add(-margin), true, "v1")
	check(n2b, reloadedAt.Add(n2.interval), end, true, "v2")
	check(n2, began, end, true, "") // across the reload too: no slot lost or doubled
	check(p2, began, reloadedAt.Add(-margin), false, "v1")
	check(n3, reloadedAt, end, true, "v1")
	for _, r := range runs {
		if r.rule == p2.id && r.scheduled.After(reloadedAt) {
			t.Errorf("removed rule %s ran slot %d, which began after the reload", p2.id, r.slot)
		}
	}
	// Every worker, the killed one included, and every program the actions started (the long
	// rule's shells and their sleeping children), is gone.
	pids := readPids(t, filepath.Join(dir, "pids"))
	for _, w := range ws {
		pids = append(pids, w.PID)
	}
	waitGone(t, pids, 5*time.Second)
	if len(pids) < 2*workers+workers {
		t.Fatalf("pids %v: want the long rule's shell and sleep in every worker, and the workers", pids)
	}

}
