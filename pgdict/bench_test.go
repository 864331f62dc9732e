package pgdict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// The benchmarks claim fresh keys, as the manager does once per slot, so
// every call stores. They share names across backends (BenchmarkClaim/redis,
// BenchmarkClaim/postgres, ...) for benchstat. Each uses a table of its own,
// dropped afterwards, so that its rows do not weigh on the tests.

const benchTTL = 10 * time.Second

func BenchmarkClaim(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		d, ctx, p := openTest(b, Table(tempTable(b))), context.Background(), prefix(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if added, err := d.Add(ctx, p+strconv.Itoa(i), "worker", benchTTL); err != nil || !added {
				b.Fatalf("Add = %v, %v", added, err)
			}
		}
	})
}

// BenchmarkRawAddIfAbsent is the same statement run with pgx directly: the
// floor that BenchmarkClaim is measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		d, ctx, p := openTest(b, Table(tempTable(b))), context.Background(), prefix(b)
		b.ReportAllocs()
		var stored bool
		for i := 0; b.Loop(); i++ {
			if err := d.pool.QueryRow(ctx, d.sql.claim, p+strconv.Itoa(i), "worker", benchTTL.Microseconds()).Scan(&stored); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClaimBatch(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		const n = 1000
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			d, ctx, p := openTest(b, Table(tempTable(b))), context.Background(), prefix(b)
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
		})
	})
}
