package redisdict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

// The benchmarks share names and bodies across backends (BenchmarkClaim/redis,
// BenchmarkClaim/postgres, ...) for benchstat; see dicttest.BenchClaim.

func BenchmarkClaim(b *testing.B) {
	b.Run("redis", func(b *testing.B) { dicttest.BenchClaim(b, openTest(b)) })
}

// BenchmarkLeaseClaim is BenchmarkClaim's claim made with a lease, as a
// leased rule's run makes it: one script call (GET, SET NX PX, INCR, SET PX).
// Each op claims a fresh slot; the release that frees the lease for the
// next op is not timed.
func BenchmarkLeaseClaim(b *testing.B) {
	b.Run("redis", func(b *testing.B) {
		d, ctx := openTest(b), context.Background()
		tag := "{" + prefix(b) + "}"
		lease := tag + ":lease"
		b.Cleanup(func() { d.client.Del(ctx, counterKey(lease)) }) // the counter has no TTL
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			req := ngxtasks.LeaseRequest{Key: lease, Holder: "worker", TTL: 10 * time.Second,
				Claim: ngxtasks.Add{Key: tag + strconv.Itoa(i), Value: "worker", TTL: 10 * time.Second}}
			if err := d.Lease(ctx, &req); err != nil || !req.Acquired {
				b.Fatalf("Lease = %+v, %v", req, err)
			}
			b.StopTimer()
			if ok, err := d.Release(ctx, lease, req.Token); err != nil || !ok {
				b.Fatalf("Release = %v, %v", ok, err)
			}
			b.StartTimer()
		}
	})
}

// BenchmarkRawAddIfAbsent is the same claim made with go-redis directly: the
// floor that BenchmarkClaim is measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("redis", func(b *testing.B) {
		c, ctx, p := openTest(b).Client(), context.Background(), prefix(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if added, err := c.SetNX(ctx, p+strconv.Itoa(i), "worker", 10*time.Second).Result(); err != nil || !added {
				b.Fatalf("SetNX = %v, %v", added, err)
			}
		}
	})
}

func BenchmarkClaimBatch(b *testing.B) {
	b.Run("redis/n=1000", func(b *testing.B) { dicttest.BenchClaimBatch(b, openTest(b), 1000) })
}

// BenchmarkLeaseRenew renews the leases of 1,000 running rules of one
// worker in one Renew, as a worker's renewal period does (issue 18: one
// round trip per period).
func BenchmarkLeaseRenew(b *testing.B) {
	b.Run("redis/n=1000", func(b *testing.B) { dicttest.BenchLeaseRenew(b, openTest(b), 1000) })
}
