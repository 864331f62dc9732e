package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The command's benchmarks run the built binary with 10,000 rules in 4
// workers, as an operator would:
//
//	go test -run XXX -bench . -benchtime 10x ./cmd/ngxtasks/
//
// Each rule calls a local HTTP server once a day (slots aligned on UTC
// midnight), so after the first slot, which every worker runs at start,
// the fleet is idle.

const benchRules = 10000

// bigFile writes a rule file of n http rules calling url; rule "r0"'s
// name is name (a reload changes it).
func bigFile(url string, n int, name string) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: r%d\n    interval: 24h\n    type: normal\n    http: {url: %q}\n", i, url)
		if i == 0 {
			fmt.Fprintf(&b, "    name: %s\n", name)
		}
	}
	return b.String()
}

// bigFleet starts 4 workers on 10,000 rules and waits until each worker
// ran every rule's first slot.
func bigFleet(b *testing.B) (*instance, string, *atomic.Int64, string) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	dir := b.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(b, config, bigFile(srv.URL, benchRules, "first"))
	in := start(b, config, 4)
	deadline := time.Now().Add(5 * time.Minute)
	for calls.Load() < 4*benchRules {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d first runs within 5 minutes", calls.Load(), 4*benchRules)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return in, config, &calls, srv.URL
}

// BenchmarkIdle measures the CPU the master and 4 workers use holding
// 10,000 rules with nothing due, a second per op, and each process's
// resident memory at the end (the first slots' 10,000 concurrent runs per
// worker leave memory the Go runtime returns to the system only slowly).
func BenchmarkIdle(b *testing.B) {
	in, _, calls, _ := bigFleet(b)
	time.Sleep(5 * time.Second) // the first slots' runs end, and their goroutines
	pids := []int{in.cmd.Process.Pid}
	for _, w := range in.workers() {
		pids = append(pids, w.PID)
	}
	before := cpuTicks(b, pids)
	began := time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	elapsed := time.Since(began)
	used := time.Duration(cpuTicks(b, pids)-before) * time.Second / time.Duration(clkTck)
	b.ReportMetric(100*used.Seconds()/elapsed.Seconds(), "%core")
	var rss int64
	for _, pid := range pids[1:] {
		rss += rssKiB(b, pid)
	}
	b.ReportMetric(float64(rss)/float64(len(pids)-1)/1024, "MiB/worker")
	b.ReportMetric(float64(rssKiB(b, pids[0]))/1024, "MiB/master")
	if n := calls.Load(); n != 4*benchRules && time.Now().UTC().Day() == began.UTC().Day() {
		b.Fatalf("%d runs, want %d: a rule ran twice or not at all", n, 4*benchRules)
	}
}

// BenchmarkReload measures a reload of the 10,000-rule file, one rule's
// name changed, from SIGHUP until every worker applied it. No rule runs
// again: the 9,999 unchanged keep their state, the changed one its slot.
func BenchmarkReload(b *testing.B) {
	in, config, calls, url := bigFleet(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		writeFile(b, config, bigFile(url, benchRules, "name"+strconv.Itoa(i)))
		applied := len(in.log.find("ngxtasks: reload applied"))
		b.StartTimer()
		if err := in.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for len(in.log.find("ngxtasks: reload applied")) == applied {
			if time.Now().After(deadline) {
				b.Fatalf("reload %d not applied within a minute:\n%s", i, in.log)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, l := range in.log.find("ngxtasks: reload applied") {
		if l["failed_workers"] != 0.0 {
			b.Fatalf("a reload failed: %v", l)
		}
	}
	time.Sleep(time.Second)
	if n := calls.Load(); n != 4*benchRules && time.Now().UTC().Hour() != 0 {
		b.Fatalf("%d runs, want %d: a reload ran a slot again", n, 4*benchRules)
	}
}

// clkTck is the kernel's clock ticks per second for /proc times (USER_HZ,
// 100 on Linux).
const clkTck = 100

// cpuTicks sums utime and stime of the processes.
func cpuTicks(b *testing.B, pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command's closing parenthesis; utime and stime
		// are the 14th and 15th fields of the line.
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
		for _, s := range f[11:13] {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			sum += n
		}
	}
	return sum
}

// rssKiB is a process's resident memory.
func rssKiB(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	b.Fatalf("no VmRSS for %d", pid)
	return 0
}
