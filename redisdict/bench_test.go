package redisdict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

// The benchmarks share names and bodies across backends (BenchmarkClaim/redis,
// BenchmarkClaim/postgres, ...) for benchstat; see dicttest.BenchClaim.

func BenchmarkClaim(b *testing.B) {
	b.Run("redis", func(b *testing.B) { dicttest.BenchClaim(b, openTest(b)) })
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
