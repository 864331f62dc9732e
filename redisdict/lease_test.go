package redisdict

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
	"github.com/redis/go-redis/v9"
)

// TestCounterKeyIsOnTheLeasesSlot asks a Cluster node for the slots: the
// counter must share its lease's, or the lease script fails CROSSSLOT.
func TestCounterKeyIsOnTheLeasesSlot(t *testing.T) {
	c := openCluster(t).Client()
	ctx := context.Background()
	for _, k := range []string{"plain", "ns:{ns:rule}:lease", "{rule}", "a{b", "a{b{c}d}"} {
		want, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.ClusterKeySlot(ctx, counterKey(k)).Result(); err != nil || got != want {
			t.Errorf("counter %q of %q: slot %d, %v; want %d", counterKey(k), k, got, err, want)
		}
	}
}

// TestLeaseHeldByAHolderWithAColon reads the holder back whole: the lease
// key holds "token:holder", cut at the first colon.
func TestLeaseHeldByAHolderWithAColon(t *testing.T) {
	d, ctx, k := openTest(t), context.Background(), prefix(t)+"lease"
	first := ngxtasks.LeaseRequest{Key: k, Holder: "host:1:pid", TTL: time.Minute}
	if err := d.Lease(ctx, &first); err != nil || !first.Acquired {
		t.Fatalf("Lease = %+v, %v", first, err)
	}
	second := ngxtasks.LeaseRequest{Key: k, Holder: "other", TTL: time.Minute}
	if err := d.Lease(ctx, &second); err != nil || second.Acquired || second.HeldBy != "host:1:pid" || second.Token != first.Token {
		t.Fatalf("second Lease = %+v, %v", second, err)
	}
	if pttl, err := d.client.PTTL(ctx, counterKey(k)).Result(); err != nil || pttl != -1 {
		t.Fatalf("the counter's PTTL = %v, %v; want none (-1 ns)", pttl, err)
	}
}

// TestLeaseRefusesBeforeSending checks invalid requests, a closed
// dictionary and an ended context, as Add does.
func TestLeaseRefusesBeforeSending(t *testing.T) {
	d, p := openTest(t), prefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &req); !errors.Is(err, context.Canceled) {
		t.Errorf("Lease with an ended context: %v", err)
	}
	if _, err := d.Release(ctx, req.Key, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Release with an ended context: %v", err)
	}
	rs := []ngxtasks.Renewal{{Key: req.Key, Token: 1, TTL: time.Minute}}
	if err := d.Renew(ctx, rs); !errors.Is(err, context.Canceled) || !errors.Is(rs[0].Err, context.Canceled) {
		t.Errorf("Renew with an ended context: %v, %v", err, rs[0].Err)
	}
	bad := ngxtasks.LeaseRequest{Key: p + "lease", TTL: time.Minute}
	if err := d.Lease(context.Background(), &bad); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("Lease without a holder: %v", err)
	}
	_ = d.Close()
	if err := d.Lease(context.Background(), &req); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Lease after Close: %v", err)
	}
	if _, err := d.Release(context.Background(), req.Key, 1); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Release after Close: %v", err)
	}
	if err := d.Renew(context.Background(), rs); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Renew after Close: %v", err)
	}
}

// TestLeaseScriptsSurviveAScriptFlush checks the fallback from EVALSHA to
// EVAL, which a restarted or promoted server needs, for the pipelined
// renewals too. SCRIPT FLUSH only costs other clients one EVAL each.
func TestLeaseScriptsSurviveAScriptFlush(t *testing.T) {
	d, ctx, p := openTest(t), context.Background(), prefix(t)
	flush := func() {
		if err := d.client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	req := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &req); err != nil || !req.Acquired {
		t.Fatalf("Lease = %+v, %v", req, err)
	}
	flush()
	rs := []ngxtasks.Renewal{{Key: req.Key, Token: req.Token, TTL: time.Minute}, {Key: req.Key, Token: req.Token + 1, TTL: time.Minute}}
	if err := d.Renew(ctx, rs); err != nil || !rs[0].Renewed || rs[1].Renewed || rs[0].Err != nil || rs[1].Err != nil {
		t.Fatalf("Renew = %v: %+v", err, rs)
	}
	flush()
	if ok, err := d.Release(ctx, req.Key, req.Token); err != nil || !ok {
		t.Fatalf("Release = %v, %v", ok, err)
	}
}

// TestLeaseOnClusterNodes takes leases on many slots, renews them in one
// call split over the nodes, and refuses, with both keys named, a claim
// whose slot is not the lease's.
func TestLeaseOnClusterNodes(t *testing.T) {
	d, ctx, p := openCluster(t), context.Background(), prefix(t)
	exerciseLeases(t, d)
	req := ngxtasks.LeaseRequest{Key: p + "{a}:lease", Holder: "a", TTL: time.Minute,
		Claim: ngxtasks.Add{Key: p + "{b}:slot", Value: "a", TTL: time.Minute}}
	err := d.Lease(ctx, &req)
	if err == nil || req.Acquired || !strings.Contains(err.Error(), req.Claim.Key) || !strings.Contains(err.Error(), "hash tag") {
		t.Fatalf("Lease with a claim on another slot = %+v, %v; want an error naming the claim's key", req, err)
	}
	if _, ok, err := d.Get(ctx, req.Claim.Key); err != nil || ok {
		t.Fatalf("the claim on another slot is there: %v, %v", ok, err)
	}
	// A key whose counter cannot share its slot: an error too, not a lease.
	req = ngxtasks.LeaseRequest{Key: "{}" + p + "lease", Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &req); err == nil || req.Acquired || !strings.Contains(err.Error(), "not on one Cluster slot") {
		t.Fatalf("Lease of %q = %+v, %v; want an error", req.Key, req, err)
	}
}

// exerciseLeases takes leases on keys spread over many slots, renews them
// all in one call, half under wrong tokens, and releases them.
func exerciseLeases(t *testing.T, d *Dict) {
	t.Helper()
	ctx, p := context.Background(), prefix(t)
	var rs []ngxtasks.Renewal
	for i := range 40 {
		tag := "{" + p + strconv.Itoa(i) + "}"
		req := ngxtasks.LeaseRequest{Key: tag + ":lease", Holder: "a", TTL: time.Minute,
			Claim: ngxtasks.Add{Key: tag + ":slot", Value: "a", TTL: time.Minute}}
		if err := d.Lease(ctx, &req); err != nil || !req.Acquired || !req.Claim.Added {
			t.Fatalf("Lease %s = %+v, %v", req.Key, req, err)
		}
		rs = append(rs, ngxtasks.Renewal{Key: req.Key, Token: req.Token + uint64(i%2), TTL: 2 * time.Minute})
	}
	if err := d.Renew(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Err != nil || r.Renewed != (i%2 == 0) {
			t.Fatalf("renewal %d: %v, %v", i, r.Renewed, r.Err)
		}
		if ok, err := d.Release(ctx, r.Key, r.Token); err != nil || ok != (i%2 == 0) {
			t.Fatalf("release %d: %v, %v", i, ok, err)
		}
	}
}

// openCluster opens the test Cluster and closes it when the test ends.
func openCluster(t *testing.T) *Dict {
	t.Helper()
	d, err := Open(context.Background(), dicttest.ServerURL(t, "NGXTASKS_REDIS_CLUSTER_URL"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, ok := d.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", d.Client())
	}
	return d
}
