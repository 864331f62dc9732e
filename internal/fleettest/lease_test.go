package fleettest_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
	"github.com/ngxtasks/ngxtasks/internal/fleettest"
)

// leaseTTL is the workers' LeaseTTL in the lease fleets: a lease is
// renewed every 667 ms, and a run not renewed for 1.6 s is cancelled.
const leaseTTL = 2 * time.Second

// expirySlack is how long after its TTL a dead holder's lease may take to
// be seen gone: a renewal sent just before the kill lands after it; and
// etcd, whose leases are whole seconds, revokes expired ones in a loop
// every 500 ms, through Raft (expirySlackOf gives it more).
const expirySlack = time.Second

// expirySlackOf is expirySlack for a backend: twice as much for etcd.
func expirySlackOf(backend string) time.Duration {
	if backend == "etcd" {
		return 2 * expirySlack
	}
	return expirySlack
}

// A leaseRun is one run of a lease rule, from its trace.
type leaseRun struct {
	pid         int
	slot        int64
	token       uint64
	slotStarted time.Time
	start, end  time.Time
	how         string // "done", "lost", another cause, "killed", "stopped" (never ended: SIGSTOPped past the fleet's end)
	finished    string // its EventFinished: "ok", "leaselost", "err", or "" for none
}

// leaseRuns reads a trace into its runs, by token, and reports lines that
// break the trace's own rules: a token started twice, an end with no start.
func leaseRuns(t *testing.T, lines []fleettest.TraceLine, killed map[int]time.Time) []*leaseRun {
	t.Helper()
	byToken := map[uint64]*leaseRun{}
	var runs []*leaseRun
	for _, l := range lines {
		switch l.Kind {
		case "start":
			if r := byToken[l.Token]; r != nil {
				t.Errorf("token %d given to two runs: slot %d in pid %d and slot %d in pid %d", l.Token, r.slot, r.pid, l.Slot, l.Pid)
				continue
			}
			r := &leaseRun{pid: l.Pid, slot: l.Slot, token: l.Token, slotStarted: l.SlotStarted, start: l.At}
			byToken[l.Token] = r
			runs = append(runs, r)
		case "end":
			r := byToken[l.Token]
			if r == nil || r.pid != l.Pid {
				t.Errorf("pid %d ended a run under token %d that it did not start", l.Pid, l.Token)
				continue
			}
			r.end, r.how = l.At, l.What
		}
	}
	for _, l := range lines {
		if l.Kind != "fin" {
			continue
		}
		for _, r := range runs {
			if r.pid == l.Pid && r.slot == l.Slot {
				r.finished = l.What
			}
		}
	}
	for _, r := range runs {
		if at, ok := killed[r.pid]; ok && r.end.IsZero() {
			r.end, r.how = at, "killed" // a killed run ends at its kill
		}
	}
	return runs
}

// checkLeaseRuns asserts what holds of every lease fleet: tokens strictly
// rise from run to run (in the order the runs began), and, but for the
// runs under the tokens in paused, never two runs at once. It returns the
// smallest gap seen between a run's end and the next one's start.
func checkLeaseRuns(t *testing.T, runs []*leaseRun, paused map[uint64]bool) time.Duration {
	t.Helper()
	gap := time.Duration(-1)
	var last *leaseRun // the latest-ending run so far, of the pids not paused
	for i, r := range runs {
		if i > 0 && r.token <= runs[i-1].token {
			t.Errorf("tokens not rising: slot %d (pid %d) began under token %d after slot %d (pid %d) under %d",
				r.slot, r.pid, r.token, runs[i-1].slot, runs[i-1].pid, runs[i-1].token)
		}
		if paused[r.token] {
			continue
		}
		if r.end.IsZero() {
			t.Errorf("the run of slot %d under token %d (pid %d) never ended", r.slot, r.token, r.pid)
			continue
		}
		if last != nil {
			if d := r.start.Sub(last.end); d < 0 {
				t.Errorf("two runs at once: slot %d (token %d, pid %d) began at %v, %v before slot %d (token %d, pid %d, %s) ended",
					r.slot, r.token, r.pid, r.start.Format("15:04:05.000"), -d, last.slot, last.token, last.pid, last.how)
			} else if gap < 0 || d < gap {
				gap = d
			}
		}
		if last == nil || r.end.After(last.end) {
			last = r
		}
	}
	return gap
}

// holderOf returns the run going on now, begun at least minAge and at
// most maxAge ago, in a pid not in gone; false if none.
func holderOf(t *testing.T, trace string, minAge, maxAge time.Duration, gone map[int]bool) (*leaseRun, bool) {
	lines, err := fleettest.ReadTrace(trace)
	if err != nil {
		return nil, false // not written yet
	}
	runs := leaseRuns(t, lines, nil)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		age := time.Since(r.start)
		if r.end.IsZero() && !gone[r.pid] && age >= minAge && age <= maxAge {
			return r, true
		}
	}
	return nil, false
}

// skipsOf lists what the workers reported skipping slot n for.
func skipsOf(lines []fleettest.TraceLine, n int64) []string {
	var why []string
	for _, l := range lines {
		if l.Kind == "skip" && l.Slot == n {
			why = append(why, reasonOf(l))
		}
	}
	return why
}

// reasonOf is a skip line's reason, without the holder it may name.
func reasonOf(l fleettest.TraceLine) string {
	reason, _, _ := strings.Cut(l.What, " ")
	return reason
}

// checkHeld asserts that every slot skipped as running elsewhere names
// (its HeldError) the holder and token of a run of that slot or an
// earlier one (a worker whose claim of a slot comes after the winner's
// finds the winner's lease: it reports the slot skipped as running
// elsewhere, not lost) that was still going, or had ended (a killed run)
// no longer than a lease lives before. A token no run began under is a lease
// taken with a claim answered too late to run, let go at once: those are
// counted. It returns how many skips it checked, and those unknown.
func checkHeld(t *testing.T, lines []fleettest.TraceLine, runs []*leaseRun) (checked, unknown int) {
	t.Helper()
	byToken := map[uint64]*leaseRun{}
	for _, r := range runs {
		byToken[r.token] = r
	}
	bad := 0
	for _, l := range lines {
		if l.Kind != "skip" || reasonOf(l) != "running-elsewhere" {
			continue
		}
		checked++
		_, holder, _ := strings.Cut(l.What, " ")
		r := byToken[l.Token]
		if r == nil {
			unknown++
			continue
		}
		var why string
		switch {
		case !strings.HasSuffix(holder, "-"+strconv.Itoa(r.pid)):
			why = fmt.Sprintf("names holder %q, but pid %d ran under token %d", holder, r.pid, r.token)
		case l.Slot < r.slot: // the same slot: the worker lost the race for it to that run
			why = fmt.Sprintf("names the run under token %d of a later slot, %d", r.token, r.slot)
		case !r.end.IsZero() && l.At.After(r.end.Add(leaseTTL+expirySlackOf("etcd"))):
			why = fmt.Sprintf("names the run under token %d, which ended %v before (%s)", r.token, l.At.Sub(r.end).Round(time.Millisecond), r.how)
		}
		if why != "" {
			if bad++; bad <= 10 {
				t.Errorf("slot %d skipped as running elsewhere by pid %d at %v: its HeldError %s", l.Slot, l.Pid, l.At.Format("15:04:05.000"), why)
			}
		}
	}
	return checked, unknown
}

// excusedBy reports whether a skip reason lets a slot go unrun: the
// library said the store did not answer, or the worker was starved or
// stopping. "running-elsewhere" and "overlap" never do: for a slot after
// the holder's lease expired, they would say the lease outlived it.
func excusedBy(why []string) bool {
	for _, w := range why {
		switch w {
		case "claim-error", "late", "behind", "clock-skewed", "closed", "busy":
			return true
		}
	}
	return false
}

// TestLeaseHolderSIGKILLedNeverTwoRunsAtOnceAndTheNextSlotRuns: a Preemption
// rule with Overlap skip, every second, whose runs last 2.5 s, in 4 worker
// processes with a LeaseTTL of 2 s; the worker holding a run is SIGKILLed
// mid-run, three times. On every backend: never two runs of the rule at
// once anywhere (a killed run ends at its kill), each run's token higher
// than the last, slots that come during a run skipped as running
// elsewhere, and after each kill the first slot that begins once the dead
// holder's lease has expired (kill + LeaseTTL + 1 s of slack, 2 s on etcd)
// runs, or an earlier one after the kill does, unless the library reported
// it skipped for a reason other than running elsewhere.
func TestLeaseHolderSIGKILLedNeverTwoRunsAtOnceAndTheNextSlotRuns(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			trace := filepath.Join(t.TempDir(), "trace")
			lr := &fleettest.LeaseRule{ID: "long", Interval: time.Second, Run: 2500 * time.Millisecond, Trace: trace}
			type kill struct {
				run *leaseRun
				at  time.Time
			}
			var kills []kill
			cfg := fleettest.Config{Dict: url(t, b.env), Namespace: "leasekill-" + b.name + time.Now().Format("150405.000"), Workers: 4,
				For: 30 * time.Second, Lease: lr, LeaseTTL: leaseTTL,
				Act: func(t *testing.T, h fleettest.Handle) {
					stopBy := time.Now().Add(30*time.Second - leaseTTL - expirySlackOf(b.name) - 4*time.Second)
					gone := map[int]bool{}
					for len(kills) < 3 && time.Now().Before(stopBy) {
						r, ok := holderOf(t, trace, 800*time.Millisecond, 1500*time.Millisecond, gone)
						if !ok {
							time.Sleep(50 * time.Millisecond)
							continue
						}
						at, ok := h.Kill(r.pid)
						if !ok {
							t.Fatalf("pid %d of the trace is no worker of the fleet", r.pid)
						}
						gone[r.pid] = true
						kills = append(kills, kill{r, at})
						time.Sleep(leaseTTL + expirySlackOf(b.name) + 2*time.Second)
					}
				}}
			res := fleettest.Run(t, cfg)
			for _, c := range res.Crashed {
				t.Errorf("crash: %s", c)
			}
			lines, err := fleettest.ReadTrace(trace)
			if err != nil {
				t.Fatal(err)
			}
			runs := leaseRuns(t, lines, res.Killed)
			gap := checkLeaseRuns(t, runs, nil)
			if len(kills) < 2 {
				t.Fatalf("only %d holders killed (%d runs in all)", len(kills), len(runs))
			}
			hows := map[string]int{}
			for _, r := range runs {
				hows[r.how]++
			}
			elsewhere, unknown := checkHeld(t, lines, runs)
			if elsewhere == 0 {
				t.Error("no slot was skipped as running elsewhere, though every run outlasts two slots")
			}
			rule := lr.Rule()
			excused := 0
			var takeovers []string
			for _, k := range kills {
				bound := k.at.Add(leaseTTL + expirySlackOf(b.name))
				target := ngxtasks.EpochKeys{}.Slot(&rule, bound)
				if target.Start.Before(bound) {
					target = ngxtasks.EpochKeys{}.Slot(&rule, target.End)
				}
				if target.End.After(res.End.Add(-time.Second)) {
					t.Logf("kill at %v: its slot %d ends too near the fleet's end to be checked", k.at.Format("15:04:05.000"), target.N)
					continue
				}
				var next *leaseRun
				for _, r := range runs {
					if r.token > k.run.token && !r.slotStarted.After(target.Start) {
						next = r
						break
					}
				}
				if next != nil {
					takeovers = append(takeovers, fmt.Sprintf("%v (slot %d, token %d→%d)", next.start.Sub(k.at).Round(time.Millisecond), next.slot, k.run.token, next.token))
					continue
				}
				why := skipsOf(lines, target.N)
				if excusedBy(why) {
					excused++
					t.Logf("kill at %v: slot %d, the first after the lease expired, was reported skipped %v", k.at.Format("15:04:05.000"), target.N, why)
					continue
				}
				t.Errorf("holder pid %d (token %d) killed at %v: slot %d (%v), the first to begin after its lease expired, did not run (skips reported: %v)",
					k.run.pid, k.run.token, k.at.Format("15:04:05.000"), target.N, target.Start.Format("15:04:05.000"), why)
			}
			t.Logf("%d runs (ends: %v), %d holders SIGKILLed mid-run; taken over after each kill in %v; %d slots skipped as running elsewhere (%d naming a token no run began under), %d first slots excused; smallest gap between a run's end and the next start %v",
				len(runs), hows, len(kills), takeovers, elsewhere, unknown, excused, gap)
		})
	}
}

// fence is a resource that checks fencing tokens: it keeps the highest
// token it has accepted and refuses a write under a lower one (409).
type fence struct {
	mu       sync.Mutex
	highest  uint64
	accepted []fenceWrite
	refused  []fenceWrite
}

type fenceWrite struct {
	at    time.Time
	token uint64
	pid   int
}

func (f *fence) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, err1 := strconv.ParseUint(r.URL.Query().Get("token"), 10, 64)
	pid, err2 := strconv.Atoi(r.URL.Query().Get("pid"))
	if r.Method != http.MethodPost || err1 != nil || err2 != nil || token == 0 {
		http.Error(w, "bad write", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wr := fenceWrite{time.Now(), token, pid}
	if token < f.highest {
		f.refused = append(f.refused, wr)
		http.Error(w, fmt.Sprintf("token %d is below %d", token, f.highest), http.StatusConflict)
		return
	}
	f.highest = token
	f.accepted = append(f.accepted, wr)
	w.WriteHeader(http.StatusNoContent)
}

func (f *fence) top() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.highest
}

// startFence serves a fence on a loopback port until the test ends.
func startFence(t *testing.T) (*fence, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fence{}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f, "http://" + ln.Addr().String() + "/write"
}

// TestLeaseStaleHolderIsFencedAndCancelled: the same rule, its runs 8 s
// long (a stale run must not end of itself as it wakes), writing to a fenced resource (a loopback HTTP server that refuses
// a token lower than the highest it accepted) every 200 ms under their
// token, each write made after a pause that ignores the run's context. The
// holder is SIGSTOPped mid-run, and left stopped until another worker has
// taken the lease and written under a higher token (longer than LeaseTTL);
// then SIGCONT: three times, one after the other. On every backend: each
// write a stale holder makes once woken is refused, each stale run is
// cancelled with ErrLeaseLost (its EventFinished and its log say so),
// tokens rise, no write is accepted under a token after a run with a higher
// one began, never two runs at once but for the paused ones, and each time
// another worker takes over, unless the library reported the slots skipped
// for a reason other than running elsewhere.
func TestLeaseStaleHolderIsFencedAndCancelled(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			trace := filepath.Join(t.TempDir(), "trace")
			fc, fenceURL := startFence(t)
			lr := &fleettest.LeaseRule{ID: "fenced", Interval: time.Second, Run: 8 * time.Second, Trace: trace,
				Fence: fenceURL, Step: 200 * time.Millisecond}
			type pause struct {
				run             *leaseRun
				stopped, resumd time.Time
				takenBy         uint64 // the higher token the fence accepted meanwhile, 0 if none
			}
			var pauses []pause
			cfg := fleettest.Config{Dict: url(t, b.env), Namespace: "leasefence-" + b.name + time.Now().Format("150405.000"), Workers: 4,
				For: 30 * time.Second, Lease: lr, LeaseTTL: leaseTTL,
				Act: func(t *testing.T, h fleettest.Handle) {
					stopBy := time.Now().Add(30*time.Second - 15*time.Second)
					none := map[int]bool{}
					for len(pauses) < 3 && time.Now().Before(stopBy) {
						r, ok := holderOf(t, trace, 500*time.Millisecond, 2*time.Second, none)
						if !ok {
							time.Sleep(50 * time.Millisecond)
							continue
						}
						if err := h.Signal(r.pid, syscall.SIGSTOP); err != nil {
							t.Fatal(err)
						}
						p := pause{run: r, stopped: time.Now()}
						for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
							if top := fc.top(); top > r.token {
								p.takenBy = top
								break
							}
						}
						if err := h.Signal(r.pid, syscall.SIGCONT); err != nil {
							t.Fatal(err)
						}
						p.resumd = time.Now()
						pauses = append(pauses, p)
						// Until the stale run has ended, or 5 s.
						for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
							if lines, err := fleettest.ReadTrace(trace); err == nil && slices.ContainsFunc(lines, func(l fleettest.TraceLine) bool {
								return l.Kind == "end" && l.Token == r.token
							}) {
								break
							}
						}
					}
				}}
			res := fleettest.Run(t, cfg)
			for _, c := range res.Crashed {
				t.Errorf("crash: %s", c)
			}
			lines, err := fleettest.ReadTrace(trace)
			if err != nil {
				t.Fatal(err)
			}
			runs := leaseRuns(t, lines, nil)
			stale := map[uint64]bool{}
			for _, p := range pauses {
				stale[p.run.token] = true
			}
			gap := checkLeaseRuns(t, runs, stale) // never two at once, but for the paused runs
			elsewhere, unknown := checkHeld(t, lines, runs)
			if len(pauses) < 2 {
				t.Fatalf("only %d holders paused (%d runs in all)", len(pauses), len(runs))
			}
			fc.mu.Lock()
			accepted, refused := slices.Clone(fc.accepted), slices.Clone(fc.refused)
			fc.mu.Unlock()
			// No write accepted under a token once a run under a higher one
			// had begun.
			for _, w := range accepted {
				for _, r := range runs {
					if r.token > w.token && r.start.Before(w.at) {
						t.Errorf("a write under token %d (pid %d) accepted at %v, after the run under token %d (pid %d) began at %v",
							w.token, w.pid, w.at.Format("15:04:05.000"), r.token, r.pid, r.start.Format("15:04:05.000"))
						break
					}
				}
			}
			rule := lr.Rule()
			staleRefused, excused := 0, 0
			var took []string
			for _, p := range pauses {
				r := p.run
				if p.takenBy == 0 {
					// No one took over within 10 s: every slot then must have
					// been reported skipped for a reason of the library's.
					var unexcused []int64
					for s := (ngxtasks.EpochKeys{}).Slot(&rule, p.stopped.Add(leaseTTL+expirySlackOf(b.name))); s.End.Before(p.resumd); s = (ngxtasks.EpochKeys{}).Slot(&rule, s.End) {
						if !excusedBy(skipsOf(lines, s.N)) {
							unexcused = append(unexcused, s.N)
						}
					}
					if len(unexcused) > 0 {
						t.Errorf("holder pid %d (token %d) stopped at %v for %v: no one took over; slots %v were not reported skipped for the store or the machine",
							r.pid, r.token, p.stopped.Format("15:04:05.000"), p.resumd.Sub(p.stopped).Round(time.Millisecond), unexcused)
					} else {
						excused++
					}
					continue
				}
				took = append(took, fmt.Sprintf("%v (token %d→%d)", p.resumd.Sub(p.stopped).Round(time.Millisecond), r.token, p.takenBy))
				// Every write the stale run made once woken was refused.
				n := 0
				for _, w := range accepted {
					if w.token == r.token && w.at.After(p.resumd) {
						t.Errorf("stale holder pid %d: a write under token %d accepted at %v, after it was woken", r.pid, r.token, w.at.Format("15:04:05.000"))
					}
				}
				for _, w := range refused {
					if w.token == r.token && w.pid == r.pid && w.at.After(p.stopped) {
						n++
					}
				}
				staleRefused += n
				// It was cancelled for its lease, and said so.
				var ended *leaseRun
				for _, x := range runs {
					if x.token == r.token {
						ended = x
					}
				}
				logged := slices.ContainsFunc(lines, func(l fleettest.TraceLine) bool {
					return l.Kind == "log" && l.Pid == r.pid && l.At.After(p.stopped) &&
						strings.Contains(l.What, "run cancelled: its lease is lost") && strings.Contains(l.What, "token="+strconv.FormatUint(r.token, 10))
				})
				if ended == nil || ended.how != "lost" || ended.finished != "leaselost" || !logged {
					how, fin := "never", ""
					if ended != nil {
						how, fin = ended.how, ended.finished
					}
					var logs []string
					for _, l := range lines {
						if l.Kind == "log" && l.Pid == r.pid {
							logs = append(logs, l.At.Format("15:04:05.000 ")+l.What)
						}
					}
					t.Errorf("stale holder pid %d (token %d, slot %d, woken at %v): its run ended %q, finished %q, logged the loss %v; want cancelled with ErrLeaseLost, and said so (its log: %q)",
						r.pid, r.token, r.slot, p.resumd.Format("15:04:05.000"), how, fin, logged, logs)
				}
			}
			if staleRefused == 0 && excused < len(pauses) {
				t.Error("no stale write was refused: the paused holders wrote nothing once woken")
			}
			t.Logf("%d runs, %d holders paused (stopped for, tokens: %v), %d pauses excused; fence: %d writes accepted, %d refused (%d by a woken stale holder); %d slots skipped as running elsewhere (%d naming a token no run began under); smallest gap between runs not paused %v",
				len(runs), len(pauses), took, excused, len(accepted), len(refused), staleRefused, elsewhere, unknown, gap)
		})
	}
}

// TestLeaseOutageCancelsTheRunBeforeItsLeaseCanPass stops the store (Redis,
// PostgreSQL) for 5 s while a run of the lease rule goes on, its run 10 s
// long, so it would outlast the outage: the run is cancelled with
// ErrLeaseLost (and says so) before the store is back, that is before its
// lease could pass to another worker, and within LeaseTTL of the store's
// going down (when the lease would have expired had the store stayed up for
// the others); no second run starts while it goes on, tokens rise, and once
// the store is back the rule runs again (the first slot that begins a
// reconnect delay and a second after it, or an earlier one), unless the
// library reported that slot skipped for the store or the machine. It stops
// shared servers, so the test script runs it alone (NGXTASKS_OUTAGE=1).
func TestLeaseOutageCancelsTheRunBeforeItsLeaseCanPass(t *testing.T) {
	if os.Getenv("NGXTASKS_OUTAGE") == "" {
		t.Skip("stops the shared servers: scripts/test runs it on its own with NGXTASKS_OUTAGE=1")
	}
	for _, b := range outageBackends {
		t.Run(b.name, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace")
			stop, start := dicttest.ServerControl(t, b.ctl)
			lr := &fleettest.LeaseRule{ID: "outlasting", Interval: time.Second, Run: 10 * time.Second, Trace: trace}
			var held *leaseRun
			var down, stopped, restarting, back time.Time
			cfg := fleettest.Config{Dict: url(t, b.env), Namespace: "leaseoutage-" + b.name + time.Now().Format("150405.000"), Workers: 4,
				For: 25 * time.Second, Lease: lr, LeaseTTL: leaseTTL,
				Act: func(t *testing.T, h fleettest.Handle) {
					for deadline := time.Now().Add(10 * time.Second); held == nil; time.Sleep(50 * time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatal("no run of the lease rule within 10 s")
						}
						held, _ = holderOf(t, trace, 500*time.Millisecond, 2*time.Second, nil)
					}
					down = time.Now()
					if err := stop(); err != nil {
						t.Fatal(err)
					}
					stopped = time.Now()
					time.Sleep(5 * time.Second)
					restarting = time.Now()
					if err := start(); err != nil {
						t.Fatal(err)
					}
					back = time.Now()
				}}
			res := fleettest.Run(t, cfg)
			for _, c := range res.Crashed {
				t.Errorf("crash: %s", c)
			}
			lines, err := fleettest.ReadTrace(trace)
			if err != nil {
				t.Fatal(err)
			}
			runs := leaseRuns(t, lines, nil)
			gap := checkLeaseRuns(t, runs, nil)
			elsewhere, _ := checkHeld(t, lines, runs)
			var r *leaseRun
			for _, x := range runs {
				if x.token == held.token {
					r = x
				}
			}
			switch {
			case r == nil || r.end.IsZero():
				t.Fatalf("the run under token %d never ended", held.token)
			case r.how != "lost" || r.finished != "leaselost":
				t.Errorf("the run under token %d (pid %d) ended %q, finished %q; want cancelled with ErrLeaseLost", r.token, r.pid, r.how, r.finished)
			case !r.end.Before(restarting):
				t.Errorf("the run under token %d ended at %v, once the store was being restarted (%v): its lease could have passed on",
					r.token, r.end.Format("15:04:05.000"), restarting.Format("15:04:05.000"))
			case r.end.After(stopped.Add(leaseTTL)):
				t.Errorf("the run under token %d ended at %v, %v after the store was down (%v): later than its lease could live unrenewed",
					r.token, r.end.Format("15:04:05.000"), r.end.Sub(stopped).Round(time.Millisecond), stopped.Format("15:04:05.000"))
			}
			if !slices.ContainsFunc(lines, func(l fleettest.TraceLine) bool {
				return l.Kind == "log" && l.Pid == held.pid && strings.Contains(l.What, "run cancelled: its lease is lost")
			}) {
				t.Errorf("pid %d did not log its run's cancellation", held.pid)
			}
			// The rule runs again once the store is back.
			rule := lr.Rule()
			bound := back.Add(b.reconnect + time.Second)
			target := ngxtasks.EpochKeys{}.Slot(&rule, bound)
			if target.Start.Before(bound) {
				target = ngxtasks.EpochKeys{}.Slot(&rule, target.End)
			}
			var again *leaseRun
			for _, x := range runs {
				if x.token > held.token && !x.slotStarted.After(target.Start) {
					again = x
					break
				}
			}
			after := "none"
			if again != nil {
				after = again.start.Sub(back).Round(time.Millisecond).String()
			} else if why := skipsOf(lines, target.N); !excusedBy(why) {
				t.Errorf("slot %d (%v), the first to begin %v after the store was back, did not run (skips reported: %v)",
					target.N, target.Start.Format("15:04:05.000"), b.reconnect+time.Second, why)
			}
			t.Logf("%d runs; store down %v (stopping took %v); the run under token %d cancelled %v after the store went down, %v before it was back; the next run began %v after; %d slots skipped as running elsewhere; smallest gap between runs %v",
				len(runs), back.Sub(down).Round(time.Millisecond), stopped.Sub(down).Round(time.Millisecond), held.token,
				r.end.Sub(down).Round(time.Millisecond), restarting.Sub(r.end).Round(time.Millisecond), after, elsewhere, gap)
		})
	}
}
