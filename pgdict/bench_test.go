package pgdict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

// The benchmarks share names and bodies across backends (BenchmarkClaim/redis,
// BenchmarkClaim/postgres, ...) for benchstat; see dicttest.BenchClaim. Each uses a table of its own,
// dropped afterwards, so that its rows do not weigh on the tests.

func BenchmarkClaim(b *testing.B) {
	b.Run("postgres", func(b *testing.B) { dicttest.BenchClaim(b, openTest(b, WithTable(tempTable(b)))) })
}

// BenchmarkRawAddIfAbsent is the same statement run with pgx directly: the
// floor that BenchmarkClaim is measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		d, ctx, p := openTest(b, WithTable(tempTable(b))), context.Background(), prefix(b)
		b.ReportAllocs()
		var stored bool
		for i := 0; b.Loop(); i++ {
			if err := d.pool.QueryRow(ctx, d.sql.claim, p+strconv.Itoa(i), "worker", (10 * time.Second).Microseconds()).Scan(&stored); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClaimBatch(b *testing.B) {
	b.Run("postgres/n=1000", func(b *testing.B) { dicttest.BenchClaimBatch(b, openTest(b, WithTable(tempTable(b))), 1000) })
}

// BenchmarkLeaseClaim is BenchmarkClaim's claim taken with a lease, in one
// statement: the target is at most 1.2 times BenchmarkClaim. One
// lease key is taken again each op, with a fresh claim, as a rule's lease is
// each run; the release after each op is not timed.
func BenchmarkLeaseClaim(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		d, ctx, p := openTest(b, WithTable(tempTable(b))), context.Background(), prefix(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			req := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "worker", TTL: 10 * time.Second,
				Claim: ngxtasks.Add{Key: p + strconv.Itoa(i), Value: "worker", TTL: 10 * time.Second}}
			if err := d.Lease(ctx, &req); err != nil || !req.Acquired || !req.Claim.Added {
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

// BenchmarkLeaseRenew renews the leases of 1,000 running rules of one
// worker in one Renew, as a worker's renewal period does (issue 18: one
// round trip per period).
func BenchmarkLeaseRenew(b *testing.B) {
	b.Run("postgres/n=1000", func(b *testing.B) { dicttest.BenchLeaseRenew(b, openTest(b), 1000) })
}
