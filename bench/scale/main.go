// Command scale measures how the timer loop copes with many rules in one
// worker: it registers the rules, lets them run for a while, and prints
// executed/expected runs and skipped slots, CPU used, memory per rule,
// goroutines and the lateness of runs from their own slot start. The
// measurement starts with the timer loop's first step, which runs every
// rule's current slot at once, as a worker's start does.
//
//	go run ./bench/scale -rules 100000 -interval 1s -for 15s
//	go run ./bench/scale -rules 100000 -interval 1s -for 15s -spread=false
//	go run ./bench/scale -rules 1000000 -mixed -for 15s
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func main() {
	var (
		rules    = flag.Int("rules", 100000, "number of rules")
		interval = flag.Duration("interval", time.Second, "interval of every rule (without -mixed)")
		spread   = flag.Bool("spread", true, "spread rules' phases over the interval (false: all on one boundary)")
		mixed    = flag.Bool("mixed", false, "intervals spread from 1s to 1h instead of -interval")
		runFor   = flag.Duration("for", 15*time.Second, "how long to run")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
		perSlot  = flag.Bool("per-slot", false, "print the lateness of each slot start (with -spread=false: each boundary)")
		history  = flag.Int("history", 0, "slots of history kept per rule (Manager.HistoryLen: 0 is DefaultHistory, negative none)")
	)
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*rules, *interval, *spread, *mixed, *runFor, *history, *perSlot); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// recorder keeps each run's lateness, in buffers sized beforehand so that
// measuring does not allocate. Rules record into stripes of their own (by
// rule number), so that runs on different cores do not meet on one counter:
// the measurement must not add contention of its own.
type recorder struct {
	start   atomic.Int64 // Unix ns: slots that began before are not counted
	stripes [stripes]stripe
	current [stripes]current
}

// current counts the runs of slots that began before the start (the slot
// each rule was in when the timer loop took its first step).
type current struct {
	n atomic.Int64
	_ [56]byte // a cache line each
}

const stripes = 64

type stripe struct {
	n    atomic.Int64
	runs []sample
	_    [32]byte // a cache line each
}

type sample struct{ slotStart, late int64 }

func (r *recorder) callback(_ context.Context, f ngxtasks.Firing) error {
	i, _ := strconv.Atoi(strings.TrimPrefix(f.Rule.Identifier, "rule-"))
	if f.Slot.Start.UnixNano() <= r.start.Load() {
		r.current[i%stripes].n.Add(1) // the slot current at the start, taken mid-slot
		return nil
	}
	st := &r.stripes[i%stripes]
	if j := st.n.Add(1) - 1; j < int64(len(st.runs)) {
		st.runs[j] = sample{f.Slot.Start.UnixNano(), int64(time.Since(f.Slot.Start))}
	}
	return nil
}

// samples returns the recorded runs.
func (r *recorder) samples() []sample {
	var all []sample
	for i := range r.stripes {
		st := &r.stripes[i]
		all = append(all, st.runs[:min(st.n.Load(), int64(len(st.runs)))]...)
	}
	return all
}

func run(n int, interval time.Duration, spread, mixed bool, runFor time.Duration, history int, perSlot bool) error {
	intervalOf := func(int) time.Duration { return interval }
	if mixed { // geometric spread from 1 s to 1 h
		intervalOf = func(i int) time.Duration {
			x := math.Exp(math.Log(3600) * float64(i) / float64(max(n-1, 1)))
			return time.Duration(x * float64(time.Second)).Round(time.Millisecond)
		}
	}
	rec := &recorder{}
	var expected [stripes]int64
	for i := range n {
		expected[i%stripes] += int64(runFor/intervalOf(i)) + 3
	}
	for i := range rec.stripes {
		rec.stripes[i].runs = make([]sample, expected[i])
	}
	rec.start.Store(math.MaxInt64)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Skips are counted (Stats) rather than logged.
	m := &ngxtasks.Manager{HistoryLen: history, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	skips := func() (n int64) {
		for _, st := range m.Stats() {
			n += st.Skips
		}
		return n
	}
	rs := make([]ngxtasks.Rule, n)
	for i := range rs {
		rs[i] = ngxtasks.Rule{Identifier: "rule-" + strconv.Itoa(i), Interval: intervalOf(i), Type: ngxtasks.Normal,
			Callback: rec.callback, Spread: spread}
	}
	pushStart := time.Now()
	if err := m.Push(rs...); err != nil {
		return err
	}
	pushTook := time.Since(pushStart)
	rs = nil
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heapPerRule := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)

	// The timer loop's first step runs every rule's current slot, mid-slot,
	// as a worker's start does: those slots began before the start and are
	// not measured, but the slots that fall due while it catches up are.
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	rec.start.Store(start.UnixNano())
	cpu0 := cpuTime()

	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	maxG := atomic.Int64{}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if g := int64(runtime.NumGoroutine()); g > maxG.Load() {
					maxG.Store(g)
				}
			}
		}
	}()
	_ = m.Start(ctx)
	end := time.Now()
	cpu := cpuTime() - cpu0
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	skipped := skips()
	wall := end.Sub(start)
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := m.Shutdown(sctx); err != nil {
		return err
	}
	// The rules as they are after the run: entries, queues, history rings.
	// Two collections, so that the pools' victim caches are emptied too.
	runtime.GC()
	runtime.GC()
	var ran runtime.MemStats
	runtime.ReadMemStats(&ran)
	heapRunning := float64(ran.HeapAlloc-before.HeapAlloc) / float64(n)

	// Expected: every slot that began inside (start, cutoff]. Slots that
	// began in the last moments may not have been taken when Start
	// returned; they are left out of both counts.
	cutoff := end.Add(-250 * time.Millisecond)
	var want int64
	for i, st := range m.Stats() {
		r := ngxtasks.Rule{Identifier: st.Identifier, Interval: intervalOf(i), Spread: spread}
		first := ngxtasks.EpochKeys{}.Slot(&r, start).N + 1
		last := ngxtasks.EpochKeys{}.Slot(&r, cutoff).N
		want += max(0, last-first+1)
	}
	var late []int64
	for _, r := range rec.samples() {
		if r.slotStart <= cutoff.UnixNano() {
			late = append(late, r.late)
		}
	}
	got := int64(len(late))
	slices.Sort(late)
	pct := func(p float64) time.Duration {
		if len(late) == 0 {
			return 0
		}
		return time.Duration(late[min(len(late)-1, int(p*float64(len(late))))])
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("rules            %d (%s)\n", n, describe(interval, spread, mixed))
	fmt.Printf("push             %v (%.0f ns/rule)\n", pushTook.Round(time.Millisecond), float64(pushTook)/float64(n))
	fmt.Printf("ran for          %v\n", wall.Round(time.Millisecond))
	fmt.Printf("executed         %d / %d expected (%.2f%%)\n", got, want, 100*float64(got)/float64(max(want, 1)))
	fmt.Printf("runs per second  %.0f\n", float64(got)/wall.Seconds())
	fmt.Printf("cpu              %.3f of one core (%v user+sys)\n", cpu.Seconds()/wall.Seconds(), cpu.Round(time.Millisecond))
	fmt.Printf("heap per rule    %.0f B (idle, after Push)\n", heapPerRule)
	fmt.Printf("heap per rule    %.0f B (after the run, history included)\n", heapRunning)
	fmt.Printf("rss              %.1f MiB total, %.0f B per rule\n", float64(rss())/(1<<20), float64(rss())/float64(n))
	fmt.Printf("goroutines       max %d\n", maxG.Load())
	var ranCurrent int64
	for i := range rec.current {
		ranCurrent += rec.current[i].n.Load()
	}
	fmt.Printf("first step       ran %d of the %d slots in progress at the start (%.2f%%)\n", ranCurrent, n, 100*float64(ranCurrent)/float64(n))
	fmt.Printf("skipped          %d (Stats: slots not run, from the start)\n", skipped)
	fmt.Printf("lateness         p50 %v  p99 %v  max %v\n", pct(0.50), pct(0.99), time.Duration(lastOr(late)))
	fmt.Printf("gc               %d cycles, GOGC %d; while running: %d cycles, %.0f B allocated per run\n",
		ms.NumGC, debug.SetGCPercent(-1), ms1.NumGC-ms0.NumGC, float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(max(got, 1)))
	if perSlot {
		printPerSlot(rec.samples(), cutoff)
	}
	return nil
}

// printPerSlot prints, for each slot start with 1,000 runs or more (the
// boundaries of -spread=false), how many ran and their lateness.
func printPerSlot(all []sample, cutoff time.Time) {
	bySlot := map[int64][]int64{}
	for _, r := range all {
		if r.slotStart <= cutoff.UnixNano() {
			bySlot[r.slotStart] = append(bySlot[r.slotStart], r.late)
		}
	}
	starts := slices.Sorted(maps.Keys(bySlot))
	for _, s := range starts {
		late := bySlot[s]
		if len(late) < 1000 {
			continue
		}
		slices.Sort(late)
		fmt.Printf("slot %s  runs %d  p50 %v  p99 %v  max %v\n", time.Unix(0, s).UTC().Format("15:04:05.000"), len(late),
			time.Duration(late[len(late)/2]), time.Duration(late[len(late)*99/100]), time.Duration(late[len(late)-1]))
	}
}

func describe(iv time.Duration, spread, mixed bool) string {
	if mixed {
		return "intervals 1s..1h, phases spread"
	}
	if spread {
		return "interval " + iv.String() + ", phases spread"
	}
	return "interval " + iv.String() + ", all on one boundary"
}

func lastOr(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss reads the resident set size from /proc (Linux); 0 elsewhere.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		return 0
	}
	return res * int64(os.Getpagesize())
}
