package luatest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
	"github.com/ngxtasks/ngxtasks/sqlitedict"
)

const (
	childEnv = "NGXTASKS_LUATEST_CHILD" // the SQLite file: this process is a worker
	baseEnv  = "NGXTASKS_LUATEST_BASE"  // global_start_time, Unix seconds
	idEnv    = "NGXTASKS_LUATEST_ID"    // ngx.worker.id()
	forEnv   = "NGXTASKS_LUATEST_FOR"   // how long the worker runs
	fileEnv  = "NGXTASKS_LUATEST_FILE"  // the rule file; testdata/fast/main.lua if unset
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child is one worker process: a Manager with the Lua rules of
// testdata/fast on the shared SQLite file, driven by its timer, printing
// its runs and skips on stdout ("fin RULE SLOT" / "skip RULE SLOT MISSED
// REASON"), until its time is up.
func child() int {
	id, _ := strconv.Atoi(os.Getenv(idEnv))
	base, _ := strconv.ParseInt(os.Getenv(baseEnv), 10, 64)
	runFor, err := time.ParseDuration(os.Getenv(forEnv))
	if err != nil || runFor <= 0 || runFor > time.Minute {
		fmt.Fprintln(os.Stderr, "child: bad duration", os.Getenv(forEnv))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	d, err := sqlitedict.OpenFile(ctx, os.Getenv(childEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer d.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	file := os.Getenv(fileEnv)
	if file == "" {
		file = "testdata/fast/main.lua"
	}
	f, err := luarules.Load(file, luarules.Options{Logger: quiet, Globals: map[string]any{"global_start_time": base}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	w, err := f.Worker(luarules.WorkerConfig{ID: id, Dict: d, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer w.Close()
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		_, _ = os.Stdout.WriteString(s + "\n")
		mu.Unlock()
	}
	m := &ngxtasks.Manager{Dict: d, Keys: w.Keys(), Worker: fmt.Sprintf("p%d", id), Logger: quiet,
		Observer: func(ev ngxtasks.Event) {
			switch ev.Kind {
			case ngxtasks.EventFinished:
				if ev.Err != nil {
					say(fmt.Sprintf("err %s %d %v", ev.Rule.Identifier, ev.Slot.N, ev.Err))
					return
				}
				say(fmt.Sprintf("fin %s %d", ev.Rule.Identifier, ev.Slot.N))
			case ngxtasks.EventSkipped:
				say(fmt.Sprintf("skip %s %d %d %s", ev.Rule.Identifier, ev.Slot.N, max(ev.Missed, 1), strings.ReplaceAll(ev.Reason.String(), " ", "_")))
			}
		}}
	if err := m.Push(w.Rules()...); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	go func() { _ = m.Start(ctx) }()
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = m.Shutdown(sctx)
	return 0
}

// report is what one worker process said.
type report struct {
	fin   map[string]map[int64]int  // rule → slot → runs
	skip  map[string]map[int64]bool // rule → slots reported skipped
	errs  []string
	first map[string]int64 // rule → first slot it ran or skipped
	last  map[string]int64
}

func newReport() *report {
	return &report{fin: map[string]map[int64]int{}, skip: map[string]map[int64]bool{}, first: map[string]int64{}, last: map[string]int64{}}
}

func (r *report) saw(rule string, slot int64) {
	if f, ok := r.first[rule]; !ok || slot < f {
		r.first[rule] = slot
	}
	if l, ok := r.last[rule]; !ok || slot > l {
		r.last[rule] = slot
	}
}

func (r *report) parse(line string) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return
	}
	slot, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return
	}
	rule := f[1]
	switch f[0] {
	case "fin":
		if r.fin[rule] == nil {
			r.fin[rule] = map[int64]int{}
		}
		r.fin[rule][slot]++
		r.saw(rule, slot)
	case "skip":
		missed, _ := strconv.ParseInt(f[3], 10, 64)
		if r.skip[rule] == nil {
			r.skip[rule] = map[int64]bool{}
		}
		for n := range max(missed, 1) {
			r.skip[rule][slot+n] = true
		}
		r.saw(rule, slot)
	case "err":
		r.errs = append(r.errs, line)
	}
}

// TestSeedDingDong_AcrossProcesses: the seed's DING/DONG rules and its
// keys generator (intervals 0.5 s, global_start_time given by the test),
// in 3 OS processes sharing one SQLite file for 6 s each. No DONG slot
// runs twice across them (strict); every DONG slot while they all ran ran
// once, and every DING slot ran in every process, unless reported skipped.
func TestSeedDingDong_AcrossProcesses(t *testing.T) {
	const procs = 3
	runFor := 6 * time.Second
	path := filepath.Join(t.TempDir(), "claims.db")
	d0, err := sqlitedict.OpenFile(context.Background(), path) // create it before the children race to
	if err != nil {
		t.Fatal(err)
	}
	_ = d0.Close()
	base := time.Now().Add(-time.Hour).Unix()

	reports := runProcesses(t, procs, runFor, path, base, "")
	for i, r := range reports {
		if len(r.errs) > 0 {
			t.Errorf("process %d: runs failed: %v", i, r.errs)
		}
	}
	// Strict: no DONG slot ran twice, across every slot any process saw.
	all := map[int64]int{}
	for _, r := range reports {
		for s, n := range r.fin["TRYDONG"] {
			all[s] += n
		}
	}
	for s, n := range all {
		if n > 1 {
			t.Errorf("TRYDONG slot %d ran %d times across the processes", s, n)
		}
	}
	// Liveness, within the slots every process drove from start to end.
	lo, hi := int64(-1<<62), int64(1<<62)
	for i, r := range reports {
		f, ok1 := r.first["TRYDING"]
		l, ok2 := r.last["TRYDING"]
		if !ok1 || !ok2 {
			t.Fatalf("process %d reported no TRYDING slot in %v", i, runFor)
		}
		lo, hi = max(lo, f+1), min(hi, l-1)
	}
	checked := 0
	for s := lo; s <= hi; s++ {
		skipped := false
		for _, r := range reports {
			skipped = skipped || r.skip["TRYDONG"][s]
		}
		if n := all[s]; n != 1 && !skipped {
			t.Errorf("TRYDONG slot %d ran %d times, and no process reported it skipped", s, n)
		}
		for i, r := range reports {
			if n := r.fin["TRYDING"][s]; n != 1 && !r.skip["TRYDING"][s] {
				t.Errorf("TRYDING slot %d ran %d times in process %d, not reported skipped", s, n, i)
			}
		}
		checked++
	}
	if checked < 3 {
		t.Errorf("only %d slots were driven by every process (%d..%d)", checked, lo, hi)
	}
	t.Logf("%d slots checked in %d processes; TRYDONG ran in %d slots", checked, procs, len(all))
}

// runProcesses runs procs worker processes (child) for runFor on the
// SQLite file at path, with the rule file given (the default if ""), and
// returns what each reported. A process still running 30 s after its time
// is killed, by its pid.
func runProcesses(t *testing.T, procs int, runFor time.Duration, path string, base int64, file string) []*report {
	t.Helper()
	reports := make([]*report, procs)
	cmds := make([]*exec.Cmd, procs)
	var readers sync.WaitGroup
	for i := range procs {
		reports[i] = newReport()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+path, baseEnv+"="+strconv.FormatInt(base, 10),
			idEnv+"="+strconv.Itoa(i), forEnv+"="+runFor.String(), fileEnv+"="+file)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
		rep := reports[i]
		readers.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				rep.parse(sc.Text())
			}
		})
	}
	// Each child stops itself after runFor; one that does not within 30 s
	// more is killed, by its pid.
	deadline := time.AfterFunc(runFor+30*time.Second, func() {
		for _, c := range cmds {
			_ = syscall.Kill(c.Process.Pid, syscall.SIGKILL)
		}
	})
	readers.Wait()
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	deadline.Stop()

	return reports
}

// TestSharedIncrAcrossProcessesLosesNothing: 3 processes on one SQLite
// file each run a rule every 0.1 s that adds 1 to one ngx.shared key ten
// times; the key ends at ten times the runs of all of them: the
// increments, racing across processes, are atomic (a lease on the key).
func TestSharedIncrAcrossProcessesLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	d, err := sqlitedict.OpenFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	reports := runProcesses(t, 3, 3*time.Second, path, time.Now().Unix(), "testdata/incr/main.lua")
	runs := 0
	for i, r := range reports {
		if len(r.errs) > 0 {
			t.Errorf("process %d: runs failed: %v", i, r.errs)
		}
		for _, n := range r.fin["COUNT"] {
			runs += n
		}
	}
	v, ok, err := d.Get(context.Background(), "ngxtasks:shared:counts:n")
	if err != nil || !ok {
		t.Fatalf("the counter: %q, %v, %v", v, ok, err)
	}
	if want := "n:" + strconv.Itoa(10*runs); v != want || runs < 30 {
		t.Errorf("the counter is %q after %d runs of 10 increments; want %q (and at least 30 runs)", v, runs, want)
	}
}
