package etcddict

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestCloseClosesOwnClient: a Dict from Open made its client, so Close
// closes it (dicttest's Closed covers the calls and the claims' lifetime).
func TestCloseClosesOwnClient(t *testing.T) {
	d := openTest(t, "")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The client retries its own "closing" error until the context ends.
	short, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	if _, err := d.client.Get(short, "x"); err == nil {
		t.Error("the client still works after Close")
	}
}

// TestCloseLeavesTheClientGivenToNewOpen checks that a Dict from New leaves
// its client open.
func TestCloseLeavesTheClientGivenToNewOpen(t *testing.T) {
	c := rawClient(t)
	d, err := New(c, "ngxtasks-test/"+uniqueName(t)+"/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if ok, err := d.Add(ctx, "k", "v", time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add(ctx, "k2", "v", time.Second); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if _, err := c.Get(ctx, d.prefix+"k"); err != nil {
		t.Errorf("the caller's client stopped working: %v", err)
	}
	_, _ = c.Delete(ctx, d.prefix+"k")
}

// TestCloseAmidClaimsFailsThemOnlyWithErrClosed closes a Dict while claims,
// batches and lease grants are under way: each call either succeeds or
// fails, closed ones with ErrClosed, and Close returns once grants have
// ended.
func TestCloseAmidClaimsFailsThemOnlyWithErrClosed(t *testing.T) {
	for round := range 3 {
		d := openTest(t, "")
		ctx := ctxT(t)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					// Many ttls: many grants in flight.
					ttl := time.Duration(1+(g*20+i)%40) * time.Second
					_, err := d.Add(ctx, fmt.Sprint(round, "-", g, "-", i), "v", ttl)
					if err != nil && !errors.Is(err, ngxtasks.ErrClosed) {
						t.Errorf("Add during Close: %v", err)
					}
					if g == 0 {
						_ = d.AddBatch(ctx, batchOf(fmt.Sprint(round, "-b", i), 5, ttl))
					}
				}
			})
		}
		time.Sleep(time.Duration(round) * 20 * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- d.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Close did not return in 15s")
		}
		wg.Wait()
		if _, err := d.Add(ctx, "after", "v", time.Second); !errors.Is(err, ngxtasks.ErrClosed) {
			t.Errorf("Add after Close: %v", err)
		}
	}
}
