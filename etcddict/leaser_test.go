package etcddict

import (
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// takeLease takes a lease that must be free.
func takeLease(t *testing.T, d *Dict, req ngxtasks.LeaseRequest) ngxtasks.LeaseRequest {
	t.Helper()
	if err := d.Lease(ctxT(t), &req); err != nil || !req.Acquired {
		t.Fatalf("Lease(%q) = %+v, %v; want acquired", req.Key, req, err)
	}
	return req
}

// A holder's lease keys of one TTL share one etcd lease, its own (not a
// claim's nor another holder's), of secsFor(TTL) seconds; the token is the
// key's CreateRevision.
func TestLeaseKeysShareTheirHoldersEtcdLease(t *testing.T) {
	d := openTest(t, "")
	a := takeLease(t, d, ngxtasks.LeaseRequest{Key: "a", Holder: "w", TTL: time.Minute,
		Claim: ngxtasks.Add{Key: "slot", Value: "w", TTL: time.Minute}})
	takeLease(t, d, ngxtasks.LeaseRequest{Key: "b", Holder: "w", TTL: time.Minute})
	takeLease(t, d, ngxtasks.LeaseRequest{Key: "c", Holder: "v", TTL: time.Minute})
	la, lb, lc, ls := leaseOf(t, d.client, d.prefix+"a"), leaseOf(t, d.client, d.prefix+"b"), leaseOf(t, d.client, d.prefix+"c"), leaseOf(t, d.client, d.prefix+"slot")
	if la != lb || la == lc || la == ls || lc == ls || la == 0 || lc == 0 {
		t.Fatalf("leases: a %x, b %x (w's), c %x (v's), the claim %x; want a = b, and three", la, lb, lc, ls)
	}
	if ttl, err := d.client.TimeToLive(ctxT(t), la); err != nil || ttl.GrantedTTL != d.holders.secsFor(time.Minute) {
		t.Fatalf("w's etcd lease: %+v, %v; want granted %d s", ttl, err, d.holders.secsFor(time.Minute))
	}
	resp, err := d.client.Get(ctxT(t), d.prefix+"a")
	if err != nil || len(resp.Kvs) != 1 || uint64(resp.Kvs[0].CreateRevision) != a.Token {
		t.Fatalf("Get of the lease key = %v, %v; want CreateRevision %d (the token)", resp, err, a.Token)
	}
}

// Refused Leases of one holder grant its etcd lease once, and nothing for
// a refused claim.
func TestLeaseRefusedGrantsAtMostTheHoldersEtcdLease(t *testing.T) {
	d := openTest(t, "")
	const secs = 77 // a TTL no other test grants, to tell this test's leases
	takeLease(t, d, ngxtasks.LeaseRequest{Key: "k", Holder: "first", TTL: secs * time.Second})
	before := serverLeases(t, d.client)
	for range 5 {
		req := ngxtasks.LeaseRequest{Key: "k", Holder: "other", TTL: secs * time.Second}
		if err := d.Lease(ctxT(t), &req); err != nil || req.Acquired || req.HeldBy != "first" {
			t.Fatalf("Lease of a held key = %+v, %v", req, err)
		}
	}
	n := 0
	for id := range serverLeases(t, d.client) {
		if !before[id] {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("5 refused Leases of one holder left %d new etcd leases; want at most its own", n)
	}
}

// A renewal longer than the key's etcd lease gives moves the key to its
// holder's etcd lease for that TTL, keeping the token; Release deletes the
// key only, not the holder's etcd lease, which its other keys hold.
func TestLeaseRenewLongerAndRelease(t *testing.T) {
	d := openTest(t, "")
	got := takeLease(t, d, ngxtasks.LeaseRequest{Key: "k", Holder: "w", TTL: 2 * time.Second})
	takeLease(t, d, ngxtasks.LeaseRequest{Key: "other", Holder: "w", TTL: 2 * time.Second})
	first := leaseOf(t, d.client, d.prefix+"k")
	rs := []ngxtasks.Renewal{{Key: "k", Token: got.Token, TTL: 30 * time.Second}}
	if err := d.Renew(ctxT(t), rs); err != nil || !rs[0].Renewed || rs[0].Err != nil {
		t.Fatalf("Renew for 30 s = %+v, %v", rs[0], err)
	}
	moved := leaseOf(t, d.client, d.prefix+"k")
	if moved == first {
		t.Fatal("the key stayed on its 2 s lease")
	}
	if ttl, err := d.client.TimeToLive(ctxT(t), moved); err != nil || ttl.GrantedTTL != d.holders.secsFor(30*time.Second) {
		t.Fatalf("the new lease: %+v, %v; want granted %d s", ttl, err, d.holders.secsFor(30*time.Second))
	}
	if resp, err := d.client.Get(ctxT(t), d.prefix+"k"); err != nil || len(resp.Kvs) != 1 || uint64(resp.Kvs[0].CreateRevision) != got.Token || string(resp.Kvs[0].Value) != "w" {
		t.Fatalf("the moved key: %v, %v; want w's, under token %d", resp, err, got.Token)
	}
	// A renewal by the token at the key's first TTL now moves nothing back
	// and is a renewal like any.
	rs[0].TTL = 2 * time.Second
	if err := d.Renew(ctxT(t), rs); err != nil || !rs[0].Renewed || rs[0].Err != nil {
		t.Fatalf("Renew for 2 s after = %+v, %v", rs[0], err)
	}
	if ok, err := d.Release(ctxT(t), "k", got.Token); err != nil || !ok {
		t.Fatalf("Release by the token after the move = %v, %v", ok, err)
	}
	if ttl, err := d.client.TimeToLive(ctxT(t), first); err != nil || ttl.TTL <= 0 {
		t.Fatalf("w's etcd lease after the release: %+v, %v; want it alive, for its other key", ttl, err)
	}
	if leaseOf(t, d.client, d.prefix+"other") != first {
		t.Fatal("the holder's other key left its etcd lease")
	}
}

// A lease key whose holder stops renewing it, while renewing another on the
// same etcd lease, is the holder's no longer once its TTL has passed: its
// renewal is refused, and the holder's next renewal deletes it, so another
// holder can take it; the other key stays held throughout.
func TestLeaseNotRenewedEndsWhileItsHolderRenewsOthers(t *testing.T) {
	d := openTest(t, "")
	other, err := New(d.client, d.prefix) // another Dict on the same keys
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	const life = 2 * time.Second
	dropped := takeLease(t, d, ngxtasks.LeaseRequest{Key: "dropped", Holder: "w", TTL: life})
	kept := takeLease(t, d, ngxtasks.LeaseRequest{Key: "kept", Holder: "w", TTL: life})
	if leaseOf(t, d.client, d.prefix+"dropped") != leaseOf(t, d.client, d.prefix+"kept") {
		t.Fatal("the two keys are on different etcd leases; the test needs them on one")
	}
	start := time.Now()
	var took ngxtasks.LeaseRequest
	for time.Since(start) < 3*life {
		time.Sleep(life / 4)
		rs := []ngxtasks.Renewal{{Key: "kept", Token: kept.Token, TTL: life}}
		if err := d.Renew(ctxT(t), rs); err != nil || !rs[0].Renewed {
			t.Fatalf("renewal of the kept key after %v = %+v, %v", time.Since(start), rs[0], err)
		}
		if !took.Acquired {
			took = ngxtasks.LeaseRequest{Key: "dropped", Holder: "v", TTL: life}
			if err := other.Lease(ctxT(t), &took); err != nil {
				t.Fatal(err)
			}
			if took.Acquired && time.Since(start) < life {
				t.Fatalf("v took the dropped key %v after w took it for %v", time.Since(start), life)
			}
			// Deleted by the first renewal after its deadline: one
			// renewal period (life/4) late at most, and a deletion.
			if took.Acquired && time.Since(start) > life+life/2+time.Second {
				t.Fatalf("v took the dropped key only %v after w took it for %v", time.Since(start), life)
			}
		}
	}
	if !took.Acquired {
		t.Fatalf("the key w stopped renewing was still held %v after its TTL %v", time.Since(start), life)
	}
	rs := []ngxtasks.Renewal{{Key: "dropped", Token: dropped.Token, TTL: life}}
	if err := d.Renew(ctxT(t), rs); err != nil || rs[0].Renewed {
		t.Fatalf("a renewal of the dropped key by w's token = %+v, %v; want refused", rs[0], err)
	}
}

// An etcd lease of a holder that ends (revoked here, as if the holder was
// away longer than its TTL) takes its keys with it: their renewals are
// refused, and the holder's next Lease gets a new etcd lease.
func TestLeaseHoldersEtcdLeaseEndedIsReplaced(t *testing.T) {
	d := openTest(t, "")
	a := takeLease(t, d, ngxtasks.LeaseRequest{Key: "a", Holder: "w", TTL: time.Minute})
	first := leaseOf(t, d.client, d.prefix+"a")
	if _, err := d.client.Revoke(ctxT(t), first); err != nil {
		t.Fatal(err)
	}
	rs := []ngxtasks.Renewal{{Key: "a", Token: a.Token, TTL: time.Minute}}
	if err := d.Renew(ctxT(t), rs); err != nil || rs[0].Renewed || rs[0].Err != nil {
		t.Fatalf("Renew of a key whose etcd lease ended = %+v, %v; want refused", rs[0], err)
	}
	b := takeLease(t, d, ngxtasks.LeaseRequest{Key: "b", Holder: "w", TTL: time.Minute,
		Claim: ngxtasks.Add{Key: "slot", Value: "w", TTL: time.Minute}})
	if l := leaseOf(t, d.client, d.prefix+"b"); l == first || l == 0 {
		t.Fatalf("the next Lease put its key on etcd lease %x; want a new one", int64(l))
	}
	// And once more while the Dict still believes in the ended lease: the
	// transaction fails, a keep-alive finds the lease gone, and the retry
	// takes a new one.
	second := leaseOf(t, d.client, d.prefix+"b")
	if _, err := d.client.Revoke(ctxT(t), second); err != nil {
		t.Fatal(err)
	}
	c := takeLease(t, d, ngxtasks.LeaseRequest{Key: "c", Holder: "w", TTL: time.Minute})
	if l := leaseOf(t, d.client, d.prefix+"c"); l == first || l == second || c.Token <= b.Token {
		t.Fatalf("Lease after the second revoke: etcd lease %x, token %d; want a new lease, above %d", int64(l), c.Token, b.Token)
	}
}

// A renewal through another Dict than the one that took the key moves the
// key to that Dict (onto its holder's etcd lease there): the first Dict's
// deadline for it, which the renewal cannot move, then deletes nothing,
// though that Dict goes on keeping its etcd lease alive.
func TestLeaseRenewedThroughAnotherDictMovesThere(t *testing.T) {
	d := openTest(t, "")
	other, err := New(d.client, d.prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	const life = 2 * time.Second
	got := takeLease(t, d, ngxtasks.LeaseRequest{Key: "k", Holder: "w", TTL: life})
	kept := takeLease(t, d, ngxtasks.LeaseRequest{Key: "kept", Holder: "w", TTL: life})
	first := leaseOf(t, d.client, d.prefix+"k")
	start := time.Now()
	for time.Since(start) < 2*life {
		time.Sleep(life / 4)
		rs := []ngxtasks.Renewal{{Key: "k", Token: got.Token, TTL: life}}
		if err := other.Renew(ctxT(t), rs); err != nil || !rs[0].Renewed {
			t.Fatalf("renewal through the other Dict after %v = %+v, %v", time.Since(start), rs[0], err)
		}
		rs = []ngxtasks.Renewal{{Key: "kept", Token: kept.Token, TTL: life}}
		if err := d.Renew(ctxT(t), rs); err != nil || !rs[0].Renewed {
			t.Fatalf("renewal of the other key after %v = %+v, %v", time.Since(start), rs[0], err)
		}
	}
	if l := leaseOf(t, d.client, d.prefix+"k"); l == first {
		t.Fatal("the key renewed through the other Dict stayed on the first Dict's etcd lease")
	}
	if resp, err := d.client.Get(ctxT(t), d.prefix+"k"); err != nil || len(resp.Kvs) != 1 || uint64(resp.Kvs[0].CreateRevision) != got.Token {
		t.Fatalf("the key after %v of renewals: %v, %v; want it, under token %d", time.Since(start), resp, err, got.Token)
	}
}
