package etcddict

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestAddStoresOnceUnderThePrefixWithALease(t *testing.T) {
	d := openTest(t, "")
	ctx := ctxT(t)
	if ok, err := d.Add(ctx, "k", "w1", 10*time.Second); !ok || err != nil {
		t.Fatalf("first Add = %v, %v; want true", ok, err)
	}
	if ok, err := d.Add(ctx, "k", "w2", 10*time.Second); ok || err != nil {
		t.Fatalf("second Add = %v, %v; want false", ok, err)
	}
	if v, ok, err := d.Get(ctx, "k"); v != "w1" || !ok || err != nil {
		t.Fatalf("Get = %q, %v, %v; want w1", v, ok, err)
	}
	if v, ok, err := d.Get(ctx, "other"); v != "" || ok || err != nil {
		t.Fatalf("Get of absent key = %q, %v, %v", v, ok, err)
	}
	// The key is stored under the URL's prefix, with a lease.
	raw := rawClient(t)
	if !strings.HasPrefix(d.Prefix(), "ngxtasks-test/TestAddStoresOnceUnderThePrefixWithALease-") || !strings.HasSuffix(d.Prefix(), "/") {
		t.Errorf("prefix %q", d.Prefix())
	}
	if id := leaseOf(t, raw, d.Prefix()+"k"); id == clientv3.NoLease {
		t.Error("key has no lease")
	}
}

// TestSetReplacesTheKeyAndItsLease: Set stores over a live claim, under the
// prefix, on a lease that outlives its own ttl rather than the claim's.
func TestSetReplacesTheKeyAndItsLease(t *testing.T) {
	d := openTest(t, "")
	ctx := ctxT(t)
	raw := rawClient(t)
	if ok, err := d.Add(ctx, "k", "claim", time.Hour); !ok || err != nil {
		t.Fatalf("Add = %v, %v; want true", ok, err)
	}
	claimLease := leaseOf(t, raw, d.Prefix()+"k")
	if err := d.Set(ctx, "k", "set", 10*time.Second); err != nil {
		t.Fatalf("Set over a live claim = %v", err)
	}
	if v, ok, err := d.Get(ctx, "k"); v != "set" || !ok || err != nil {
		t.Fatalf("Get = %q, %v, %v; want set", v, ok, err)
	}
	id := leaseOf(t, raw, d.Prefix()+"k")
	if id == clientv3.NoLease || id == claimLease {
		t.Fatalf("Set's key has lease %x (the claim's was %x); want one of its own ttl", int64(id), int64(claimLease))
	}
	resp, err := raw.TimeToLive(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Duration(resp.TTL) * time.Second; left < 10*time.Second || left > time.Minute {
		t.Errorf("Set of ttl 10s: its lease has %v left", left)
	}
}

func TestInvalidOrOversizedEntriesAreRefused(t *testing.T) {
	d := openTest(t, "")
	ctx := ctxT(t)
	long := strings.Repeat("x", ngxtasks.MaxKeyLen+1)
	for _, c := range []struct {
		key, value string
		ttl        time.Duration
		want       error
	}{
		{"", "v", time.Second, ngxtasks.ErrInvalidEntry},
		{"k", "v", 0, ngxtasks.ErrInvalidEntry},
		{"k", "v", -time.Second, ngxtasks.ErrInvalidEntry},
		{"k", "v", maxTTL + 1, ngxtasks.ErrInvalidEntry},
		{long, "v", time.Second, ngxtasks.ErrTooLarge},
		{"k", long, time.Second, ngxtasks.ErrTooLarge},
	} {
		if ok, err := d.Add(ctx, c.key, c.value, c.ttl); ok || !errors.Is(err, c.want) {
			t.Errorf("Add(%.10q, %.10q, %v) = %v, %v; want %v", c.key, c.value, c.ttl, ok, err, c.want)
		}
	}
	if _, _, err := d.Get(ctx, long); !errors.Is(err, ngxtasks.ErrTooLarge) {
		t.Errorf("Get of long key: %v", err)
	}
	if _, _, err := d.Get(ctx, ""); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("Get of empty key: %v", err)
	}
	// The longest ttl is accepted (the server grants a long lease).
	if ok, err := d.Add(ctx, "long-ttl", "v", maxTTL); !ok || err != nil {
		t.Errorf("Add with ttl %v = %v, %v", maxTTL, ok, err)
	}
}

// TestRacingDictsGiveEachKeyOneWinner races Adds of the same keys from three
// Dicts, each with its own client, as three workers would: exactly one wins
// each key.
func TestRacingDictsGiveEachKeyOneWinner(t *testing.T) {
	base := openTest(t, "")
	var dicts []*Dict
	for range 3 {
		c := rawClient(t)
		d, err := New(c, base.Prefix())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		dicts = append(dicts, d)
	}
	ctx := ctxT(t)
	const keys, racers = 20, 12
	var wins [keys]atomic.Int32
	var wg sync.WaitGroup
	for r := range racers {
		wg.Go(func() {
			d := dicts[r%len(dicts)]
			for k := range keys {
				ok, err := d.Add(ctx, fmt.Sprint("slot-", k), fmt.Sprint("racer-", r), 10*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					wins[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range keys {
		if n := wins[k].Load(); n != 1 {
			t.Errorf("key %d: %d winners, want 1", k, n)
		}
	}
}

// TestExpiryKeepsTheTTLAndEndsWithinTheBound checks both ends of a key's life:
// present for at least ttl from when Add was called, gone within the
// documented bound, and then claimable again.
func TestExpiryKeepsTheTTLAndEndsWithinTheBound(t *testing.T) {
	const ttl = time.Second
	d := openTest(t, "window=1s&latency=500ms")
	ctx := ctxT(t)
	start := time.Now()
	if ok, err := d.Add(ctx, "k", "v", ttl); !ok || err != nil {
		t.Fatalf("Add = %v, %v", ok, err)
	}
	// Upper bound: ttl + latency + window + 1s, plus the server's deletion
	// (its expiry check runs every 500ms) and slack for a loaded machine.
	limit := start.Add(ttl + 500*time.Millisecond + time.Second + time.Second + 2*time.Second)
	var gone time.Time
	for i := 0; i < 1000 && time.Now().Before(limit); i++ {
		now := time.Now()
		_, ok, err := d.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			gone = now
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	switch {
	case gone.IsZero():
		t.Fatalf("key still there %v after Add", time.Since(start))
	case gone.Sub(start) < ttl:
		t.Fatalf("key gone %v after Add, before its ttl %v", gone.Sub(start), ttl)
	}
	t.Logf("key lived about %v (ttl %v)", gone.Sub(start), ttl)
	if ok, err := d.Add(ctx, "k", "v2", ttl); !ok || err != nil {
		t.Fatalf("Add after expiry = %v, %v", ok, err)
	}
}

func TestCancelledContextStoresNothing(t *testing.T) {
	d := openTest(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := d.Add(ctx, "k", "v", time.Second); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Add with a cancelled context = %v, %v", ok, err)
	}
	if _, _, err := d.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
	adds := []ngxtasks.Add{{Key: "k", Value: "v", TTL: time.Second}}
	if err := d.AddBatch(ctx, adds); !errors.Is(err, context.Canceled) || !errors.Is(adds[0].Err, context.Canceled) {
		t.Errorf("AddBatch with a cancelled context: %v, %v", err, adds[0].Err)
	}
	// Nothing was stored.
	if _, ok, err := d.Get(ctxT(t), "k"); ok || err != nil {
		t.Errorf("Get = %v, %v after cancelled calls", ok, err)
	}
}

func TestNewRefusesBadOptionsAndKeepsItsArguments(t *testing.T) {
	c := rawClient(t)
	if _, err := New(nil, "p/"); !errors.Is(err, ErrBadConfig) {
		t.Errorf("New(nil): %v, want ErrBadConfig", err)
	}
	for _, o := range []Option{
		WithLatencyAllowance(0), WithLatencyAllowance(-1), WithLatencyAllowance(48 * time.Hour),
		WithReuseWindow(-1), WithReuseWindow(48 * time.Hour),
		WithConcurrency(0), WithConcurrency(5000), WithMaxTxnOps(0), WithMaxTxnOps(1 << 20),
	} {
		if _, err := New(c, "p/", o); !errors.Is(err, ErrBadConfig) || !strings.HasPrefix(err.Error(), "etcddict: ") {
			t.Errorf("New with a bad option: %v", err)
		}
	}
	d, err := New(c, "p/", nil, WithReuseWindow(0), WithLatencyAllowance(time.Millisecond), WithConcurrency(1), WithMaxTxnOps(1))
	if err != nil {
		t.Fatal(err)
	}
	if d.Client() != c || d.Prefix() != "p/" {
		t.Error("Client or Prefix differ from New's arguments")
	}
	_ = d.Close()
}
