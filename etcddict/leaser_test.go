package etcddict

import (
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// takeLease takes a lease that must be free.
func takeLease(t *testing.T, d *Dict, req ngxtasks.LeaseRequest) ngxtasks.LeaseRequest {
	t.Helper()
	if err := d.Lease(ctxT(t), &req); err != nil || !req.Acquired {
		t.Fatalf("Lease(%q) = %+v, %v; want acquired", req.Key, req, err)
	}
	return req
}

// A lease key has an etcd lease of its own, not a claim's nor another
// lease key's, so that renewing it extends nothing else.
func TestLeaseKeyHasItsOwnEtcdLease(t *testing.T) {
	d := openTest(t, "")
	a := takeLease(t, d, ngxtasks.LeaseRequest{Key: "a", Holder: "w", TTL: time.Minute,
		Claim: ngxtasks.Add{Key: "slot", Value: "w", TTL: time.Minute}})
	takeLease(t, d, ngxtasks.LeaseRequest{Key: "b", Holder: "w", TTL: time.Minute})
	la, lb, ls := leaseOf(t, d.client, d.prefix+"a"), leaseOf(t, d.client, d.prefix+"b"), leaseOf(t, d.client, d.prefix+"slot")
	if la == lb || la == ls || lb == ls || la == 0 || lb == 0 {
		t.Fatalf("leases: a %x, b %x, the claim %x; want three", la, lb, ls)
	}
	resp, err := d.client.Get(ctxT(t), d.prefix+"a")
	if err != nil || len(resp.Kvs) != 1 || uint64(resp.Kvs[0].CreateRevision) != a.Token {
		t.Fatalf("Get of the lease key = %v, %v; want CreateRevision %d (the token)", resp, err, a.Token)
	}
}

// A refused Lease revokes the etcd lease it granted.
func TestLeaseRefusedLeavesNoEtcdLease(t *testing.T) {
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
	for id := range serverLeases(t, d.client) {
		if before[id] {
			continue
		}
		if ttl, err := d.client.TimeToLive(ctxT(t), id); err == nil && ttl.GrantedTTL == secs {
			t.Errorf("lease %x of %d s left by a refused Lease", int64(id), secs)
		}
	}
}

// A renewal longer than the etcd lease was granted moves the key to a new
// lease, keeping the token; Release revokes the key's lease.
func TestLeaseRenewLongerAndRelease(t *testing.T) {
	d := openTest(t, "")
	got := takeLease(t, d, ngxtasks.LeaseRequest{Key: "k", Holder: "w", TTL: 2 * time.Second})
	first := leaseOf(t, d.client, d.prefix+"k")
	rs := []ngxtasks.Renewal{{Key: "k", Token: got.Token, TTL: 30 * time.Second}}
	if err := d.Renew(ctxT(t), rs); err != nil || !rs[0].Renewed || rs[0].Err != nil {
		t.Fatalf("Renew for 30 s = %+v, %v", rs[0], err)
	}
	moved := leaseOf(t, d.client, d.prefix+"k")
	if moved == first {
		t.Fatal("the key stayed on its 2 s lease")
	}
	if ttl, err := d.client.TimeToLive(ctxT(t), moved); err != nil || ttl.GrantedTTL != 30 {
		t.Fatalf("the new lease: %+v, %v; want granted 30 s", ttl, err)
	}
	checkGone(t, d.client, first)
	if ok, err := d.Release(ctxT(t), "k", got.Token); err != nil || !ok {
		t.Fatalf("Release by the token after the move = %v, %v", ok, err)
	}
	checkGone(t, d.client, moved)
}

func checkGone(t *testing.T, c *clientv3.Client, id clientv3.LeaseID) {
	t.Helper()
	if ttl, err := c.TimeToLive(ctxT(t), id); err != nil || ttl.TTL != -1 {
		t.Fatalf("lease %x: %+v, %v; want revoked", int64(id), ttl, err)
	}
}
