package ngxtasks_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// stallDict is a MemoryDict that stalls: while stalled, claims wait until
// their deadline, as a client of a stalled server does; those still
// waiting when it resumes are answered one after another, 5 ms apart, as a
// store working through its backlog answers (most after their slot ended);
// claims sent once it is back are answered at once, in between.
type stallDict struct {
	*ngxtasks.MemoryDict
	mu      sync.Mutex
	stalled chan struct{} // closed when the stall ends; nil when none
	backlog atomic.Int64
}

func (d *stallDict) stall() {
	d.mu.Lock()
	d.stalled = make(chan struct{})
	d.mu.Unlock()
}

func (d *stallDict) resume() {
	d.mu.Lock()
	close(d.stalled)
	d.stalled = nil
	d.mu.Unlock()
}

// wait holds a request while the store stalls, until ctx is done.
func (d *stallDict) wait(ctx context.Context) error {
	d.mu.Lock()
	stalled := d.stalled
	d.mu.Unlock()
	if stalled == nil {
		return nil
	}
	select {
	case <-stalled:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	time.Sleep(time.Duration(d.backlog.Add(1)) * 5 * time.Millisecond)
	return nil
}

func (d *stallDict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := d.wait(ctx); err != nil {
		return false, err
	}
	return d.MemoryDict.Add(ctx, key, value, ttl)
}

func (d *stallDict) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	if err := d.wait(ctx); err != nil {
		return err
	}
	return d.MemoryDict.AddBatch(ctx, adds)
}

func (d *stallDict) Now(ctx context.Context) (time.Time, error) {
	if err := d.wait(ctx); err != nil {
		return time.Time{}, err
	}
	return d.MemoryDict.Now(ctx)
}

// TestStoreWatchOneLinePerOutage: a store that stalls for a second and
// then works through its backlog of late answers while answering new
// claims in time gives one error when it stops answering and one line
// when it is back, with the slots skipped meanwhile; the backlog's late
// answers do not take it down and bring it back again (they once gave a
// pair of lines each, the first a mere warning).
func TestStoreWatchOneLinePerOutage(t *testing.T) {
	d := &stallDict{MemoryDict: ngxtasks.NewMemoryDict()}
	var buf bytes.Buffer
	var mu sync.Mutex
	m := &ngxtasks.Manager{Dict: d, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	rules := preemptionRules(20, func(int) time.Duration { return 100 * time.Millisecond }, noop)
	if err := m.Push(rules...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	go func() { started <- m.Start(ctx) }()
	time.Sleep(300 * time.Millisecond)
	// What came before the stall is not this test's: on a machine busy
	// enough to starve the timer loop, a claim may be answered late then
	// too, and say so.
	mu.Lock()
	before := buf.Len()
	mu.Unlock()
	d.stall()
	time.Sleep(time.Second)
	d.resume()
	time.Sleep(700 * time.Millisecond) // the backlog takes 5 ms an answer
	cancel()
	<-started
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()[before:]
	mu.Unlock()
	var down, back, other []string
	for line := range strings.Lines(out) {
		switch {
		case strings.Contains(line, "the store does not answer"):
			down = append(down, line)
		case strings.Contains(line, "the store answers again"):
			back = append(back, line)
		case strings.Contains(line, "the store"):
			other = append(other, line)
		}
	}
	if len(down) != 1 || len(back) != 1 || len(other) != 0 || !strings.Contains(down[0], "level=ERROR") || !skippedMany(back[0]) {
		t.Fatalf("a 1 s stall gave %d lines saying the store is down, %d that it is back, %d others (%d late answers in the backlog):\n%s",
			len(down), len(back), len(other), d.backlog.Load(), out)
	}
	t.Logf("a 1 s stall, %d late answers in its backlog: %s", d.backlog.Load(), strings.TrimSpace(back[0]))
}

// skippedMany says whether a "the store answers again" line counts more
// than 20 skipped slots (a 1 s stall of 20 rules every 100 ms skips ~200).
func skippedMany(line string) bool {
	_, after, _ := strings.Cut(line, "skipped=")
	n, _, _ := strings.Cut(after, " ")
	v, err := strconv.Atoi(n)
	return err == nil && v > 20
}
