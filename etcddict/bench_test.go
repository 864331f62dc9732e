package etcddict

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The benchmarks claim fresh keys, as the manager does once per slot, so
// every call stores. They share names across backends (BenchmarkClaim/redis,
// BenchmarkClaim/etcd, ...) for benchstat.

const benchTTL = 10 * time.Second

func BenchmarkClaim(b *testing.B) {
	b.Run("etcd", func(b *testing.B) {
		d, ctx := openTest(b, ""), context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if added, err := d.Add(ctx, strconv.Itoa(i), "worker", benchTTL); err != nil || !added {
				b.Fatalf("Add = %v, %v", added, err)
			}
		}
	})
}

// BenchmarkRawAddIfAbsent is the same transaction made with the etcd client
// directly, on one lease granted beforehand: the floor that BenchmarkClaim is
// measured against.
func BenchmarkRawAddIfAbsent(b *testing.B) {
	b.Run("etcd", func(b *testing.B) {
		d, ctx := openTest(b, ""), context.Background()
		c := d.Client()
		l, err := c.Grant(ctx, int64(2*benchTTL/time.Second))
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
	b.Run("etcd", func(b *testing.B) {
		const n = 1000
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			d, ctx := openTest(b, ""), context.Background()
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
