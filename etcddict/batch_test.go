package etcddict

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// batchOf makes n adds of keys name-0...name-(n-1).
func batchOf(name string, n int, ttl time.Duration) []ngxtasks.Add {
	adds := make([]ngxtasks.Add, n)
	for i := range adds {
		adds[i] = ngxtasks.Add{Key: fmt.Sprint(name, "-", i), Value: fmt.Sprint("v", i), TTL: ttl}
	}
	return adds
}

// checkBatch runs AddBatch and expects every element stored, and readable.
func checkBatch(t *testing.T, d *Dict, adds []ngxtasks.Add) error {
	t.Helper()
	ctx := ctxT(t)
	if err := d.AddBatch(ctx, adds); err != nil {
		return err
	}
	for _, a := range adds {
		if !a.Added || a.Err != nil {
			return fmt.Errorf("%s: Added %v, Err %v", a.Key, a.Added, a.Err)
		}
		if v, ok, err := d.Get(ctx, a.Key); v != a.Value || !ok || err != nil {
			return fmt.Errorf("Get %s = %q, %v, %v", a.Key, v, ok, err)
		}
	}
	return nil
}

func TestAddBatchSetsEachElementsResult(t *testing.T) {
	d := openTest(t, "")
	ctx := ctxT(t)
	// Taken before the batch: every tenth key.
	for i := 0; i < 300; i += 10 {
		if ok, err := d.Add(ctx, fmt.Sprint("k-", i), "earlier", 30*time.Second); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	adds := batchOf("k", 300, 30*time.Second)
	adds = append(adds,
		ngxtasks.Add{Key: "k-1", Value: "dup", TTL: time.Second},     // repeats element 1
		ngxtasks.Add{Key: "k-10", Value: "dup", TTL: time.Second},    // repeats a taken key
		ngxtasks.Add{Key: "", Value: "v", TTL: time.Second},          // invalid
		ngxtasks.Add{Key: "short", Value: "v", TTL: 0},               // invalid
		ngxtasks.Add{Key: "other-ttl", Value: "v", TTL: time.Second}, // another lease
	)
	if err := d.AddBatch(ctx, adds); err != nil {
		t.Fatal(err)
	}
	for i, a := range adds[:300] {
		want := i%10 != 0
		if a.Added != want || a.Err != nil {
			t.Errorf("%s: Added %v, Err %v; want Added %v", a.Key, a.Added, a.Err, want)
		}
	}
	for _, a := range adds[300:302] {
		if a.Added || a.Err != nil {
			t.Errorf("repeated %s: Added %v, Err %v", a.Key, a.Added, a.Err)
		}
	}
	if !errors.Is(adds[302].Err, ngxtasks.ErrInvalidEntry) || !errors.Is(adds[303].Err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("invalid elements: %v, %v", adds[302].Err, adds[303].Err)
	}
	if !adds[304].Added || adds[304].Err != nil {
		t.Errorf("other ttl: %v, %v", adds[304].Added, adds[304].Err)
	}
	for i := range 300 {
		want := fmt.Sprint("v", i)
		if i%10 == 0 {
			want = "earlier"
		}
		if v, ok, err := d.Get(ctx, fmt.Sprint("k-", i)); v != want || !ok || err != nil {
			t.Fatalf("Get k-%d = %q, %v, %v; want %q", i, v, ok, err, want)
		}
	}
	if err := d.AddBatch(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// TestAddBatchSplitsTransactionsTheServerRefuses asks for transactions
// larger than the server's limit (128 operations by default): refused whole,
// they are split, and later batches use the smaller size.
func TestAddBatchSplitsTransactionsTheServerRefuses(t *testing.T) {
	d := openTest(t, "max_txn_ops=1000")
	if err := checkBatch(t, d, batchOf("k", 700, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	n := d.maxOps.Load()
	if n > 128 || n < 64 {
		t.Errorf("chunk size is now %d, want in [64, 128]", n)
	}
	t.Logf("chunk size learned: %d", n)
}

// TestRacingBatchesStoreEachKeyOnce has three Dicts batch the same keys at
// once: each key is stored by exactly one element.
func TestRacingBatchesStoreEachKeyOnce(t *testing.T) {
	base := openTest(t, "")
	const n = 400
	var wins [n]int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 3 {
		d, err := New(rawClient(t), base.Prefix(), WithConcurrency(1+w))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		wg.Go(func() {
			adds := batchOf("k", n, 10*time.Second)
			if err := d.AddBatch(ctxT(t), adds); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for i, a := range adds {
				if a.Err != nil {
					t.Errorf("%s: %v", a.Key, a.Err)
				}
				if a.Added {
					wins[i]++
				}
			}
		})
	}
	wg.Wait()
	for i, w := range wins {
		if w != 1 {
			t.Errorf("key %d: %d winners", i, w)
		}
	}
}
