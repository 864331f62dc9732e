package ngxtasks_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestB1_PanicsAndErrorsAreRecoveredAndReported: the worker goes on.
func TestB1_PanicsAndErrorsAreRecoveredAndReported(t *testing.T) {
	clock := newFakeClock(t0)
	log := newRunLog()
	boom := errors.New("boom")
	m := &ngxtasks.Manager{Clock: clock, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	err := m.Push(
		ngxtasks.Rule{Identifier: "panics", Interval: time.Second, Type: ngxtasks.Normal,
			Callback: func(context.Context, ngxtasks.Firing) error { panic("kaboom") }},
		ngxtasks.Rule{Identifier: "fails", Interval: time.Second, Type: ngxtasks.Preemption,
			Callback: func(context.Context, ngxtasks.Firing) error { return boom }},
		ngxtasks.Rule{Identifier: "panicky-filter", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback,
			Filter: func(context.Context, ngxtasks.Firing) bool { panic("filter kaboom") }},
		ngxtasks.Rule{Identifier: "fine", Interval: time.Second, Type: ngxtasks.Normal, Callback: log.callback},
	)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		err := m.Run(context.Background())
		var pe *ngxtasks.PanicError
		if !errors.As(err, &pe) || !errors.Is(err, boom) {
			t.Fatalf("Run returned %v, want the panic and the error joined", err)
		}
		if !strings.Contains(string(pe.Stack), "failures_test.go") || pe.Value != "kaboom" {
			t.Fatalf("panic recorded without its value or stack: %v\n%s", pe.Value, pe.Stack)
		}
		clock.Add(time.Second)
	}
	st := m.Stats()
	if st[0].Runs != 3 || st[0].Errors != 3 || st[0].Panicked != 3 || st[0].Failed != 0 ||
		!strings.Contains(st[0].LastError, "kaboom") || !st[0].LastSuccess.IsZero() {
		t.Fatalf("panicking rule stats %+v", st[0])
	}
	if st[1].Errors != 3 || st[1].Failed != 3 || st[1].Panicked != 0 || st[1].LastError != "boom" || st[1].Won != 3 {
		t.Fatalf("failing rule stats %+v", st[1])
	}
	if st[3].Succeeded != 3 || st[3].Errors != 0 || st[3].LastSuccess.Before(st[3].LastStart) {
		t.Fatalf("healthy rule stats %+v: want 3 successes, the last ended after it began", st[3])
	}
	if st[2].Runs != 0 || st[2].Skips != 3 {
		t.Fatalf("a panicking filter must veto: %+v", st[2])
	}
	if log.count("fine", ngxtasks.EpochKeys{}.Slot(&ngxtasks.Rule{Interval: time.Second}, t0).N+2) != 1 {
		t.Fatal("the healthy rule stopped running")
	}
	var finished []ngxtasks.Event
	for _, ev := range log.kinds(ngxtasks.EventFinished) {
		if ev.Err != nil {
			finished = append(finished, ev)
		}
	}
	if len(finished) != 6 {
		t.Fatalf("%d failed-run events, want 6", len(finished))
	}
}

// TestB1_PanicInTimerLoopDoesNotKillTheWorker: under Start, a panicking
// callback runs on its goroutine; the loop goes on, slot after slot, until
// it is stopped (after ten panics; ten seconds at most, for a machine so
// busy that the 10 ms slots pass unrun).
func TestB1_PanicInTimerLoopDoesNotKillTheWorker(t *testing.T) {
	var runs atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := &ngxtasks.Manager{Logger: quiet()}
	err := m.Push(ngxtasks.Rule{Identifier: "p", Interval: 10 * time.Millisecond, Type: ngxtasks.Normal,
		Callback: func(context.Context, ngxtasks.Firing) error {
			if runs.Add(1) == 10 {
				cancel()
			}
			panic("again")
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start: %v (after %d runs), want it stopped after the tenth", err, runs.Load())
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats()[0]; st.Errors != int64(runs.Load()) {
		t.Fatalf("errors %d, runs %d", st.Errors, runs.Load())
	}
}

// TestB1_TimeoutCancelsTheCallbacksContext.
func TestB1_TimeoutCancelsTheCallbacksContext(t *testing.T) {
	m := &ngxtasks.Manager{Logger: quiet()}
	shutdown(t, m)
	var cause error
	err := m.Push(ngxtasks.Rule{Identifier: "slow", Interval: time.Hour, Type: ngxtasks.Normal, Timeout: 20 * time.Millisecond,
		Callback: func(ctx context.Context, _ ngxtasks.Firing) error {
			select {
			case <-ctx.Done():
				cause = context.Cause(ctx)
				return ctx.Err()
			case <-time.After(5 * time.Second):
				return nil
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = m.Run(context.Background())
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("timeout did not cancel: run took %v", took)
	}
	if !errors.Is(err, ngxtasks.ErrTimeout) || !errors.Is(cause, ngxtasks.ErrTimeout) {
		t.Fatalf("Run: %v, cause %v; want ErrTimeout", err, cause)
	}
	if st := m.Stats()[0]; st.Errors != 1 || st.TimedOut != 1 || st.Failed != 0 || !strings.Contains(st.LastError, "timeout") {
		t.Fatalf("stats %+v", st)
	}
}

// TestB2_ShutdownWaitsThenCancelsAndReports.
func TestB2_ShutdownWaitsThenCancelsAndReports(t *testing.T) {
	t.Run("graceful", func(t *testing.T) {
		var finished atomic.Bool
		m := &ngxtasks.Manager{}
		_ = m.Push(ngxtasks.Rule{Identifier: "short", Interval: time.Hour, Type: ngxtasks.Normal, Background: true,
			Callback: func(context.Context, ngxtasks.Firing) error {
				time.Sleep(50 * time.Millisecond)
				finished.Store(true)
				return nil
			}})
		_ = m.Run(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil || !finished.Load() {
			t.Fatalf("Shutdown: %v, callback finished: %v", err, finished.Load())
		}
	})
	t.Run("deadline", func(t *testing.T) {
		cancelled := make(chan error, 1)
		m := &ngxtasks.Manager{}
		_ = m.Push(ngxtasks.Rule{Identifier: "stuck", Interval: time.Hour, Type: ngxtasks.Normal, Background: true,
			Callback: func(ctx context.Context, _ ngxtasks.Firing) error {
				<-ctx.Done()
				cancelled <- ctx.Err()
				return ctx.Err()
			}})
		_ = m.Run(context.Background())
		waitFor(t, func() bool { return m.Stats()[0].Running })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := m.Shutdown(ctx)
		var se *ngxtasks.ShutdownError
		if !errors.As(err, &se) || len(se.Cancelled) != 1 || se.Cancelled[0] != "stuck" || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v; want a ShutdownError naming stuck", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Shutdown took %v past a 50 ms deadline", took)
		}
		select {
		case <-cancelled:
		case <-time.After(5 * time.Second):
			t.Fatal("the running callback's context was not cancelled")
		}
	})
	t.Run("stops new runs in every mode", func(t *testing.T) {
		var runs atomic.Int32
		m := &ngxtasks.Manager{}
		_ = m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Millisecond, Type: ngxtasks.Normal,
			Callback: func(context.Context, ngxtasks.Firing) error { runs.Add(1); return nil }})
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		_ = m.Run(context.Background())
		if err := m.Start(context.Background()); !errors.Is(err, ngxtasks.ErrClosed) {
			t.Fatalf("Start after Shutdown: %v", err)
		}
		if runs.Load() != 0 {
			t.Fatalf("%d runs after Shutdown", runs.Load())
		}
	})
}

// TestRemoveDuringARun: the run finishes, its context is not cancelled, and
// no later slot of the rule starts; the identifier can be pushed again.
func TestRemoveDuringARun(t *testing.T) {
	clock := newFakeClock(t0)
	var runs atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	ctxErr := make(chan error, 1)
	m := &ngxtasks.Manager{Clock: clock}
	shutdown(t, m)
	_ = m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Background: true,
		Callback: func(ctx context.Context, _ ngxtasks.Firing) error {
			if runs.Add(1) == 1 {
				close(started)
				<-release
				ctxErr <- ctx.Err()
			}
			return nil
		}})
	_ = m.Run(context.Background())
	<-started
	if !m.Remove("r") {
		t.Fatal("Remove found no rule")
	}
	close(release)
	for range 5 {
		clock.Add(time.Second)
		_ = m.Run(context.Background())
	}
	if err := <-ctxErr; err != nil {
		t.Fatalf("Remove cancelled the running callback: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if runs.Load() != 1 || len(m.Stats()) != 0 {
		t.Fatalf("runs %d (want 1), rules %d (want 0)", runs.Load(), len(m.Stats()))
	}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); err != nil {
		t.Fatal(err)
	}
}

// TestPushWhileStartedIsPickedUp: a rule pushed into a running timer loop
// runs at once, not after the loop's current sleep.
func TestPushWhileStartedIsPickedUp(t *testing.T) {
	m := &ngxtasks.Manager{}
	shutdown(t, m)
	_ = m.Push(ngxtasks.Rule{Identifier: "hourly", Interval: time.Hour, Type: ngxtasks.Normal, Callback: noop})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Start(ctx) }()
	waitFor(t, func() bool { return m.Stats()[0].Runs == 1 })
	ran := make(chan struct{}, 1)
	_ = m.Push(ngxtasks.Rule{Identifier: "new", Interval: time.Hour, Type: ngxtasks.Normal,
		Callback: func(context.Context, ngxtasks.Firing) error { ran <- struct{}{}; return nil }})
	select {
	case <-ran:
	case <-time.After(2 * time.Second):
		t.Fatal("a rule pushed into a running loop did not run")
	}
}
