package etcddict

import (
	"context"
	"strconv"
	"testing"

	"github.com/ngxtasks/ngxtasks/dicttest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The benchmarks share names and bodies across backends (BenchmarkClaim/redis,
// BenchmarkClaim/etcd, ...) for benchstat; see dicttest.BenchClaim.

func BenchmarkClaim(b *testing.B) {
	b.Run("etcd", func(b *testing.B) { dicttest.BenchClaim(b, openTest(b, "")) })
}

// BenchmarkRawAddIfAbsent is the same transaction made with the etcd client
// directly, on one lease granted beforehand: the floor that BenchmarkClaim is
// measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("etcd", func(b *testing.B) {
		d, ctx := openTest(b, ""), context.Background()
		c := d.Client()
		l, err := c.Grant(ctx, 20)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			k := d.Prefix() + strconv.Itoa(i)
			resp, err := c.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
				Then(clientv3.OpPut(k, "worker", clientv3.WithLease(l.ID))).
				Commit()
			if err != nil || !resp.Succeeded {
				b.Fatalf("Txn = %v, %v", resp, err)
			}
		}
	})
}

func BenchmarkClaimBatch(b *testing.B) {
	b.Run("etcd/n=1000", func(b *testing.B) { dicttest.BenchClaimBatch(b, openTest(b, ""), 1000) })
}
