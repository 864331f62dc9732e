package fleettest_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// counting passes a dictionary's calls through and counts them.
type counting struct {
	ngxtasks.Dict
	b              ngxtasks.BatchAdder
	adds, batches  atomic.Int64
	claims, errors atomic.Int64
}

func (c *counting) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	c.adds.Add(1)
	return c.Dict.Add(ctx, key, value, ttl)
}

func (c *counting) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	c.batches.Add(1)
	c.claims.Add(int64(len(adds)))
	err := c.b.AddBatch(ctx, adds)
	for _, a := range adds {
		if a.Err != nil {
			c.errors.Add(1)
		}
	}
	return err
}

// TestBatchedClaimsTakeFewRoundTripsAndAllRun: 10,000 Preemption rules due
// on the same second, on a real store, are claimed in batches, a few dozen
// round trips a second rather than 10,000, and all run.
func TestBatchedClaimsTakeFewRoundTripsAndAllRun(t *testing.T) {
	const rules = 10000
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			d, err := ngxtasks.OpenDict(ctx, url(t, b.env))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c := &counting{Dict: d, b: d.(ngxtasks.BatchAdder)}
			var mu sync.Mutex
			ran := map[int64]int{} // runs per slot
			m := &ngxtasks.Manager{Dict: c, Namespace: "batch-" + b.name + time.Now().Format("150405.000")}
			for i := range rules {
				err := m.Push(ngxtasks.Rule{Identifier: "r" + strconv.Itoa(i), Interval: time.Second, Type: ngxtasks.Preemption,
					Callback: func(_ context.Context, f ngxtasks.Firing) error {
						mu.Lock()
						ran[f.Slot.N]++
						mu.Unlock()
						return nil
					}})
				if err != nil {
					t.Fatal(err)
				}
			}
			// Start just after a second begins, and stop just before the
			// third: two whole slots.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
			first := time.Now().Unix()
			runCtx, cancel := context.WithTimeout(ctx, time.Until(time.Unix(first+2, 0).Add(-50*time.Millisecond)))
			defer cancel()
			_ = m.Start(runCtx)
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			defer scancel()
			if err := m.Shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for n := first; n < first+2; n++ {
				if ran[n] != rules {
					t.Errorf("slot %d: %d of %d rules ran", n, ran[n], rules)
				}
			}
			if c.adds.Load() != 0 || c.errors.Load() != 0 {
				t.Errorf("%d single Adds and %d failed claims; want every claim batched and answered", c.adds.Load(), c.errors.Load())
			}
			perSecond := float64(c.batches.Load()) / 2
			if perSecond > rules/100 {
				t.Errorf("%.0f batches a second for %d claims a second", perSecond, rules)
			}
			t.Logf("%d claims in %d batches: %.0f round trips a second for %d claims a second", c.claims.Load(), c.batches.Load(), perSecond, rules)
		})
	}
}
