package redisdict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// The benchmarks claim fresh keys, as the manager does once per slot, so
// every call stores. They share names across backends (BenchmarkClaim/redis,
// BenchmarkClaim/postgres, ...) for benchstat.

const benchTTL = 10 * time.Second

func BenchmarkClaim(b *testing.B) {
	b.Run("redis", func(b *testing.B) {
		d, ctx, p := openTest(b), context.Background(), prefix(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if added, err := d.Add(ctx, p+strconv.Itoa(i), "worker", benchTTL); err != nil || !added {
				b.Fatalf("Add = %v, %v", added, err)
			}
		}
	})
}

// BenchmarkRawAddIfAbsent is the same claim made with go-redis directly: the
// floor that BenchmarkClaim is measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("redis", func(b *testing.B) {
		d, ctx, p := openTest(b), context.Background(), prefix(b)
		c := d.Client()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if added, err := c.SetNX(ctx, p+strconv.Itoa(i), "worker", benchTTL).Result(); err != nil || !added {
				b.Fatalf("SetNX = %v, %v", added, err)
			}
		}
	})
}

func BenchmarkClaimBatch(b *testing.B) {
	b.Run("redis", func(b *testing.B) {
		const n = 1000
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			d, ctx, p := openTest(b), context.Background(), prefix(b)
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
