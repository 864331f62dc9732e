package redisdict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
	"github.com/redis/go-redis/v9"
)

// exercise runs every operation through d, with keys spread over many hash
// slots, and checks each answer.
func exercise(t *testing.T, d *Dict) {
	t.Helper()
	ctx, p := context.Background(), prefix(t)
	for i := range 20 {
		k := p + strconv.Itoa(i)
		if added, err := d.Add(ctx, k, "w1", time.Minute); err != nil || !added {
			t.Fatalf("Add %s = %v, %v", k, added, err)
		}
		if added, err := d.Add(ctx, k, "w2", time.Minute); err != nil || added {
			t.Fatalf("second Add %s = %v, %v", k, added, err)
		}
		if v, ok, err := d.Get(ctx, k); err != nil || !ok || v != "w1" {
			t.Fatalf("Get %s = %q, %v, %v", k, v, ok, err)
		}
	}
	adds := make([]ngxtasks.Add, 100)
	for i := range adds {
		adds[i] = ngxtasks.Add{Key: p + strconv.Itoa(i), Value: "b", TTL: time.Minute}
	}
	if err := d.AddBatch(ctx, adds); err != nil {
		t.Fatal(err)
	}
	for i, a := range adds {
		if a.Err != nil || a.Added != (i >= 20) {
			t.Fatalf("batch element %d: Added %v, Err %v", i, a.Added, a.Err)
		}
	}
	if now, err := d.Now(ctx); err != nil || time.Since(now).Abs() > time.Second {
		t.Fatalf("Now = %v, %v", now, err)
	}
	exerciseLeases(t, d)
}

// TestSentinelFindsThePrimaryAndClaimsThere finds the primary through a
// Sentinel and claims there.
func TestSentinelFindsThePrimaryAndClaimsThere(t *testing.T) {
	raw := dicttest.ServerURL(t, "NGXTASKS_REDIS_SENTINEL_URL")
	o, err := ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	if o.MasterName == "" {
		t.Fatalf("%s does not name a master", "NGXTASKS_REDIS_SENTINEL_URL")
	}
	d, err := ngxtasks.OpenDict(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rd := d.(*Dict)
	if _, ok := rd.Client().(*redis.Client); !ok {
		t.Fatalf("client is %T, want a Sentinel-backed *redis.Client", rd.Client())
	}
	exercise(t, rd)

	// The claims are on the primary the plain URL names.
	direct, ctx := openTest(t), context.Background()
	k := prefix(t) + "via-sentinel"
	if added, err := rd.Add(ctx, k, "s", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if v, ok, err := direct.Get(ctx, k); err != nil || !ok || v != "s" {
		t.Fatalf("the primary has %q, %v, %v", v, ok, err)
	}
}

// TestClusterSpreadsKeysAndBatchesOverItsNodes claims on a three-node
// Cluster: single keys go to their slot's node, and a batch is split over the
// nodes.
func TestClusterSpreadsKeysAndBatchesOverItsNodes(t *testing.T) {
	raw := dicttest.ServerURL(t, "NGXTASKS_REDIS_CLUSTER_URL")
	d, err := ngxtasks.OpenDict(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rd := d.(*Dict)
	if _, ok := rd.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", rd.Client())
	}
	exercise(t, rd)
}
