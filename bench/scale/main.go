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
//
// With -schedule SPEC (and -zone, UTC by default) every rule gets
// calendar.Parse(SPEC) instead of an Interval, one Schedule shared by all
// as the command's rule file loader shares one among the rules that write
// it alike.
// The core runs such a rule from its next occurrence, not from the slot in
// progress at its Push, so the first step runs nothing; when the next
// occurrence is near, the program pushes just after it, so that none comes
// between Push and the start. Either way the slots that begin after the
// start are expected, and "lateness" is theirs; "lateness later" keeps
// those begun after the first step's last run, leaving out boundaries that
// an interval run's burst at the start delays. Compare that line's p99, or
// -per-slot's boundaries not marked as during the first step, between
//
//	go run ./bench/scale -rules 100000 -schedule '* * * * *' -for 3m -per-slot
//	go run ./bench/scale -rules 100000 -interval 1m -spread=false -for 3m -per-slot
//
// or, quickly, -schedule '* * * * * *' and -interval 1s -spread=false.
package main

import (
	"context"
	"errors"
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
	"github.com/ngxtasks/ngxtasks/calendar"
)

func main() {
	var (
		rules    = flag.Int("rules", 100000, "number of rules")
		interval = flag.Duration("interval", time.Second, "interval of every rule (without -mixed or -schedule)")
		spread   = flag.Bool("spread", true, "spread rules' phases over the interval (false: all on one boundary; -schedule ignores it)")
		mixed    = flag.Bool("mixed", false, "intervals spread from 1s to 1h instead of -interval")
		schedule = flag.String("schedule", "", "cron expression of every rule, instead of an interval (e.g. '* * * * *')")
		zone     = flag.String("zone", "UTC", "time zone of -schedule (IANA name)")
		runFor   = flag.Duration("for", 15*time.Second, "how long to run")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
		perSlot  = flag.Bool("per-slot", false, "print the lateness of each slot start (with -spread=false or -schedule: each boundary)")
		history  = flag.Int("history", 0, "slots of history kept per rule (Manager.HistoryLen: 0 is DefaultHistory, negative none)")
	)
	flag.Parse()
	c := config{rules: *rules, interval: *interval, spread: *spread, mixed: *mixed, spec: *schedule,
		zone: *zone, runFor: *runFor, history: *history, perSlot: *perSlot}
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(2)
	}
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
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// config is what the flags ask for.
type config struct {
	rules         int
	interval      time.Duration
	spread, mixed bool
	spec, zone    string // -schedule and -zone
	runFor        time.Duration
	history       int
	perSlot       bool

	sched *calendar.Schedule // spec parsed once, for every rule
}

// check refuses flags that do not go together, and parses -schedule.
func (c *config) check() error {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case c.spec == "" && set["zone"]:
		return errors.New("-zone is for -schedule")
	case c.spec == "":
		return nil
	case c.mixed:
		return errors.New("-mixed and -schedule exclude each other: -schedule gives every rule the same calendar")
	case set["interval"]:
		return errors.New("-interval and -schedule exclude each other: a rule has an Interval or a Schedule")
	}
	var err error
	c.sched, err = calendar.Parse(c.spec, calendar.Options{Zone: c.zone})
	return err
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
// each rule was in when the timer loop took its first step), and when the
// last of them began (Unix ns): the end of the start's burst.
type current struct {
	n, last atomic.Int64
	_       [48]byte // a cache line each
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
		c := &r.current[i%stripes]
		c.n.Add(1) // the slot current at the start, taken mid-slot
		raise(&c.last, time.Now().UnixNano())
		return nil
	}
	st := &r.stripes[i%stripes]
	if j := st.n.Add(1) - 1; j < int64(len(st.runs)) {
		st.runs[j] = sample{f.Slot.Start.UnixNano(), int64(time.Since(f.Slot.Start))}
	}
	return nil
}

// raise stores v in x if it is more than x holds.
func raise(x *atomic.Int64, v int64) {
	for {
		old := x.Load()
		if v <= old || x.CompareAndSwap(old, v) {
			return
		}
	}
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

func run(c *config) error {
	n := c.rules
	intervalOf := func(int) time.Duration { return c.interval }
	if c.mixed { // geometric spread from 1 s to 1 h
		intervalOf = func(i int) time.Duration {
			x := math.Exp(math.Log(3600) * float64(i) / float64(max(n-1, 1)))
			return time.Duration(x * float64(time.Second)).Round(time.Millisecond)
		}
	}
	rec := &recorder{}
	var expected [stripes]int64
	perSchedule := int64(0) // a schedule's slots in a run, for the buffers
	if c.sched != nil {
		now := time.Now()
		perSchedule = occurrences(c.sched, now, now.Add(c.runFor))
	}
	for i := range n {
		if c.sched != nil {
			expected[i%stripes] += perSchedule + 3
		} else {
			expected[i%stripes] += int64(c.runFor/intervalOf(i)) + 3
		}
	}
	for i := range rec.stripes {
		rec.stripes[i].runs = make([]sample, expected[i])
	}
	rec.start.Store(math.MaxInt64)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Skips are counted (Stats) rather than logged.
	m := &ngxtasks.Manager{HistoryLen: c.history, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	skips := func() (n int64) {
		for _, st := range m.Stats() {
			n += st.Skips
		}
		return n
	}
	rs := make([]ngxtasks.Rule, n)
	for i := range rs {
		rs[i] = ngxtasks.Rule{Identifier: "rule-" + strconv.Itoa(i), Type: ngxtasks.Normal, Callback: rec.callback}
		if c.sched == nil {
			rs[i].Interval, rs[i].Spread = intervalOf(i), c.spread
			continue
		}
		rs[i].Schedule = c.sched
	}
	if c.sched != nil {
		// A Schedule rule takes no slot that begins between its Push and the
		// start until the first step, and then mid-slot, with the slots
		// between skipped. Leave a whole slot for Push and the collections
		// when the next occurrence is near.
		guard := time.Second + time.Duration(n)*5*time.Microsecond
		if next := c.sched.Next(time.Now()).At; time.Until(next) < guard {
			time.Sleep(time.Until(next) + 10*time.Millisecond)
		}
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
	// A Schedule rule's current slot is taken at its Push, not run.
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	rec.start.Store(start.UnixNano())
	cpu0 := cpuTime()

	ctx, cancel := context.WithTimeout(context.Background(), c.runFor)
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
	if c.sched != nil {
		want = int64(n) * occurrences(c.sched, start, cutoff)
	} else {
		for i, st := range m.Stats() {
			r := ngxtasks.Rule{Identifier: st.Identifier, Interval: intervalOf(i), Spread: c.spread}
			first := ngxtasks.EpochKeys{}.Slot(&r, start).N + 1
			last := ngxtasks.EpochKeys{}.Slot(&r, cutoff).N
			want += max(0, last-first+1)
		}
	}
	// The start's burst ends with the first step's last run of a slot in
	// progress (none for Schedule rules): "later" counts the slots begun
	// after it, so that the burst does not weigh on an interval run's
	// boundaries alone.
	var ranCurrent, lastCurrent int64
	for i := range rec.current {
		ranCurrent += rec.current[i].n.Load()
		lastCurrent = max(lastCurrent, rec.current[i].last.Load())
	}
	settled := max(start.UnixNano(), lastCurrent)
	var late, later []int64
	var lost int64
	for i := range rec.stripes {
		lost += max(0, rec.stripes[i].n.Load()-int64(len(rec.stripes[i].runs)))
	}
	for _, r := range rec.samples() {
		if r.slotStart <= cutoff.UnixNano() {
			late = append(late, r.late)
			if r.slotStart > settled {
				later = append(later, r.late)
			}
		}
	}
	got := int64(len(late))
	slices.Sort(late)
	slices.Sort(later)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("rules            %d (%s)\n", n, c.describe())
	fmt.Printf("push             %v (%.0f ns/rule)\n", pushTook.Round(time.Millisecond), float64(pushTook)/float64(n))
	fmt.Printf("ran for          %v\n", wall.Round(time.Millisecond))
	fmt.Printf("executed         %d / %d expected (%.2f%%)\n", got, want, 100*float64(got)/float64(max(want, 1)))
	if lost > 0 {
		fmt.Printf("not recorded     %d runs (the recorder's buffers were full)\n", lost)
	}
	fmt.Printf("runs per second  %.0f\n", float64(got)/wall.Seconds())
	fmt.Printf("cpu              %.3f of one core (%v user+sys)\n", cpu.Seconds()/wall.Seconds(), cpu.Round(time.Millisecond))
	fmt.Printf("heap per rule    %.0f B (idle, after Push)\n", heapPerRule)
	fmt.Printf("heap per rule    %.0f B (after the run, history included)\n", heapRunning)
	fmt.Printf("rss              %.1f MiB total, %.0f B per rule\n", float64(rss())/(1<<20), float64(rss())/float64(n))
	fmt.Printf("goroutines       max %d\n", maxG.Load())
	if c.sched == nil {
		fmt.Printf("first step       ran %d of the %d slots in progress at the start (%.2f%%)\n", ranCurrent, n, 100*float64(ranCurrent)/float64(n))
	} else {
		fmt.Printf("first step       ran %d slots begun before the start (a Schedule rule waits for its next occurrence)\n", ranCurrent)
		if o := c.sched.Next(pushStart).At; !o.After(start) {
			// Push and the collections outlasted a slot.
			fmt.Printf("note             an occurrence (%s UTC) came after Push began and before the start: the first step runs the slot begun after Push, and skips those before it\n",
				o.UTC().Format("15:04:05"))
		}
	}
	fmt.Printf("skipped          %d (Stats: slots not run, from the start)\n", skipped)
	fmt.Printf("lateness         %s\n", percentiles(late))
	fmt.Printf("lateness later   %s over %d runs of slots begun after the first step's last run (+%v)\n",
		percentiles(later), len(later), time.Duration(settled-start.UnixNano()).Round(time.Millisecond))
	fmt.Printf("gc               %d cycles, GOGC %d; while running: %d cycles, %.0f B allocated per run\n",
		ms.NumGC, debug.SetGCPercent(-1), ms1.NumGC-ms0.NumGC, float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(max(got, 1)))
	if c.perSlot {
		printPerSlot(rec.samples(), cutoff, settled)
	}
	return nil
}

// occurrences counts the occurrences of s in (from, to]: the slots that
// begin there.
func occurrences(s *calendar.Schedule, from, to time.Time) (n int64) {
	for o := s.Next(from); !o.At.IsZero() && !o.At.After(to); o = s.Next(o.At) {
		n++
	}
	return n
}

// percentiles words the p50, p99 and max of sorted lateness.
func percentiles(late []int64) string {
	pct := func(p float64) time.Duration {
		if len(late) == 0 {
			return 0
		}
		return time.Duration(late[min(len(late)-1, int(p*float64(len(late))))])
	}
	return fmt.Sprintf("p50 %v  p99 %v  max %v", pct(0.50), pct(0.99), time.Duration(lastOr(late)))
}

// printPerSlot prints, for each slot start with 1,000 runs or more (the
// boundaries of -spread=false and -schedule), how many ran and their
// lateness; it marks those begun before settled, the first step's last run.
func printPerSlot(all []sample, cutoff time.Time, settled int64) {
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
		during := ""
		if s <= settled {
			during = "  (during the first step)"
		}
		fmt.Printf("slot %s  runs %d  p50 %v  p99 %v  max %v%s\n", time.Unix(0, s).UTC().Format("15:04:05.000"), len(late),
			time.Duration(late[len(late)/2]), time.Duration(late[len(late)*99/100]), time.Duration(late[len(late)-1]), during)
	}
}

func (c *config) describe() string {
	switch {
	case c.sched != nil:
		return "schedule " + strconv.Quote(c.sched.String()) + ", one Schedule shared, all on its occurrences"
	case c.mixed:
		return "intervals 1s..1h, phases spread"
	case c.spread:
		return "interval " + c.interval.String() + ", phases spread"
	}
	return "interval " + c.interval.String() + ", all on one boundary"
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
