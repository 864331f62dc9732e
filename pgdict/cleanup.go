package pgdict

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// startCleanup runs DeleteExpired every interval, jittered so that workers
// started together do not all clean at once, until Close.
func (d *Dict) startCleanup(interval time.Duration) {
	if interval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.stopCleanup = cancel
	d.cleanupDone.Add(1)
	go func() {
		defer d.cleanupDone.Done()
		t := time.NewTimer(jitter(interval))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A failure (server down, say) is left for the next round:
			// expired rows hurt nothing but space.
			rctx, rcancel := context.WithTimeout(ctx, max(interval, 10*time.Second))
			_, _ = d.DeleteExpired(rctx)
			rcancel()
			t.Reset(jitter(interval))
		}
	}()
}

// jitter returns a duration in [interval/2, 3*interval/2).
func jitter(interval time.Duration) time.Duration {
	return interval/2 + rand.N(interval)
}

// DeleteExpired deletes rows whose claims have expired, in statements of at
// most 1,000 rows, until none is left or 5 s have passed, and reports how
// many it deleted. The cleanup goroutine calls it; call it yourself with
// WithCleanupInterval(0).
func (d *Dict) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	for start := time.Now(); time.Since(start) < cleanupBudget; {
		if err := d.ready(ctx); err != nil {
			return total, err
		}
		tag, err := d.pool.Exec(ctx, d.sql.cleanup)
		if err != nil {
			return total, fmt.Errorf("pgdict: delete expired rows: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < cleanupLimit {
			break
		}
	}
	return total, nil
}
