package sqlitedict

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"
)

// DeleteExpired deletes in transactions of at most cleanupLimit rows, for at
// most cleanupBudget per call.
const (
	cleanupLimit  = 1000
	cleanupBudget = 5 * time.Second
)

type execFunc = func(ctx context.Context, args ...any) (sql.Result, error)

// startCleanup runs DeleteExpired every interval, jittered so that
// processes started together do not all clean at once, until Close.
func (d *Dict) startCleanup(interval time.Duration) {
	if interval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.stopCleanup = cancel
	d.cleanupDone.Go(func() {
		t := time.NewTimer(jitter(interval))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A failure is left for the next round: expired rows hurt
			// nothing but space.
			_, _ = d.DeleteExpired(ctx)
			t.Reset(jitter(interval))
		}
	})
}

// jitter returns a duration in [interval/2, 3*interval/2).
func jitter(interval time.Duration) time.Duration {
	return interval/2 + rand.N(interval)
}

// DeleteExpired deletes the rows of expired claims, in transactions of at
// most 1,000 rows so that claims are not held up, until none is left or 5 s
// have passed, and reports how many it deleted. The cleanup goroutine calls
// it; call it yourself with WithCleanupInterval(0).
func (d *Dict) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	start := time.Now()
	for time.Since(start) < cleanupBudget {
		if err := d.ready(ctx); err != nil {
			return total, err
		}
		res, err := d.w.ExecContext(ctx, d.sql.cleanupQ, time.Now().UnixNano())
		if err != nil {
			return total, d.fail(ctx, "delete expired rows", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, d.fail(ctx, "delete expired rows", err)
		}
		total += n
		if n < cleanupLimit {
			break
		}
	}
	return total, nil
}
