package ngxtasks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// rerunFleet is two workers on one MemoryDict whose rule has Reruns: in
// worker "a", its run goes on until cut off; in "b", it records its slot
// and token and ends.
type rerunFleet struct {
	a, b    *ngxtasks.Manager
	entered chan struct{}
	mu      sync.Mutex
	ran     map[string][]ngxtasks.Firing // by worker
}

func newRerunFleet(t *testing.T, cutOff bool) *rerunFleet {
	d := ngxtasks.NewMemoryDict()
	t.Cleanup(func() { d.Close() })
	f := &rerunFleet{entered: make(chan struct{}, 1), ran: map[string][]ngxtasks.Firing{}}
	cb := func(ctx context.Context, fi ngxtasks.Firing) error {
		f.mu.Lock()
		f.ran[fi.Worker] = append(f.ran[fi.Worker], fi)
		f.mu.Unlock()
		if fi.Worker == "a" {
			f.entered <- struct{}{}
			if cutOff {
				<-ctx.Done()
				return ctx.Err()
			}
		}
		return nil
	}
	var ms []*ngxtasks.Manager
	for _, w := range []string{"a", "b"} {
		m := &ngxtasks.Manager{Dict: d, Worker: w, Logger: quiet(), LeaseTTL: 600 * time.Millisecond}
		if err := m.Push(ngxtasks.Rule{Identifier: "job", Interval: time.Hour, Type: ngxtasks.Preemption,
			Overlap: ngxtasks.OverlapSkip, Reruns: 2, Background: true, Callback: cb}); err != nil {
			t.Fatal(err)
		}
		shutdown(t, m)
		ms = append(ms, m)
	}
	f.a, f.b = ms[0], ms[1]
	if err := f.a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-f.entered
	if err := f.b.Run(context.Background()); err != nil { // b loses the slot, and starts watching
		t.Fatal(err)
	}
	return f
}

func (f *rerunFleet) runs(w string) []ngxtasks.Firing {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ngxtasks.Firing(nil), f.ran[w]...)
}

// TestReruns_ASlotWhoseRunWasCutOffRunsAgainElsewhere: worker a's run of
// a slot is cut off (a shutdown that cannot wait for it, as a killed
// worker's would be); worker b finds the slot's run in flight and its
// lease free, and runs the slot again, once, under a higher token.
func TestReruns_ASlotWhoseRunWasCutOffRunsAgainElsewhere(t *testing.T) {
	f := newRerunFleet(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = f.a.Shutdown(ctx) // gives up waiting: the run is cut off
	waitFor(t, func() bool { return len(f.runs("b")) > 0 })
	time.Sleep(time.Second) // the watcher looks twice more
	a, b := f.runs("a"), f.runs("b")
	if len(b) != 1 || b[0].Slot.N != a[0].Slot.N || b[0].Token <= a[0].Token {
		t.Errorf("b ran %+v after a's run of slot %d under token %d was cut off; want that slot once, under a higher token", b, a[0].Slot.N, a[0].Token)
	}
}

// TestReruns_ARunThatEndedIsNotRunAgain: a run that ended is marked done
// before its lease is let go: no other worker runs its slot again.
func TestReruns_ARunThatEndedIsNotRunAgain(t *testing.T) {
	f := newRerunFleet(t, false)
	time.Sleep(1500 * time.Millisecond) // the lease's life, and the watcher's looks
	if b := f.runs("b"); len(b) != 0 {
		t.Errorf("b ran %+v; a's run had ended", b)
	}
}
