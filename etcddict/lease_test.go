package etcddict

import (
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// serverLeases lists the IDs of every lease on the server.
func serverLeases(t *testing.T, c *clientv3.Client) map[clientv3.LeaseID]bool {
	t.Helper()
	resp, err := c.Leases(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[clientv3.LeaseID]bool, len(resp.Leases))
	for _, l := range resp.Leases {
		ids[l.ID] = true
	}
	return ids
}

// keyLeases maps the lease of every key under the Dict's prefix to how many
// keys hold it.
func keyLeases(t *testing.T, c *clientv3.Client, d *Dict) map[clientv3.LeaseID]int {
	t.Helper()
	resp, err := c.Get(ctxT(t), d.prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	n := make(map[clientv3.LeaseID]int)
	for _, kv := range resp.Kvs {
		n[clientv3.LeaseID(kv.Lease)]++
	}
	return n
}

// claimAll makes n concurrent claims of ttl with keys name-0...name-(n-1).
func claimAll(t *testing.T, d *Dict, name string, n int, ttl time.Duration) {
	t.Helper()
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if ok, err := d.Add(ctx, fmt.Sprint(name, "-", i), "v", ttl); !ok || err != nil {
				t.Errorf("Add %s-%d = %v, %v", name, i, ok, err)
			}
		})
	}
	wg.Wait()
}

// TestConcurrentClaimsOfNearbyTTLsShareAFewLeases checks that claims share
// leases: many concurrent claims of one ttl make one Grant, and claims of
// nearby ttls share a few leases. The server's own lease list (Leases) shows
// the new leases.
func TestConcurrentClaimsOfNearbyTTLsShareAFewLeases(t *testing.T) {
	raw := rawClient(t)
	before := serverLeases(t, raw)
	d := openTest(t, "")

	claimAll(t, d, "same", 300, 30*time.Second)
	if got := keyLeases(t, raw, d); len(got) != 1 {
		t.Fatalf("300 concurrent claims of one ttl hold %d leases, want 1: %v", len(got), got)
	}

	// ttls 20s..30s, 20 claims each: windows of 5s..7.5s make two leases
	// (26s for ttls 20-25, 34s for 26-30) when taken in this order.
	for s := 20; s <= 30; s++ {
		claimAll(t, d, fmt.Sprint("ttl", s), 20, time.Duration(s)*time.Second)
	}
	used := keyLeases(t, raw, d)
	if len(used) > 3 {
		t.Errorf("520 claims hold %d leases, want at most 3: %v", len(used), used)
	}
	after := serverLeases(t, raw)
	fresh := 0
	for id := range after {
		if !before[id] {
			fresh++
		}
	}
	for id := range used {
		if !after[id] || before[id] {
			t.Errorf("lease %x of our keys is not a new lease in the server's list", int64(id))
		}
	}
	t.Logf("520 claims: %d leases hold them; the server lists %d new leases", len(used), fresh)
	if fresh > 3+len(used) { // other tests' servers' users may add a few
		t.Errorf("the server lists %d new leases after 520 claims", fresh)
	}
}

// TestLeaseNearItsEndIsNotGivenToAClaim checks that a lease too close to its
// end for a claim is not given to it, and that the fresh one is then shared.
func TestLeaseNearItsEndIsNotGivenToAClaim(t *testing.T) {
	raw := rawClient(t)
	// window 0 and allowance 500ms: a claim of 1s needs a lease that lives
	// 1.5s more, and gets one of ceil(1.5s) = 2s.
	d := openTest(t, "window=0s&latency=500ms")
	ctx := ctxT(t)
	if ok, err := d.Add(ctx, "a", "v", time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	first := leaseOf(t, raw, d.prefix+"a")
	ttl, err := raw.TimeToLive(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 2 {
		t.Errorf("granted %ds, want 2", ttl.GrantedTTL)
	}
	time.Sleep(700 * time.Millisecond) // less than 1.5s of it remains
	if ok, err := d.Add(ctx, "b", "v", time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	second := leaseOf(t, raw, d.prefix+"b")
	if second == first {
		t.Fatalf("a claim of 1s took lease %x with less than 1.5s left", int64(first))
	}
	if ok, err := d.Add(ctx, "c", "v", time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if third := leaseOf(t, raw, d.prefix+"c"); third != second {
		t.Errorf("next claim took lease %x, not the fresh %x", int64(third), int64(second))
	}
}

// TestClaimBelowTheServersMinimumTTLUsesWhatItGranted asks for a lease
// shorter than etcd grants (its minimum is 2s by default) and checks that
// the claim uses what it got.
func TestClaimBelowTheServersMinimumTTLUsesWhatItGranted(t *testing.T) {
	raw := rawClient(t)
	d := openTest(t, "window=0s&latency=100ms")
	ctx := ctxT(t)
	if ok, err := d.Add(ctx, "k", "v", 100*time.Millisecond); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ttl, err := raw.TimeToLive(ctx, leaseOf(t, raw, d.prefix+"k"))
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL < 1 {
		t.Errorf("granted %ds", ttl.GrantedTTL)
	}
	t.Logf("asked for 1s, server granted %ds", ttl.GrantedTTL)
	// A second short claim shares it.
	if ok, err := d.Add(ctx, "k2", "v", 100*time.Millisecond); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if a, b := leaseOf(t, raw, d.prefix+"k"), leaseOf(t, raw, d.prefix+"k2"); a != b {
		t.Errorf("short claims took leases %x and %x", int64(a), int64(b))
	}
}

// TestGrantedLeaseIsWithinTheDocumentedBounds checks the granted TTLs
// against the documented bounds for the default window and allowance: at
// least ttl+1s, at most max(ceil(ttl + 1s + max(1s, ttl/4)), 2s).
func TestGrantedLeaseIsWithinTheDocumentedBounds(t *testing.T) {
	raw := rawClient(t)
	d := openTest(t, "")
	ctx := ctxT(t)
	for _, ttl := range []time.Duration{time.Millisecond, time.Second, 2500 * time.Millisecond, 10 * time.Second, 40 * time.Second} {
		key := fmt.Sprint("k", ttl)
		if ok, err := d.Add(ctx, key, "v", ttl); !ok || err != nil {
			t.Fatal(ok, err)
		}
		resp, err := raw.TimeToLive(ctx, leaseOf(t, raw, d.prefix+key))
		if err != nil {
			t.Fatal(err)
		}
		granted := time.Duration(resp.GrantedTTL) * time.Second
		hi := max(time.Duration(ceilSeconds(ttl+time.Second+defaultWindow(ttl)))*time.Second, 2*time.Second)
		if granted < ttl+time.Second || granted > hi {
			t.Errorf("ttl %v: lease of %v, want in [%v, %v]", ttl, granted, ttl+time.Second, hi)
		}
		if left := time.Duration(resp.TTL) * time.Second; left < ttl {
			t.Errorf("ttl %v: lease has %v left", ttl, left)
		}
	}
}

// TestRevokedLeaseIsReplacedOnTheNextClaim revokes a pooled lease behind the
// Dict's back: the next claim's transaction fails without storing, and it
// retries on a new lease.
func TestRevokedLeaseIsReplacedOnTheNextClaim(t *testing.T) {
	raw := rawClient(t)
	d := openTest(t, "")
	ctx := ctxT(t)
	if ok, err := d.Add(ctx, "a", "v", 10*time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	first := leaseOf(t, raw, d.prefix+"a")
	if _, err := raw.Revoke(ctx, first); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.Add(ctx, "b", "v", 10*time.Second); !ok || err != nil {
		t.Fatalf("Add after revoke = %v, %v", ok, err)
	}
	if second := leaseOf(t, raw, d.prefix+"b"); second == first {
		t.Fatal("claim kept the revoked lease")
	}
	// And in a batch.
	l, err := d.leases.get(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Revoke(ctx, l.id); err != nil {
		t.Fatal(err)
	}
	if err := checkBatch(t, d, batchOf("c", 10, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// And by Set, whose Put fails the same way.
	if l, err = d.leases.get(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Revoke(ctx, l.id); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, "s", "v", 10*time.Second); err != nil {
		t.Fatalf("Set after revoke = %v", err)
	}
	if id := leaseOf(t, raw, d.prefix+"s"); id == l.id || id == clientv3.NoLease {
		t.Fatalf("Set's key has lease %x; want a new one, not the revoked %x", int64(id), int64(l.id))
	}
}

// TestOutlivesAcceptsAnExactFitAndNoLater checks the check made after each
// answer.
func TestOutlivesAcceptsAnExactFitAndNoLater(t *testing.T) {
	now := time.Now()
	l := &lease{id: 1, expires: now.Add(10 * time.Second)}
	if err := outlives(l, 10*time.Second, now); err != nil {
		t.Errorf("exact fit: %v", err)
	}
	if err := outlives(l, 10*time.Second, now.Add(time.Millisecond)); err == nil {
		t.Error("an answer 1ms too late passed")
	}
}

// TestFitsKeepsTheReuseWindowAndServerMinimum checks the pool's reuse rule,
// [ttl+A, ttl+A+W+1s].
func TestFitsKeepsTheReuseWindowAndServerMinimum(t *testing.T) {
	p := newLeasePool(nil, time.Second, 0, false, time.Second)
	defer p.close()
	for _, c := range []struct {
		r, ttl time.Duration
		want   bool
	}{
		{11 * time.Second, 10 * time.Second, true},
		{10999 * time.Millisecond, 10 * time.Second, false},
		{14500 * time.Millisecond, 10 * time.Second, true}, // W = 2.5s
		{14501 * time.Millisecond, 10 * time.Second, false},
		{4 * time.Second, time.Second, true}, // W = 1s
		{4001 * time.Millisecond, time.Second, false},
	} {
		if got := p.fits(c.r, c.ttl); got != c.want {
			t.Errorf("fits(%v, %v) = %v", c.r, c.ttl, got)
		}
	}
	// Once the server is seen to grant at least 6s, a lease of up to 6s
	// serves a claim of 1s.
	p.serverMin = 6 * time.Second
	if !p.fits(6*time.Second, time.Second) || p.fits(6001*time.Millisecond, time.Second) {
		t.Error("fits ignores the server's minimum")
	}
}
