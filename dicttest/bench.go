package dicttest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// The benchmark bodies that every backend shares, so that BenchmarkClaim/redis
// and BenchmarkClaim/sqlite measure the same thing. They claim fresh keys, as
// the manager does once per slot, so every call stores.

const benchTTL = 10 * time.Second

// BenchClaim measures one Add at a time.
func BenchClaim(b *testing.B, d ngxtasks.Dict) {
	ctx, p := context.Background(), "bench:"+randomHex()+":"
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if added, err := d.Add(ctx, p+strconv.Itoa(i), "worker", benchTTL); err != nil || !added {
			b.Fatalf("Add = %v, %v", added, err)
		}
	}
}

// BenchClaimBatch measures AddBatch of n claims, and reports the cost per
// claim as ns/claim.
func BenchClaimBatch(b *testing.B, d ngxtasks.BatchAdder, n int) {
	ctx, p := context.Background(), "bench:"+randomHex()+":"
	adds := make([]ngxtasks.Add, n)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range adds {
			adds[j] = ngxtasks.Add{Key: p + strconv.Itoa(i*n+j), Value: "worker", TTL: benchTTL}
		}
		if err := d.AddBatch(ctx, adds); err != nil {
			b.Fatal(err)
		}
		for j := range adds {
			if !adds[j].Added || adds[j].Err != nil {
				b.Fatalf("element %d: %+v", j, adds[j])
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/claim")
}

// BenchLeaseRenew measures one Renew of the leases of n running rules of
// one worker, as a worker's renewal period makes it (one round trip,
// however many rules run).
func BenchLeaseRenew(b *testing.B, d ngxtasks.Leaser, n int) {
	ctx, p := context.Background(), "bench:"+randomHex()+":"
	rs := make([]ngxtasks.Renewal, n)
	for i := range rs {
		req := ngxtasks.LeaseRequest{Key: "{" + p + strconv.Itoa(i) + "}:lease", Holder: "worker", TTL: time.Minute}
		if err := d.Lease(ctx, &req); err != nil || !req.Acquired {
			b.Fatalf("Lease = %+v, %v", req, err)
		}
		rs[i] = ngxtasks.Renewal{Key: req.Key, Token: req.Token, TTL: time.Minute}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Renew(ctx, rs); err != nil {
			b.Fatal(err)
		}
		for i := range rs {
			if !rs[i].Renewed || rs[i].Err != nil {
				b.Fatalf("renewal %d: %+v", i, rs[i])
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/lease")
}
