package ngxtasks

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// A manager's life: its configuration is resolved at the first call that
// needs it (setup), the calls that act check it is still usable (ready),
// the timer loop runs until stopped (Start), and Shutdown stops every
// drive mode and waits for the runs in flight.

// lifecycle is the part of a Manager that starts, counts and stops runs.
type lifecycle struct {
	base      context.Context // parent of every run; cancelled when Shutdown gives up
	cancel    context.CancelFunc
	inflight  atomic.Int64 // turns admitted and not yet retired
	closed    atomic.Bool
	started   atomic.Bool
	closeOnce sync.Once
	stop      chan struct{} // closed by Shutdown
	wake      chan struct{} // the timer loop re-reads the gate
	idle      chan struct{} // signalled when the last run ends after Shutdown
	batches   sync.Pool     // of *batch, so a tick of many turns allocates nothing
	unusable  sync.Once     // logs, once, that Middleware serves requests without rules
}

// settings is a Manager's configuration as its first use resolved it: the
// manager runs on these, not on the exported fields.
type settings struct {
	fields    fields // the exported fields as the first use found them (see changed)
	err       error  // what setup found wrong with them
	dict      Dict
	ownDict   bool
	keys      KeyGenerator
	namespace string
	worker    string
	tolerance time.Duration
	history   int // slots kept per rule; 0 for none
	leaseTTL  time.Duration
	logger    *slog.Logger
	clock     Clock
	epoch     time.Time // gate times count from here
}

// ready is the entry guard of the calls that act (Push, Replace, MarkRan,
// Start, Run, a request): it resolves the configuration at the first use,
// and returns why the manager cannot act, if it cannot: a configuration
// error, a field changed since, or a Shutdown. Calls that only read
// (Stats, Rules, History, Explain, Health, Watch, Remove) need neither.
func (m *Manager) ready() error {
	m.once.Do(m.setup)
	if m.err != nil {
		return m.err
	}
	if err := m.changed(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	return nil
}

// setup resolves the configuration, once.
func (m *Manager) setup() {
	m.fields = m.fieldsNow()
	m.clock = m.Clock
	m.epoch = m.localNow()
	m.logger = cmp.Or(m.Logger, slog.Default())
	m.base, m.cancel = context.WithCancel(context.WithValue(context.Background(), loggerKey{}, m.logger))
	m.mu.Lock()
	if m.rules == nil {
		m.rules = make(map[string]*entry)
	}
	m.mu.Unlock()
	m.stop = make(chan struct{})
	m.wake = make(chan struct{}, 1)
	m.idle = make(chan struct{}, 1)
	m.keys = m.Keys
	if m.keys == nil {
		m.keys = EpochKeys{}
	}
	m.namespace = cmp.Or(m.Namespace, "ngxtasks")
	m.worker = cmp.Or(m.Worker, defaultWorker())
	m.tolerance = cmp.Or(m.SkewTolerance, DefaultSkewTolerance)
	m.leaseTTL = cmp.Or(m.LeaseTTL, DefaultLeaseTTL)
	m.dict = m.Dict
	if m.dict == nil {
		m.dict, m.ownDict = NewMemoryDict(), true
	}
	switch {
	case m.HistoryLen == 0:
		m.history = DefaultHistory
	case m.HistoryLen > 0:
		m.history = m.HistoryLen
	}
	switch {
	case m.SkewTolerance < 0:
		m.err = fmt.Errorf("%w: SkewTolerance must be >= 0, got %v", ErrInvalidConfig, m.SkewTolerance)
	case m.LeaseTTL < 0:
		m.err = fmt.Errorf("%w: LeaseTTL must be >= 0, got %v", ErrInvalidConfig, m.LeaseTTL)
	case m.MaxRunning < 0:
		m.err = fmt.Errorf("%w: MaxRunning must be >= 0, got %d", ErrInvalidConfig, m.MaxRunning)
	case m.HistoryLen > maxHistory:
		m.err = fmt.Errorf("%w: HistoryLen must be at most %d slots per rule, got %d", ErrInvalidConfig, maxHistory, m.HistoryLen)
	default:
		m.err = m.checkStoreClock()
	}
	for mode := range m.gates {
		if m.err != nil {
			m.gates[mode].Store(0) // every drive step takes the slow path and reports err
		} else {
			m.gates[mode].Store(math.MaxInt64)
		}
	}
	if m.err != nil {
		return
	}
	m.clk.init(m)
	m.maybeSyncClock()
}

func defaultWorker() string {
	host, err := os.Hostname()
	if err != nil {
		host = "worker"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Start runs the timer loop until ctx is done (it returns ctx.Err()) or
// Shutdown is called (it returns ErrClosed). The loop sleeps until the
// earliest due slot, then runs the due rules concurrently: a callback that
// blocks never holds up another. Runs still going when Start returns are
// left to Shutdown.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.ready(); err != nil {
		if m.err == nil && !errors.Is(err, ErrClosed) { // a field changed: Start is often run with go
			m.logger.Error("ngxtasks: the timer loop does not start", "worker", m.worker, "error", err)
		}
		return err
	}
	if !m.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	defer m.started.Store(false)
	timer := time.NewTimer(maxSleep)
	defer timer.Stop()
	for {
		m.maybeSyncClock()
		wait := clockRetry // no slot until the store's clock is known; a reading pokes us
		if m.clockKnown() {
			// A large tick goes chunk by chunk, each under a fresh reading,
			// so that rules falling due meanwhile are taken in their slot.
			for {
				if taken, _ := m.step(m.base, DriveTimer, m.now(), nil, chunk); taken < chunk {
					break
				}
			}
			wait = time.Duration(m.gates[DriveTimer].Load() - m.sinceEpoch())
		}
		timer.Reset(min(max(wait, minTick), maxSleep))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.stop:
			return ErrClosed
		case <-m.wake:
		case <-timer.C:
		}
	}
}

// bound makes a caller's context (a request's, a Run call's) end at
// shutdown too, as the manager's own runs do, and carry its logger to the
// dictionary (LoggerFrom).
func (m *Manager) bound(ctx context.Context) (context.Context, func()) {
	if ctx == m.base {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithValue(ctx, loggerKey{}, m.logger))
	stop := context.AfterFunc(m.base, cancel)
	return ctx, func() { stop(); cancel() }
}

// Shutdown stops new runs at once, in every drive mode, and waits for
// running callbacks until ctx is done. Then it cancels their contexts and
// returns a *ShutdownError naming them, without waiting further. It closes
// the dictionary only if the manager made it.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.once.Do(m.setup)
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed.Store(true)
		m.setGates()
		m.mu.Unlock()
		close(m.stop)
	})
	defer func() {
		if m.ownDict {
			m.dict.Close()
		}
	}()
	for m.inflight.Load() > 0 {
		select {
		case <-m.idle:
		case <-ctx.Done():
			var names []string
			for _, e := range m.entries() {
				if e.runSince.Load() != 0 {
					names = append(names, e.rule.Identifier)
				}
			}
			m.cancel()
			return &ShutdownError{Cancelled: names, Cause: ctx.Err()}
		}
	}
	m.cancel()
	return nil
}
