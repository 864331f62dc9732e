package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStartStormStaysBoundedAndSkipsNoSlot starts 2,000 exec rules (half
// normal, half preemption, 10 s apart, on one boundary 6 s after the start)
// in 4 workers: the first step finds every rule due at once, and so does the
// boundary after it, while the start's backlog may still be draining. Each
// worker runs at most max_running (32) programs at once and queues the rest
// within their slots, so the processes' open files stay bounded, and no slot
// is skipped as an overlap: a slot waiting for room is not running. (Before,
// the start ran some 5,000 programs at once, with 5,559 open files, and the
// runs then took so long that the following slots were skipped.)
func TestStartStormStaysBoundedAndSkipsNoSlot(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm of 5,000 programs")
	}
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	const interval = 10 * time.Second
	// No slot ends within the start's first seconds: its run could then
	// still be starting (a fork takes long on a loaded machine) when the
	// next slot comes, which is an overlap the start did not cause.
	offset := time.Duration(time.Now().Add(6*time.Second).UnixNano()) % interval
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 2000 {
		typ := "normal"
		if i%2 == 1 {
			typ = "preemption"
		}
		fmt.Fprintf(&b, "  - {id: r%04d, interval: %v, offset: %v, type: %s, exec: {argv: [\"true\"]}}\n", i, interval, offset, typ)
	}
	writeFile(t, config, b.String())
	in := start(t, config, 4)

	// Sample the open files of the whole tree while the start's runs and
	// the next slots of every rule go on.
	most := 0
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		most = max(most, treeOpenFiles(t, in.cmd.Process.Pid))
		time.Sleep(50 * time.Millisecond)
	}
	// 4 workers × 32 programs, each with a few pipes on both sides, and
	// the processes' own files; before, 5,559.
	if most > 1000 {
		t.Errorf("the processes had up to %d files open at once", most)
	}
	t.Logf("open files at most: %d", most)

	_, metrics := in.get("metrics")
	var runs, busy, overlaps float64
	for line := range strings.Lines(string(metrics)) {
		name, value, ok := sample(line)
		switch {
		case !ok:
		case strings.HasPrefix(name, "ngxtasks_worker_runs_total{"):
			runs += value
		case strings.HasPrefix(name, "ngxtasks_worker_skips_total{") && strings.Contains(name, `reason="overlap"`):
			overlaps += value
		case strings.HasPrefix(name, "ngxtasks_worker_skips_total{") && strings.Contains(name, `reason="busy"`):
			busy += value
		}
	}
	if overlaps > 0 {
		t.Errorf("%v slots skipped as overlaps", overlaps)
	}
	// Each worker ran its 1,000 normal rules' first slot (or reported it
	// busy) and more after it.
	if runs+busy < 4*1000 {
		t.Errorf("%v runs and %v busy slots in all; want the 4 × 1,000 normal rules' first slots and more", runs, busy)
	}
	t.Logf("runs %v; slots that found no room before their latest start (busy) %v", runs, busy)
}

// sample parses a line of the text exposition format.
func sample(line string) (string, float64, bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(line[i+1:], 64)
	return line[:i], v, err == nil
}

// treeOpenFiles counts the open files of pid and every process under it.
func treeOpenFiles(t *testing.T, pid int) int {
	children := map[int][]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := parentOf(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	}
	n := 0
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[len(todo)-1]
		todo = append(todo[:len(todo)-1], children[p]...)
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		n += len(fds)
	}
	return n
}

// parentOf reads a process's parent from /proc; 0 when it is gone.
func parentOf(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	rest := line[strings.LastIndexByte(line, ')')+1:]
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(fields[1])
	return pp
}
