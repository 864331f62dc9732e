package sqlitedict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

// The benchmarks share names and bodies across backends (BenchmarkClaim/redis,
// BenchmarkClaim/sqlite, ...) for benchstat; see dicttest.BenchClaim. The
// file is in the test's temporary directory, so on the machine's disk.

func BenchmarkClaim(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { dicttest.BenchClaim(b, openTest(b, WithCleanupInterval(0))) })
}

// BenchmarkLeaseClaim is BenchmarkClaim with a lease: one rule's lease taken
// with a fresh slot's claim each op, as a winner takes a slot, and
// released outside the timed part. The target: at most 1.2× a
// plain claim.
func BenchmarkLeaseClaim(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		d, ctx := openTest(b, WithCleanupInterval(0)), context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			req := ngxtasks.LeaseRequest{Key: "bench:rule", Holder: "worker", TTL: 10 * time.Second,
				Claim: ngxtasks.Add{Key: "bench:" + strconv.Itoa(i), Value: "worker", TTL: 10 * time.Second}}
			if err := d.Lease(ctx, &req); err != nil || !req.Acquired {
				b.Fatalf("Lease = %+v, %v", req, err)
			}
			b.StopTimer()
			if ok, err := d.Release(ctx, req.Key, req.Token); err != nil || !ok {
				b.Fatalf("Release = %v, %v", ok, err)
			}
			b.StartTimer()
		}
	})
}

// BenchmarkRawAddIfAbsent is the same statement run with database/sql
// directly: the floor that BenchmarkClaim is measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		d, ctx := openTest(b, WithCleanupInterval(0)), context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			now := time.Now().UnixNano()
			res, err := d.w.ExecContext(ctx, d.sql.claim, strconv.Itoa(i), "worker", now+int64(10*time.Second), now)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				b.Fatalf("RowsAffected = %d, %v", n, err)
			}
		}
	})
}

func BenchmarkClaimBatch(b *testing.B) {
	b.Run("sqlite/n=1000", func(b *testing.B) { dicttest.BenchClaimBatch(b, openTest(b, WithCleanupInterval(0)), 1000) })
}

// BenchmarkLeaseRenew renews the leases of 1,000 running rules of one
// worker in one Renew, as a worker's renewal period does (issue 18: one
// round trip per period).
func BenchmarkLeaseRenew(b *testing.B) {
	b.Run("sqlite/n=1000", func(b *testing.B) { dicttest.BenchLeaseRenew(b, openTest(b, WithCleanupInterval(0)), 1000) })
}
