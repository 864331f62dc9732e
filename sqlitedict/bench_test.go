package sqlitedict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// The benchmarks claim fresh keys, as the manager does once per slot, so
// every call stores. They share names across backends (BenchmarkClaim/redis,
// BenchmarkClaim/sqlite, ...) for benchstat. The file is in the test's
// temporary directory, so on the machine's disk.

const benchTTL = 10 * time.Second

func BenchmarkClaim(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		d, ctx := openTest(b, CleanupInterval(0)), context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if added, err := d.Add(ctx, strconv.Itoa(i), "worker", benchTTL); err != nil || !added {
				b.Fatalf("Add = %v, %v", added, err)
			}
		}
	})
}

// BenchmarkRawAddIfAbsent is the same statement run with database/sql
// directly: the floor that BenchmarkClaim is measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		d, ctx := openTest(b, CleanupInterval(0)), context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			now := time.Now().UnixNano()
			res, err := d.w.ExecContext(ctx, d.sql.claim, strconv.Itoa(i), "worker", now+int64(benchTTL), now)
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
	b.Run("sqlite", func(b *testing.B) {
		const n = 1000
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			d, ctx := openTest(b, CleanupInterval(0)), context.Background()
			adds := make([]ngxtasks.Add, n)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for j := range adds {
					adds[j] = ngxtasks.Add{Key: strconv.Itoa(i*n + j), Value: "worker", TTL: benchTTL}
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
