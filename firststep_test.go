package ngxtasks_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// slowBatches is a dictionary that answers every batch only once release
// is closed or after delay, whichever comes first, honouring the context.
type slowBatches struct {
	*ngxtasks.MemoryDict
	delay    time.Duration
	release  chan struct{}
	entered  chan struct{} // gets a value when a batch arrives
	answered chan struct{} // closed when the first batch is answered
	once     sync.Once
}

func newSlowBatches(delay time.Duration) *slowBatches {
	return &slowBatches{MemoryDict: ngxtasks.NewMemoryDict(), delay: delay, release: make(chan struct{}),
		entered: make(chan struct{}, 100), answered: make(chan struct{})}
}

func (d *slowBatches) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	d.entered <- struct{}{}
	defer d.once.Do(func() { close(d.answered) })
	select {
	case <-d.release:
	case <-time.After(d.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return d.MemoryDict.AddBatch(ctx, adds)
}

// TestP2_FirstDriveStepJudgesEachClaimBySlot: a worker's first drive step
// claims every rule's current slot in one batch. The store answers after
// the shortest slot has ended but long before the longest does: the long
// rule's slot runs; only the short one is late. (Judged by the batch's
// shortest slot, every claim was once late, and no one ran those slots.)
func TestP2_FirstDriveStepJudgesEachClaimBySlot(t *testing.T) {
	d := newSlowBatches(400 * time.Millisecond)
	log := newRunLog()
	m := &ngxtasks.Manager{Dict: d, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	// The long rule's slot began 1.5 s ago and ends in 1.5 s.
	long := 3 * time.Second
	offset := time.Duration(time.Now().Add(1500*time.Millisecond).UnixNano() % int64(long))
	err := m.Push(
		ngxtasks.Rule{Identifier: "short", Interval: 200 * time.Millisecond, Type: ngxtasks.Preemption, Callback: log.callback},
		ngxtasks.Rule{Identifier: "long", Interval: long, Offset: offset, Type: ngxtasks.Preemption, Callback: log.callback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Start(ctx) }()
	<-d.answered
	waitFor(t, func() bool {
		for _, ev := range log.kinds(ngxtasks.EventFired) {
			if ev.Rule.Identifier == "long" {
				return true
			}
		}
		return false
	})
	first := log.kinds(ngxtasks.EventSkipped)
	for _, ev := range first {
		if ev.Rule.Identifier == "long" {
			t.Fatalf("the long rule's slot was skipped: %v (%v)", ev.Reason, ev.Err)
		}
	}
}

// TestN2_FirstDriveStepNormalRulesDoNotWaitForClaims: Normal rules due in
// the same tick as Preemption claims run while the claims are in flight,
// slot after slot, and none is skipped as an overlap.
func TestN2_FirstDriveStepNormalRulesDoNotWaitForClaims(t *testing.T) {
	d := newSlowBatches(time.Minute)
	log := newRunLog()
	m := &ngxtasks.Manager{Dict: d, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	err := m.Push(
		ngxtasks.Rule{Identifier: "p1", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: log.callback},
		ngxtasks.Rule{Identifier: "p2", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: log.callback},
		ngxtasks.Rule{Identifier: "n", Interval: 20 * time.Millisecond, Type: ngxtasks.Normal, Callback: log.callback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Start(ctx) }()
	<-d.entered // the first step's claims are in flight, and stay so
	waitFor(t, func() bool { return len(log.kinds(ngxtasks.EventFired)) >= 5 })
	for _, ev := range log.kinds(ngxtasks.EventSkipped) {
		if ev.Reason == ngxtasks.SkipOverlap {
			t.Fatalf("%s slot %d skipped as an overlap while the claims were in flight", ev.Rule.Identifier, ev.Slot.N)
		}
	}
	select {
	case <-d.answered:
		t.Fatal("the claims were answered: the test proves nothing")
	default:
	}
	close(d.release)
}

// TestBigStartRunsTheSoonestEndingSlotFirst: a start with many rules to
// catch up on runs first the rule whose slot ends first (see also
// TestTakeInterleavesFallingDue).
func TestBigStartRunsTheSoonestEndingSlotFirst(t *testing.T) {
	clock := newFakeClock(t0.Add(10 * time.Millisecond))
	var order []string
	m := &ngxtasks.Manager{Clock: clock, Logger: quiet(), Observer: func(ev ngxtasks.Event) {
		if ev.Kind == ngxtasks.EventFired {
			order = append(order, ev.Rule.Identifier)
		}
	}}
	shutdown(t, m)
	rules := make([]ngxtasks.Rule, 0, 1001)
	for i := range 1000 {
		rules = append(rules, ngxtasks.Rule{Identifier: fmt.Sprintf("hour-%d", i), Interval: time.Hour, Type: ngxtasks.Normal, Callback: noop})
	}
	rules = append(rules, ngxtasks.Rule{Identifier: "short", Interval: 100 * time.Millisecond, Type: ngxtasks.Normal, Callback: noop})
	if err := m.Push(rules...); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(order) != 1001 || order[0] != "short" {
		t.Fatalf("%d runs, first %q: want the short rule first", len(order), order[0])
	}
}

// TestStoreOutageIsLoggedOnce: while the store fails, the log says so once,
// at Error, with the cause; when it answers again, once more, with how many
// slots were skipped. Not a line per slot.
func TestStoreOutageIsLoggedOnce(t *testing.T) {
	clock := newFakeClock(t0)
	d := &faultyDict{} // no batches, no clock: one claim at a time
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	m := &ngxtasks.Manager{Dict: d, Clock: clock, Logger: logger}
	shutdown(t, m)
	rules := preemptionRules(3, func(int) time.Duration { return 100 * time.Millisecond }, noop)
	if err := m.Push(rules...); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	step := func(n int) {
		for range n {
			_ = m.Run(ctx)
			clock.Add(100 * time.Millisecond)
		}
	}
	step(2)
	d.failAll = true // between steps: no Add runs meanwhile
	step(10)
	if h := m.Health(); !h.StoreDown || h.StoreSkipped != 30 || !strings.Contains(h.StoreError, "injected") {
		t.Fatalf("health during the outage: %+v", h)
	}
	d.failAll = false
	step(2)
	if h := m.Health(); h.StoreDown {
		t.Fatalf("health after the outage: %+v", h)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), out)
	}
	if !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], "injected") {
		t.Fatalf("first line: %s", lines[0])
	}
	if !strings.Contains(lines[1], "answers again") || !strings.Contains(lines[1], "skipped=30") {
		t.Fatalf("second line: %s", lines[1])
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSkewAlarm: a worker whose clock is further from the store's than
// half the tolerance says so, at Error and in Health, without
// UseStoreClock; and when its clock comes back, that too.
func TestSkewAlarm(t *testing.T) {
	truth := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: truth}
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	worker := &skewable{c: truth}
	worker.d.Store(int64(3 * time.Second)) // beyond half of 5 s
	m := &ngxtasks.Manager{Dict: d, Clock: worker, Logger: logger}
	shutdown(t, m)
	if err := m.Push(ngxtasks.Rule{Identifier: "n", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}); err != nil {
		t.Fatal(err)
	}
	_ = m.Run(context.Background())
	waitFor(t, func() bool { return m.Health().ClockSkewed })
	if off, ok := m.ClockOffset(); !ok || off != -3*time.Second {
		t.Fatalf("offset %v %v, want -3s", off, ok)
	}
	worker.d.Store(0)
	truth.Add(15 * time.Second) // the next reading is due (10 s on the worker's clock, which moved back 3 s)
	waitFor(t, func() bool {    // each step finds the rule due, and may start a reading
		truth.Add(time.Second)
		_ = m.Run(context.Background())
		return !m.Health().ClockSkewed
	})
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "level=ERROR msg=\"ngxtasks: this worker's clock is further than SkewTolerance/2 from the store's") || !strings.Contains(out, "offset=-3s") {
		t.Fatalf("no skew alarm logged:\n%s", out)
	}
	if !strings.Contains(out, "back near the store's") {
		t.Fatalf("no all-clear logged:\n%s", out)
	}
}

// skewable is a clock off a shared fake clock by an amount that can change.
type skewable struct {
	c *fakeClock
	d atomic.Int64
}

func (s *skewable) Now() time.Time { return s.c.Now().Add(time.Duration(s.d.Load())) }

// TestN2_RunDoesNotMakeNormalRulesWaitForClaims: in a drive step by Run
// (or a request), Normal rules run while the step's claims are in flight,
// and the Preemption rules won run once they are answered.
func TestN2_RunDoesNotMakeNormalRulesWaitForClaims(t *testing.T) {
	d := newSlowBatches(time.Minute)
	log := newRunLog()
	m := &ngxtasks.Manager{Dict: d, Observer: log.observe, Logger: quiet()}
	shutdown(t, m)
	inFlight := false
	normal := func(ctx context.Context, f ngxtasks.Firing) error {
		select {
		case <-d.entered:
			inFlight = true
		case <-time.After(5 * time.Second):
		}
		close(d.release)
		return log.callback(ctx, f)
	}
	err := m.Push(
		ngxtasks.Rule{Identifier: "p1", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: log.callback},
		ngxtasks.Rule{Identifier: "n", Interval: time.Minute, Type: ngxtasks.Normal, Callback: normal},
		ngxtasks.Rule{Identifier: "p2", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: log.callback})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !inFlight {
		t.Fatal("the Normal rule ran before the claims were sent, or after they were answered")
	}
	if log.total() != 3 {
		t.Fatalf("%d runs, want 3", log.total())
	}
}

func TestHealthFirstStep(t *testing.T) {
	clk := newFakeClock(time.Unix(1_000_000, 250_000_000))
	m := &ngxtasks.Manager{Clock: clk}
	if h := m.Health(); !h.FirstStep.IsZero() {
		t.Fatalf("FirstStep before any step: %v", h.FirstStep)
	}
	if err := m.Run(context.Background()); err != nil { // no rules: not a first step
		t.Fatal(err)
	}
	if h := m.Health(); !h.FirstStep.IsZero() {
		t.Fatalf("FirstStep after a step without rules: %v", h.FirstStep)
	}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: func(context.Context, ngxtasks.Firing) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	first := clk.Now()
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Add(3 * time.Second)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.Health().FirstStep; !got.Equal(first) {
		t.Fatalf("FirstStep = %v, want %v", got, first)
	}
}

// refusingDict is a store whose connections are refused: like a client
// that retries its dial until the claim's context ends, it answers when the
// context ends, naming its last connection attempt.
type refusingDict struct{ ngxtasks.MemoryDict }

func (*refusingDict) Add(ctx context.Context, _, _ string, _ time.Duration) (bool, error) {
	<-ctx.Done()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	return false, fmt.Errorf("%w (last connection attempt: %w)", ctx.Err(), refused)
}

// TestUnreachableStoreIsAnError: a store that cannot be connected to is
// reported at Error as not answering, with the cause, although its claims
// end by running out of time (which alone says only that it is slow).
func TestUnreachableStoreIsAnError(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	// The step comes 1 ms into a 50 ms slot on a clock that stands still,
	// so its claim is always made and waits out the slot's 49 ms however
	// loaded the machine is (on the real clock the slot could end before
	// the claim, which was then skipped as late and never reached the
	// store). The store's clock is the same one: no skew to skip for.
	clock := newFakeClock(t0.Add(time.Millisecond))
	m := &ngxtasks.Manager{Dict: &refusingDict{ngxtasks.MemoryDict{Clock: clock}}, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))}
	shutdown(t, m)
	rs := preemptionRules(1, func(int) time.Duration { return 50 * time.Millisecond }, noop)
	rs[0].Spread = false
	if err := m.Push(rs...); err != nil {
		t.Fatal(err)
	}
	_ = m.Run(context.Background())
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, `level=ERROR msg="ngxtasks: the store does not answer`) || !strings.Contains(out, "connection refused") {
		t.Fatalf("log does not report an unreachable store at Error, with its cause:\n%s", out)
	}
	if h := m.Health(); !h.StoreDown || !strings.Contains(h.StoreError, "connection refused") {
		t.Fatalf("health: %+v", h)
	}
}
