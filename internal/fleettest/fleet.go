// Package fleettest proves the Preemption guarantees across real OS
// processes: it re-executes the test binary as worker processes that share a
// dictionary named by URL, lets them drive many rules through many slots,
// optionally kills and restarts them with SIGKILL, takes the store away, or
// skews their clocks, and then counts runs per (rule, slot) exactly.
//
// Each worker reports on its standard output, one unbuffered line per event
// ("won", "ran"), so a line written before a SIGKILL is not lost: a slot
// whose "won" line has no "ran" line died with its winner. A lease rule
// (Config.Lease), whose runs outlast their slots, reports in a trace file
// the workers share instead (see LeaseRule), and Config.Act can kill,
// stop or continue the worker that holds its run, by pid.
package fleettest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	_ "time/tzdata" // the zones of Config.Zones and of calendar rules, on any host

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/calendar"
)

// Config describes one fleet.
type Config struct {
	Dict        string        // URL every worker opens with ngxtasks.OpenDict
	Namespace   string        // claim namespace, unique per fleet
	Workers     int           // OS processes
	Rules       int           // Preemption rules, intervals spread from MinInterval to MaxInterval
	MinInterval time.Duration //
	MaxInterval time.Duration //
	For         time.Duration // how long the workers run
	Kill        bool          // SIGKILL a random worker every KillEvery (±50%) and restart it
	KillEvery   time.Duration // default 2 s
	Skew        time.Duration // worker i's clock is off by a fixed amount in [-Skew, +Skew]
	StoreClock  bool          // workers compute slots from the store's clock
	Jumps       []Jump        // steps of workers' clocks after their start
	Normal      int           // Normal rules besides, every NormalEvery, each run by every worker
	NormalEvery time.Duration //
	// StartBefore, if set, makes each worker take its first drive step this
	// long before the current slot of its shortest rule ends: the first
	// step then claims every rule's current slot in one batch whose
	// shortest slot is about to end.
	StartBefore time.Duration
	// Margin is how long before the fleet stops a slot must end to be
	// checked; default 1 s.
	Margin time.Duration
	// Calendar lists Preemption rules on calendar schedules, besides.
	Calendar []CalendarRule
	// Shift sets every worker's clock this far from the real one: a fake
	// clock that the whole fleet shares, placed where the test wants it
	// (just before a daylight-saving change, say). The store's own clock,
	// months away from it, is hidden from the workers, which would
	// otherwise skip their Preemption slots for the skew. Not with Kill.
	Shift time.Duration
	// Zones, if set, runs worker i with TZ set to Zones[i % len(Zones)]:
	// its local time, in which its clock reads.
	Zones []string
	// During, if set, runs in the test's goroutine while the fleet works,
	// e.g. to stop the store for a while; it returns the instant the store
	// was back, or the zero time.
	During func(t *testing.T) (back time.Time) `json:"-"`
	// Act, if set, runs after During, with a handle on the workers to
	// kill or signal them by pid; it returns when it is done.
	Act func(t *testing.T, h Handle) `json:"-"`
	// Lease, if set, is a Preemption rule whose runs hold a lease, besides.
	Lease *LeaseRule
	// LeaseTTL is the workers' Manager.LeaseTTL; zero leaves the default.
	LeaseTTL time.Duration
}

// A CalendarRule is a Preemption rule on a calendar schedule.
type CalendarRule struct {
	ID, Spec string
	Options  calendar.Options
}

// A Jump steps worker Worker's clock by By, At after the worker started (a
// restarted worker's clock steps again), as NTP or an operator would.
type Jump struct {
	Worker int
	At, By time.Duration
}

// RuleOf returns the i-th rule of a fleet (callback left out): the parent
// and the workers make the same rules from the same config.
func (c Config) RuleOf(i int) ngxtasks.Rule {
	frac := 0.0
	if c.Rules > 1 {
		frac = float64(i) / float64(c.Rules-1)
	}
	lo, hi := float64(c.MinInterval), float64(c.MaxInterval)
	iv := time.Duration(lo * math.Pow(hi/lo, frac)).Round(time.Millisecond)
	return ngxtasks.Rule{Identifier: fmt.Sprintf("rule-%02d", i), Interval: iv, Type: ngxtasks.Preemption, Spread: true}
}

// NormalOf returns the i-th Normal rule of a fleet (callback left out).
func (c Config) NormalOf(i int) ngxtasks.Rule {
	return ngxtasks.Rule{Identifier: fmt.Sprintf("normal-%02d", i), Interval: c.NormalEvery, Type: ngxtasks.Normal, Spread: true}
}

// CalendarOf returns the i-th calendar rule of a fleet (callback left
// out), its expression parsed anew, as each worker process parses its own.
func (c Config) CalendarOf(i int) (ngxtasks.Rule, error) {
	cr := c.Calendar[i]
	s, err := calendar.Parse(cr.Spec, cr.Options)
	if err != nil {
		return ngxtasks.Rule{}, fmt.Errorf("calendar rule %s: %w", cr.ID, err)
	}
	return ngxtasks.Rule{Identifier: cr.ID, Schedule: s, Type: ngxtasks.Preemption}, nil
}

// zoneOf is worker i's TZ, or "" to leave the environment's.
func (c Config) zoneOf(i int) string {
	if len(c.Zones) == 0 {
		return ""
	}
	return c.Zones[i%len(c.Zones)]
}

// skewOf is worker i's clock offset: the extremes, then spread between.
func (c Config) skewOf(i int) time.Duration {
	if c.Skew == 0 || c.Workers < 2 {
		return 0
	}
	return -c.Skew + time.Duration(float64(2*c.Skew)*float64(i)/float64(c.Workers-1))
}

// Key is one slot of one rule.
type Key struct {
	Rule string
	Slot int64
}

// Result is what the workers reported.
type Result struct {
	Config  Config
	Start   time.Time // all workers up
	End     time.Time // workers told to stop
	Ran     map[Key][]int
	RanAt   map[Key][]time.Time // when each run began, on its worker's clock
	Won     map[Key][]int       // pid
	Killed  map[int]time.Time
	Back    time.Time        // from During
	Crashed []string         // workers that exited badly other than by our SIGKILL
	Excused int              // missing slots excused by Check's excuse
	Errors  int              // claims that failed or came too late (reported by workers)
	Failed  map[Key][]string // "err", "late" or "behind", per claim that failed or slot a worker missed

	Unanswered   int             // missing slots excused by StoreFailed
	UnansweredAt []time.Time     // where each of them began
	UnansweredIn []ngxtasks.Slot // the slots themselves
	Busied       int             // missing slots excused by Busy

	// Drive holds each worker's first drive step (by pid), as its Health
	// reports it: on the clock its slots follow, which is Frame ahead of
	// the real one.
	Drive map[int]time.Time
	Frame map[int]time.Duration
	// Heard is when the test last read a line of each worker's report (by
	// pid), on the real clock.
	Heard map[int]time.Time
	// Normal holds what each worker reported of Normal rules' slots:
	// "ran", "behind", "overlap", per pid.
	Normal map[Key]map[int][]string
	// EarlyLate lists claims reported late although they were answered
	// before their slot ended.
	EarlyLate []string
	// Skewed counts Preemption slots skipped because the worker's clock
	// was not known to be near the store's, by pid.
	Skewed map[int]int
}

const childEnv = "NGXTASKS_FLEETTEST_CHILD"

// Child must be called first in TestMain. In a worker process it runs the
// worker and exits; otherwise it returns at once.
func Child() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	var c childSpec
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintln(os.Stderr, "fleettest child:", err)
		os.Exit(2)
	}
	if err := runChild(c); err != nil {
		fmt.Fprintln(os.Stderr, "fleettest child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

type childSpec struct {
	Config Config
	Index  int
}

// skewedClock is a worker's clock: the real one, off by an amount that a
// Jump may change. Its readings keep their monotonic part (Add moves it
// with the wall clock), as the real clock's do.
type skewedClock struct{ off atomic.Int64 }

func (s *skewedClock) Now() time.Time { return time.Now().Add(time.Duration(s.off.Load())) }

// runChild is a worker: it runs the fleet's rules until its standard input
// closes, reporting each claim won and each run on standard output.
func runChild(c childSpec) error {
	ctx := context.Background()
	if tz := c.Config.zoneOf(c.Index); tz != "" && time.Local.String() != tz {
		return fmt.Errorf("TZ=%s: the local time is %s", tz, time.Local)
	}
	d, err := ngxtasks.OpenDict(ctx, c.Config.Dict)
	if err != nil {
		return err
	}
	defer d.Close()
	var dict ngxtasks.Dict = d
	if c.Config.Shift != 0 {
		if dict, err = withoutClock(d); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	say := func(kind string, f ngxtasks.Event) {
		if f.Rule.Type == ngxtasks.Normal {
			kind = "n" + kind
		}
		line := fmt.Sprintf("%s %s %d %d\n", kind, f.Rule.Identifier, f.Slot.N, os.Getpid())
		switch kind {
		case "late": // how long before its slot ended it was given up
			line = fmt.Sprintf("late %s %d %d %d\n", f.Rule.Identifier, f.Slot.N, os.Getpid(), f.Slot.End.Sub(f.Time))
		case "ran": // when, on the worker's clock
			line = fmt.Sprintf("ran %s %d %d %d\n", f.Rule.Identifier, f.Slot.N, os.Getpid(), f.Time.UnixNano())
		}
		mu.Lock()
		_, _ = io.WriteString(os.Stdout, line) // unbuffered: survives a SIGKILL once written
		mu.Unlock()
	}
	m := &ngxtasks.Manager{
		Dict:          dict,
		Namespace:     c.Config.Namespace,
		Worker:        fmt.Sprintf("w%d-%d", c.Index, os.Getpid()),
		UseStoreClock: c.Config.StoreClock,
		LeaseTTL:      c.Config.LeaseTTL,
		Logger:        slog.New(slog.DiscardHandler), // failures are reported as "err" lines
		Observer: func(ev ngxtasks.Event) {
			switch ev.Kind {
			case ngxtasks.EventWon:
				say("won", ev)
			case ngxtasks.EventLost:
				say("lost", ev)
			case ngxtasks.EventFired:
				say("ran", ev)
			case ngxtasks.EventSkipped:
				switch ev.Reason {
				case ngxtasks.SkipClaimError:
					say("err", ev)
				case ngxtasks.SkipLate:
					say("late", ev)
				case ngxtasks.SkipOverlap, ngxtasks.SkipClosed:
					say(ev.Reason.String(), ev)
				case ngxtasks.SkipClockSkewed:
					say("skewed", ev)
				case ngxtasks.SkipBehind: // the process was starved: one line per slot
					first := ev.Slot.N
					for n := range min(ev.Missed, 1000) {
						ev.Slot.N = first + n
						say("behind", ev)
					}
				}
			}
		},
	}
	if off := c.Config.skewOf(c.Index) + c.Config.Shift; off != 0 || len(c.Config.Jumps) > 0 {
		clock := &skewedClock{}
		clock.off.Store(int64(off))
		m.Clock = clock
		for _, j := range c.Config.Jumps {
			if j.Worker == c.Index {
				time.AfterFunc(j.At, func() { clock.off.Add(int64(j.By)) })
			}
		}
	}
	rules := make([]ngxtasks.Rule, c.Config.Rules, c.Config.Rules+c.Config.Normal)
	for i := range rules {
		rules[i] = c.Config.RuleOf(i)
		rules[i].Callback = func(context.Context, ngxtasks.Firing) error {
			if c.Config.Kill { // give kills a chance to land inside callbacks
				time.Sleep(time.Duration(rand.Int64N(int64(50 * time.Millisecond))))
			}
			return nil
		}
	}
	for i := range c.Config.Normal {
		r := c.Config.NormalOf(i)
		r.Callback = func(context.Context, ngxtasks.Firing) error { return nil }
		rules = append(rules, r)
	}
	for i := range c.Config.Calendar {
		r, err := c.Config.CalendarOf(i)
		if err != nil {
			return err
		}
		r.Callback = func(context.Context, ngxtasks.Firing) error { return nil }
		rules = append(rules, r)
	}
	stopping := make(chan struct{}) // closed when the parent tells us to stop
	if c.Config.Lease != nil {
		r, closeTrace, err := c.Config.Lease.setup(m, stopping)
		if err != nil {
			return err
		}
		defer closeTrace()
		rules = append(rules, r)
	}
	if err := m.Push(rules...); err != nil {
		return err
	}
	// One round trip first, so that the store is known to answer before
	// the parent starts counting slots.
	if _, _, err := d.Get(ctx, c.Config.Namespace+":ready"); err != nil {
		return err
	}
	mu.Lock()
	_, _ = fmt.Fprintf(os.Stdout, "ready - 0 %d\n", os.Getpid())
	mu.Unlock()
	runCtx, stop := context.WithCancel(ctx)
	go func() { // the parent closes our stdin to stop us
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stopping)
		stop()
	}()
	if c.Config.StoreClock { // the worker drives from when it knows the store's clock
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, ok := m.ClockOffset(); ok {
				break
			}
		}
	}
	if c.Config.StartBefore > 0 {
		shortest := c.Config.RuleOf(0)
		end := (ngxtasks.EpochKeys{}).Slot(&shortest, time.Now().Add(c.Config.StartBefore)).End
		time.Sleep(time.Until(end.Add(-c.Config.StartBefore)))
	}
	// The step's instant on the clock the worker's slots follow: its own,
	// moved to the store's with UseStoreClock.
	frame := c.Config.skewOf(c.Index) + c.Config.Shift
	if off, ok := m.ClockOffset(); ok && c.Config.StoreClock {
		frame += off
	}
	mu.Lock()
	_, _ = fmt.Fprintf(os.Stdout, "frame - %d %d\n", frame, os.Getpid())
	mu.Unlock()
	go func() { // the first step's own present: a loaded host may delay it
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if at := m.Health().FirstStep; !at.IsZero() {
				mu.Lock()
				_, _ = fmt.Fprintf(os.Stdout, "drive - %d %d\n", at.UnixNano(), os.Getpid())
				mu.Unlock()
				return
			}
		}
	}()
	_ = m.Start(runCtx)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return m.Shutdown(sctx)
}

// withoutClock hides a store's clock (ngxtasks.StoreClock) from workers
// whose clocks are shifted, keeping what else it offers the fleet.
func withoutClock(d ngxtasks.Dict) (ngxtasks.Dict, error) {
	ba, ok1 := d.(ngxtasks.BatchAdder)
	set, ok2 := d.(ngxtasks.Setter)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("a shifted clock needs a store that adds in batches and sets: %T", d)
	}
	return struct {
		ngxtasks.Dict
		ngxtasks.BatchAdder
		ngxtasks.Setter
	}{d, ba, set}, nil
}

// worker is a running child process.
type worker struct {
	index int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	err   error
}

// Run starts the fleet, lets it work, stops it and returns what happened:
// slots count from when every worker is up and has heard from the store
// (Result.Start) to when the workers are told to stop (Result.End).
func Run(t *testing.T, c Config) *Result {
	t.Helper()
	f := newFleet(t, c)
	f.startWorkers()
	f.awaitReady()
	f.res.Start = time.Now()

	stopKilling := f.killAndRestart()
	if c.During != nil {
		f.res.Back = c.During(t)
	}
	if c.Act != nil {
		c.Act(t, Handle{f})
	}
	if left := time.Until(f.res.Start.Add(c.For)); left > 0 {
		time.Sleep(left)
	}
	stopKilling()
	f.res.End = time.Now()

	f.stopWorkers()
	f.readers.Wait()
	return f.res
}

// fleet is one Run under way: its worker processes, and the Result their
// reports fill.
type fleet struct {
	t       *testing.T
	c       Config
	res     *Result
	mu      sync.Mutex     // guards res while the workers report
	ready   chan struct{}  // a worker has heard from the store
	readers sync.WaitGroup // one per worker process, reading its reports
	workers []*worker      // by index; a killed worker's successor takes its place
}

// newFleet resolves c's defaults and makes the empty Result.
func newFleet(t *testing.T, c Config) *fleet {
	if c.KillEvery == 0 {
		c.KillEvery = 2 * time.Second
	}
	if c.Margin == 0 {
		c.Margin = time.Second
	}
	res := &Result{Config: c, Ran: map[Key][]int{}, RanAt: map[Key][]time.Time{}, Won: map[Key][]int{}, Killed: map[int]time.Time{}, Failed: map[Key][]string{},
		Drive: map[int]time.Time{}, Heard: map[int]time.Time{}, Frame: map[int]time.Duration{}, Normal: map[Key]map[int][]string{}, Skewed: map[int]int{}}
	return &fleet{t: t, c: c, res: res, ready: make(chan struct{}, 1024)}
}

// startWorkers starts c.Workers worker processes, and kills whatever is
// still running when the test ends (if it fails half-way).
func (f *fleet) startWorkers() {
	f.t.Helper()
	f.workers = make([]*worker, f.c.Workers)
	for i := range f.workers {
		f.workers[i] = f.start(i)
	}
	f.t.Cleanup(func() {
		for _, w := range f.workers {
			_ = w.cmd.Process.Kill()
		}
	})
}

// start starts worker i: the test binary again, with the fleet's config
// and its index in the environment, its reports read into the Result.
func (f *fleet) start(i int) *worker {
	t := f.t
	spec, err := json.Marshal(childSpec{Config: f.c, Index: i})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	if tz := f.c.zoneOf(i); tz != "" {
		cmd.Env = append(cmd.Env, "TZ="+tz)
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &worker{index: i, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	f.readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.record(sc.Text())
		}
	})
	go func() { w.err = cmd.Wait(); close(w.done) }()
	return w
}

// awaitReady waits, a minute at most, until every worker has heard from
// the store.
func (f *fleet) awaitReady() {
	f.t.Helper()
	timeout := time.After(time.Minute)
	for range f.c.Workers {
		select {
		case <-f.ready:
		case <-timeout:
			f.t.Fatal("workers not ready within a minute")
		}
	}
}

// killAndRestart, with c.Kill, SIGKILLs a random worker every KillEvery
// (±50%) and starts another in its place, until the function it returns is
// called; that function returns once no kill is under way.
func (f *fleet) killAndRestart() (stop func()) {
	stopKills := make(chan struct{})
	killsDone := make(chan struct{})
	go func() {
		defer close(killsDone)
		if !f.c.Kill {
			return
		}
		rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		for {
			wait := f.c.KillEvery/2 + time.Duration(rnd.Int64N(int64(f.c.KillEvery)))
			select {
			case <-stopKills:
				return
			case <-time.After(wait):
			}
			i := rnd.IntN(len(f.workers))
			w := f.workers[i]
			pid := w.cmd.Process.Pid
			_ = w.cmd.Process.Signal(syscall.SIGKILL)
			<-w.done
			f.mu.Lock()
			f.res.Killed[pid] = time.Now()
			f.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			f.workers[i] = f.start(i)
		}
	}()
	return func() {
		close(stopKills)
		<-killsDone
	}
}

// stopWorkers closes every worker's standard input, which tells it to
// stop, and waits for each, 15 s at most (then kills it). A worker that
// did not stop or exited badly is listed in Result.Crashed.
func (f *fleet) stopWorkers() {
	for _, w := range f.workers {
		_ = w.stdin.Close()
	}
	for _, w := range f.workers {
		select {
		case <-w.done:
		case <-time.After(15 * time.Second):
			_ = w.cmd.Process.Kill()
			<-w.done
			f.res.Crashed = append(f.res.Crashed, fmt.Sprintf("worker %d did not stop", w.index))
		}
		if w.err != nil {
			f.res.Crashed = append(f.res.Crashed, fmt.Sprintf("worker %d: %v", w.index, w.err))
		}
	}
}

// record adds one line of a worker's report to the Result: "<kind> <rule>
// <slot> <pid>" (a late claim adds how long before its slot ended it was
// given up; "ready", "frame" and "drive" carry a number in place of the
// slot).
func (f *fleet) record(line string) {
	fs := strings.Fields(line)
	if len(fs) != 4 && (len(fs) != 5 || fs[0] != "late" && fs[0] != "ran") {
		return
	}
	slot, err1 := strconv.ParseInt(fs[2], 10, 64)
	pid, err2 := strconv.Atoi(fs[3])
	if err1 != nil || err2 != nil {
		return
	}
	k := Key{fs[1], slot}
	res := f.res
	f.mu.Lock()
	defer f.mu.Unlock()
	res.Heard[pid] = time.Now()
	switch fs[0] {
	case "ready":
		f.ready <- struct{}{}
	case "frame":
		res.Frame[pid] = time.Duration(slot)
	case "drive":
		res.Drive[pid] = time.Unix(0, slot)
	case "nran", "nbehind", "noverlap":
		if res.Normal[k] == nil {
			res.Normal[k] = map[int][]string{}
		}
		res.Normal[k][pid] = append(res.Normal[k][pid], fs[0][1:])
	case "won":
		res.Won[k] = append(res.Won[k], pid)
	case "ran":
		res.Ran[k] = append(res.Ran[k], pid)
		if len(fs) == 5 {
			if at, err := strconv.ParseInt(fs[4], 10, 64); err == nil {
				res.RanAt[k] = append(res.RanAt[k], time.Unix(0, at))
			}
		}
	case "err", "late", "behind":
		res.Errors++
		res.Failed[k] = append(res.Failed[k], fs[0])
		// A claim answered before its slot ended must run: one given up
		// earlier than that (a little slack for timer wake-ups) is a
		// fault, whatever else happened to the slot.
		if len(fs) < 5 {
			break
		}
		if early, err := strconv.ParseInt(fs[4], 10, 64); err == nil && early > int64(10*time.Millisecond) {
			res.EarlyLate = append(res.EarlyLate, fmt.Sprintf("%s slot %d: given up %v before it ended (pid %d)", k.Rule, k.Slot, time.Duration(early), pid))
		}
	case "overlap", "closed", "lost": // shown with a missing slot, never its excuse
		res.Failed[k] = append(res.Failed[k], fs[0])
	case "skewed": // never an excuse either: a worker whose clock is right runs it
		res.Skewed[pid]++
		res.Failed[k] = append(res.Failed[k], fs[0])
	}
}

// Check applies the guarantees to a result: no (rule, slot) runs twice
// (P1); no worker crashes; no claim answered before its slot ended is
// given up as late (P2); and every slot from the one in progress at the
// fleet's first drive step (as the worker's Health reports it) to the
// last that ended Margin before the fleet stopped ran (for a calendar
// rule, from the next one: a schedule is joined at its next occurrence),
// unless excused says otherwise. Slots are on the fleet's clock, Shift
// from the real one. It returns the number of slots checked.
func (r *Result) Check(t *testing.T, excused func(k Key, s ngxtasks.Slot) bool) int {
	t.Helper()
	for _, c := range r.Crashed {
		t.Errorf("crash: %s", c)
	}
	for k, pids := range r.Ran {
		if len(pids) > 1 {
			t.Errorf("P1 broken: %s slot %d ran %d times (pids %v)", k.Rule, k.Slot, len(pids), pids)
		}
	}
	for i, e := range r.EarlyLate {
		if i == 10 {
			t.Errorf("... %d claims given up early in all", len(r.EarlyLate))
			break
		}
		t.Errorf("P2 broken: %s", e)
	}
	checked, missing := 0, 0
	// On the fleet's clock, Shift from the real one.
	from, to := r.FirstDrive().Add(r.Config.Shift), r.End.Add(r.Config.Shift-r.Config.Margin)
	rules, err := r.Config.preemption()
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range rules {
		s := slotOf(&rule, from)
		if rule.Schedule != nil { // joined at its next occurrence, not midway
			s = slotOf(&rule, s.End)
		}
		for ; !s.End.After(to); s = slotOf(&rule, s.End) {
			k := Key{rule.Identifier, s.N}
			checked++
			if len(r.Ran[k]) == 0 && (excused == nil || !excused(k, s)) {
				missing++
				if missing <= 10 {
					t.Errorf("slot %d of %s (%v to %v) did not run (won by %v; failed claims %v; the fleet drove from %v to %v)", s.N, rule.Identifier,
						s.Start.Format("15:04:05.000"), s.End.Format("15:04:05.000"), r.Won[k], r.Failed[k], from.Format("15:04:05.000"), r.End.Format("15:04:05.000"))
				}
			}
		}
	}
	if missing > 10 {
		t.Errorf("... %d slots missing in all", missing)
	}
	return checked
}

// preemption returns the fleet's Preemption rules (callbacks left out).
func (c Config) preemption() ([]ngxtasks.Rule, error) {
	rules := make([]ngxtasks.Rule, 0, c.Rules+len(c.Calendar))
	for i := range c.Rules {
		rules = append(rules, c.RuleOf(i))
	}
	for i := range c.Calendar {
		r, err := c.CalendarOf(i)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// slotOf is the slot of r holding t, by its Schedule or on the fleet's grid.
func slotOf(r *ngxtasks.Rule, t time.Time) ngxtasks.Slot {
	if r.Schedule != nil {
		return r.Schedule.Slot(t)
	}
	return ngxtasks.EpochKeys{}.Slot(r, t)
}

// FirstDrive is when the first worker of the fleet took its first drive
// step, on the real clock (its own less its Frame): from then on, every
// slot has a worker that may run it. (A worker whose clock is far behind
// may run older slots, or skip them: they are not counted.)
func (r *Result) FirstDrive() time.Time {
	var first time.Time
	for pid, at := range r.Drive {
		at = at.Add(-r.Frame[pid])
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return cmp.Or(first, r.Start)
}

// CheckNormal applies N1 and N2 to the Normal rules, worker by worker, on
// the worker's own clock: from its first drive step (the slot in progress
// then included) until it was stopped (Margin before) or killed
// (killedQuiet before, and no later than its last report: a worker starved
// silent for longer before its kill could not report its last slots),
// each slot ran in that worker exactly once, unless the worker reported
// it skipped as N2 allows: its timer loop was starved ("behind") or the
// rule's previous run was still going ("overlap", a run slowed past its
// slot on a loaded machine). Those it counts for the caller. It returns
// the slots checked and those excused.
func (r *Result) CheckNormal(t *testing.T) (checked, excused int) {
	t.Helper()
	missing := 0
	for pid, drive := range r.Drive {
		to := r.End.Add(-r.Config.Margin)
		if killed, ok := r.Killed[pid]; ok {
			to = killed.Add(-killedQuiet)
			if heard := r.Heard[pid]; heard.Before(to) {
				to = heard
			}
		}
		to = to.Add(r.Frame[pid])
		for i := range r.Config.Normal {
			rule := r.Config.NormalOf(i)
			for s := (ngxtasks.EpochKeys{}).Slot(&rule, drive); !s.End.After(to); s = (ngxtasks.EpochKeys{}).Slot(&rule, s.End) {
				k := Key{rule.Identifier, s.N}
				got := r.Normal[k][pid]
				checked++
				runs := strings.Count(strings.Join(got, " "), "ran")
				switch {
				case runs > 1:
					t.Errorf("N1 broken: %s slot %d ran %d times in pid %d", k.Rule, k.Slot, runs, pid)
				case runs == 1:
				case slices.Contains(got, "behind"), slices.Contains(got, "overlap"):
					excused++
				default:
					missing++
					if missing <= 10 {
						t.Errorf("N2 broken: %s slot %d (%v) did not run in pid %d, which drove from %v (events %v)",
							k.Rule, k.Slot, s.Start.Format("15:04:05.000"), pid, drive.Format("15:04:05.000"), got)
					}
				}
			}
		}
	}
	if missing > 10 {
		t.Errorf("... %d Normal slots missing in all", missing)
	}
	return checked, excused
}

// StoreFailed excuses a missing slot that no worker won and that some
// worker reported as failed: its claim failed, was answered after the slot
// ended, or the worker's timer loop was starved while the slot lasted. P2
// promises a run only when the store answers and a worker is running.
// Check's caller should bound how many it excuses.
func (r *Result) StoreFailed(k Key, s ngxtasks.Slot) bool {
	return r.unanswered(k, s, "err", "late", "behind")
}

// BeforeClaimers excuses a slot that ended before the first drive step of
// every worker that won a slot: in a fleet whose other workers skip their
// slots for the clock (and report each skip), only those may run it, and
// none of them drove yet.
func (r *Result) BeforeClaimers(s ngxtasks.Slot) bool {
	var first time.Time
	for _, pids := range r.Won {
		for _, pid := range pids {
			if at, ok := r.Drive[pid]; ok {
				if at = at.Add(-r.Frame[pid]); first.IsZero() || at.Before(first) {
					first = at
				}
			}
		}
	}
	return !first.IsZero() && !s.End.After(first)
}

// StoreSlow is StoreFailed for a store that is up: a claim answered after
// its slot ended, or a starved worker, excuses a slot, but a claim that
// failed outright does not.
func (r *Result) StoreSlow(k Key, s ngxtasks.Slot) bool {
	return r.unanswered(k, s, "late", "behind")
}

// unanswered excuses, and counts in Unanswered, a slot that no worker won
// and that some worker reported failed in one of the ways given.
func (r *Result) unanswered(k Key, s ngxtasks.Slot, ways ...string) bool {
	if len(r.Won[k]) > 0 {
		return false
	}
	for _, f := range r.Failed[k] {
		if slices.Contains(ways, f) {
			r.Unanswered++
			r.UnansweredAt = append(r.UnansweredAt, s.Start)
			r.UnansweredIn = append(r.UnansweredIn, s)
			return true
		}
	}
	return false
}

// Busy excuses a missing slot that no worker won and that some worker
// skipped because the rule's previous run was still going there: P2
// promises a run only by a worker that is free to run it, and one busy
// with its previous run does not claim (most often the only worker
// driving yet, at the start of a fleet). It counts them in Busied; the
// caller should bound them.
func (r *Result) Busy(k Key, s ngxtasks.Slot) bool {
	if len(r.Won[k]) > 0 || !slices.Contains(r.Failed[k], "overlap") {
		return false
	}
	r.Busied++
	return true
}

// DiedWithWinner excuses a missing slot whose winner was killed: a worker
// that reported winning it and was killed, or a kill just when the slot was
// being claimed (the winner died between its claim and its report). Slots
// are claimed within milliseconds of their start.
func (r *Result) DiedWithWinner(k Key, s ngxtasks.Slot) bool {
	for _, pid := range r.Won[k] {
		if _, killed := r.Killed[pid]; killed {
			r.Excused++
			return true
		}
	}
	for _, at := range r.Killed {
		if !at.Before(s.Start.Add(-100*time.Millisecond)) && !at.After(s.Start.Add(500*time.Millisecond)) {
			r.Excused++
			return true
		}
		// No worker said it won, and one was killed before it could have
		// said so: a winner starved between its claim's answer and its
		// report (a loaded machine) and then killed leaves no trace.
		if len(r.Won[k]) == 0 && !at.Before(s.Start) && !at.After(s.End.Add(killedQuiet)) {
			r.Excused++
			return true
		}
	}
	return false
}

// killedQuiet is how long before its SIGKILL a worker may have been
// starved silent: its last slots before the kill are not held against it.
const killedQuiet = 2 * time.Second

// UnansweredBySecond counts the unanswered slots by the second of the run
// they began in, listing only the busiest seconds (at most n): a store that
// stalled shows as a few seconds with most of them, an overloaded machine as
// a thin spread.
func (r *Result) UnansweredBySecond(n int) string {
	per := map[int]int{}
	for _, at := range r.UnansweredAt {
		per[int(at.Sub(r.Start)/time.Second)]++
	}
	secs := make([]int, 0, len(per))
	for s := range per {
		secs = append(secs, s)
	}
	slices.SortFunc(secs, func(a, b int) int { return cmp.Or(per[b]-per[a], a-b) })
	var b strings.Builder
	fmt.Fprintf(&b, "%d seconds of %v had some", len(secs), r.End.Sub(r.Start).Round(time.Second))
	for i, s := range secs {
		if i == n {
			b.WriteString(", …")
			break
		}
		fmt.Fprintf(&b, ", %d at %ds", per[s], s)
	}
	return b.String()
}
