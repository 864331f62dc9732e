package fleettest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// A LeaseRule is a Preemption rule whose runs hold a lease (Overlap skip)
// and last Run, longer than its Interval: while one goes on, the fleet
// skips the rule's slots. Each worker appends what its runs do to the
// shared Trace file, one line per write (O_APPEND), so that lines from
// every process land whole, and a line written before a SIGKILL stays.
type LeaseRule struct {
	ID       string
	Interval time.Duration
	Run      time.Duration // how long a run lasts unless cancelled
	Trace    string        // the trace file, shared by the workers
	// Fence, if set, is the URL of a resource that checks fencing tokens:
	// the run then works in steps of Step, each a pause that ignores its
	// context (work under way) followed by a POST of its token
	// (?token=N&pid=P), and checks its context only after each write, as
	// a callback that writes somewhere does: a worker paused mid-step
	// makes its write when it wakes, before it can notice anything. Without it, the run waits for
	// its end or its context, and notes which came first at once.
	Fence string
	Step  time.Duration
}

// Rule returns the lease rule, its callback left out.
func (l *LeaseRule) Rule() ngxtasks.Rule {
	return ngxtasks.Rule{Identifier: l.ID, Interval: l.Interval, Type: ngxtasks.Preemption, Overlap: ngxtasks.OverlapSkip}
}

// A TraceLine is one line of a lease rule's trace: "<unix ns> <pid> <kind>
// <slot> <token> <what>". Kinds: "start" (a run began; what is its slot's
// start, unix ns), "end" (its callback returned; what is "done", "lost"
// when its context's cause is ngxtasks.ErrLeaseLost, "stopping" when the
// worker was told to stop, or the cause), "write"
// (a POST to the fence; what is its status code, or "error"), "fin" (the
// run's EventFinished: "ok", "leaselost" or "err"), "skip" (an
// EventSkipped; what is its reason, spaces as dashes, then for
// "running-elsewhere" the holder its HeldError names, whose token is the
// line's), and "log" (a line
// the worker's logger wrote at Warn or above; what is its text).
type TraceLine struct {
	At          time.Time
	Pid         int
	Kind        string
	Slot        int64
	Token       uint64
	What        string
	SlotStarted time.Time // for "start"
}

// traceWriter appends lines to the trace file, each in one write.
type traceWriter struct{ f *os.File }

func (w traceWriter) line(kind string, slot int64, token uint64, what string) {
	what = strings.ReplaceAll(strings.TrimSpace(what), "\n", " ")
	if what == "" {
		what = "-"
	}
	_, _ = fmt.Fprintf(w.f, "%d %d %s %d %d %s\n", time.Now().UnixNano(), os.Getpid(), kind, slot, token, what)
}

// Write takes one log record (slog's text handler writes each in one call).
func (w traceWriter) Write(p []byte) (int, error) {
	w.line("log", 0, 0, string(p))
	return len(p), nil
}

// setup adds the lease rule to a worker: its callback, and the observer
// and logger that trace its events. A run ends ("stopping") when stopping
// is closed, the worker being told to stop: Shutdown would wait for it. It
// returns the rule, and a function to close the trace.
func (l *LeaseRule) setup(m *ngxtasks.Manager, stopping <-chan struct{}) (ngxtasks.Rule, func(), error) {
	f, err := os.OpenFile(l.Trace, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return ngxtasks.Rule{}, nil, err
	}
	tw := traceWriter{f}
	m.Logger = slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	next := m.Observer
	m.Observer = func(ev ngxtasks.Event) {
		if ev.Rule.Identifier == l.ID {
			switch ev.Kind {
			case ngxtasks.EventSkipped:
				what, token := strings.ReplaceAll(ev.Reason.String(), " ", "-"), uint64(0)
				if he, ok := errors.AsType[*ngxtasks.HeldError](ev.Err); ok {
					what, token = what+" "+he.Holder, he.Token
				}
				tw.line("skip", ev.Slot.N, token, what)
			case ngxtasks.EventFinished:
				what := "ok"
				switch {
				case errors.Is(ev.Err, ngxtasks.ErrLeaseLost):
					what = "leaselost"
				case ev.Err != nil:
					what = "err"
				}
				tw.line("fin", ev.Slot.N, 0, what)
			}
		}
		if next != nil {
			next(ev)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	r := l.Rule()
	r.Callback = func(ctx context.Context, fi ngxtasks.Firing) error {
		tw.line("start", fi.Slot.N, fi.Token, strconv.FormatInt(fi.Slot.Start.UnixNano(), 10))
		end := time.NewTimer(l.Run)
		defer end.Stop()
		ended := func() error {
			select {
			case <-stopping:
				if ctx.Err() == nil {
					tw.line("end", fi.Slot.N, fi.Token, "stopping")
					return nil
				}
			default:
			}
			if cause := context.Cause(ctx); cause != nil {
				what := cause.Error()
				if errors.Is(cause, ngxtasks.ErrLeaseLost) {
					what = "lost"
				}
				tw.line("end", fi.Slot.N, fi.Token, what)
				return cause
			}
			tw.line("end", fi.Slot.N, fi.Token, "done")
			return nil
		}
		if l.Fence == "" {
			select {
			case <-ctx.Done():
			case <-end.C:
			case <-stopping:
			}
			return ended()
		}
		for {
			time.Sleep(l.Step) // work under way: a pause here is a late write
			what := "error"
			req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s?token=%d&pid=%d", l.Fence, fi.Token, os.Getpid()), nil)
			if err == nil {
				if resp, err := client.Do(req); err == nil {
					what = strconv.Itoa(resp.StatusCode)
					_ = resp.Body.Close()
				}
			}
			tw.line("write", fi.Slot.N, fi.Token, what)
			if ctx.Err() != nil {
				return ended()
			}
			select {
			case <-end.C:
				return ended()
			case <-stopping:
				return ended()
			default:
			}
		}
	}
	return r, func() { _ = f.Close() }, nil
}

// ReadTrace reads a lease rule's trace, sorted by time.
func ReadTrace(path string) ([]TraceLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []TraceLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.SplitN(sc.Text(), " ", 6)
		if len(fs) != 6 {
			return nil, fmt.Errorf("trace line %q", sc.Text())
		}
		ns, err1 := strconv.ParseInt(fs[0], 10, 64)
		pid, err2 := strconv.Atoi(fs[1])
		slot, err3 := strconv.ParseInt(fs[3], 10, 64)
		token, err4 := strconv.ParseUint(fs[4], 10, 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("trace line %q: %w", sc.Text(), err)
		}
		l := TraceLine{At: time.Unix(0, ns), Pid: pid, Kind: fs[2], Slot: slot, Token: token, What: fs[5]}
		if l.Kind == "start" {
			if s, err := strconv.ParseInt(l.What, 10, 64); err == nil {
				l.SlotStarted = time.Unix(0, s)
			}
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(lines, func(a, b TraceLine) int { return a.At.Compare(b.At) })
	return lines, nil
}

// A Handle lets Config.Act act on the fleet's workers, by pid.
type Handle struct{ f *fleet }

// Kill SIGKILLs the worker whose pid is given, waits until it is gone,
// records it in Result.Killed, and starts another in its place. It
// returns when the worker was seen dead, or false if no worker has the
// pid.
func (h Handle) Kill(pid int) (time.Time, bool) {
	f := h.f
	for i, w := range f.workers {
		if w.cmd.Process.Pid != pid {
			continue
		}
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
		<-w.done
		at := time.Now()
		f.mu.Lock()
		f.res.Killed[pid] = at
		f.mu.Unlock()
		f.workers[i] = f.start(i)
		return at, true
	}
	return time.Time{}, false
}

// Signal sends a signal (SIGSTOP, SIGCONT) to the worker whose pid is
// given, if it is one of the fleet's.
func (h Handle) Signal(pid int, sig syscall.Signal) error {
	for _, w := range h.f.workers {
		if w.cmd.Process.Pid == pid {
			return w.cmd.Process.Signal(sig)
		}
	}
	return fmt.Errorf("no worker has pid %d", pid)
}
