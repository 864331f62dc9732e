package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGateBoundsRuns(t *testing.T) {
	var g gate
	var now, most atomic.Int32
	var wg sync.WaitGroup
	latest := time.Now().Add(time.Minute)
	for range 200 {
		wg.Go(func() {
			if _, err := g.enter(context.Background(), 8, latest); err != nil {
				t.Error(err)
				return
			}
			n := now.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond)
			now.Add(-1)
			g.leave()
		})
	}
	wg.Wait()
	if m := most.Load(); m != 8 {
		t.Fatalf("at most %d at once; want 8", m)
	}
}

func TestGateOrder(t *testing.T) {
	var g gate
	far := time.Now().Add(time.Minute)
	if _, err := g.enter(context.Background(), 1, far); err != nil {
		t.Fatal(err)
	}
	// Three wait behind the one running, arriving latest-deadline first.
	order := make(chan string, 3)
	var wg sync.WaitGroup
	for i, name := range []string{"late", "early", "middle"} {
		deadline := far.Add(time.Duration([]int{3, 1, 2}[i]) * time.Second)
		wg.Go(func() {
			if _, err := g.enter(context.Background(), 1, deadline); err != nil {
				t.Error(err)
				return
			}
			order <- name
			g.leave()
		})
		waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.waiting) == i+1 })
	}
	// A rule allowed more runs gets in while they wait.
	if _, err := g.enter(context.Background(), 2, far); err != nil {
		t.Fatal(err)
	}
	g.leave()
	g.leave()
	wg.Wait()
	close(order)
	var got []string
	for n := range order {
		got = append(got, n)
	}
	if len(got) != 3 || got[0] != "early" || got[1] != "middle" || got[2] != "late" {
		t.Fatalf("admitted %v; want the earliest latest-start first", got)
	}
}

func TestGateGivesUpAtTheLatestStart(t *testing.T) {
	var g gate
	if _, err := g.enter(context.Background(), 1, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	waited, err := g.enter(context.Background(), 1, time.Now().Add(20*time.Millisecond))
	var ns *errNotStarted
	if !errors.As(err, &ns) || ns.running != 1 || waited < 20*time.Millisecond {
		t.Fatalf("waited %v, %v; want not started after 20ms", waited, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.enter(ctx, 1, time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	g.leave()
	if len(g.waiting) != 0 || g.running != 0 {
		t.Fatalf("left %d waiting, %d running", len(g.waiting), g.running)
	}
}

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
