package sqlitedict

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// Dict is a dictionary in a SQLite file. It also implements
// ngxtasks.BatchAdder, ngxtasks.Setter and ngxtasks.Leaser. It is safe for
// concurrent use, and any number of processes on the host may open the same
// file.
//
// Its leases rest on SQLite's write lock: Lease takes the lease and adds
// the claim in one statement (a trigger adds the claim, or aborts the
// take), so one transaction. Each key's fencing token
// is a column of its row in the leases table (the claims table's name plus
// "_leases"), a row kept after the lease ends so the count goes on. Expiry
// is judged by the local clock, which all processes of the host share.
// Leases and tokens are in the file, so they outlive the processes; an
// operating system crash or power loss may forget the last commits
// (synchronous=NORMAL), and so hand out a token again.
type Dict struct {
	path   string
	w      *sql.DB // one connection: claims and cleanup
	r      *sql.DB // a few connections: Get
	sql    queries
	closed atomic.Bool
	// Lease's statement, prepared on w.
	take *sql.Stmt

	closeOnce   sync.Once
	stopCleanup context.CancelFunc
	cleanupDone sync.WaitGroup
}

var (
	_ ngxtasks.Dict       = (*Dict)(nil)
	_ ngxtasks.BatchAdder = (*Dict)(nil)
	_ ngxtasks.Setter     = (*Dict)(nil)
	_ ngxtasks.Leaser     = (*Dict)(nil)
)

// Path returns the file's path.
func (d *Dict) Path() string { return d.path }

// Add implements ngxtasks.Dict.
func (d *Dict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := ngxtasks.CheckEntry(key, value, ttl); err != nil {
		return false, fmt.Errorf("sqlitedict: add: %w", err)
	}
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	now := time.Now().UnixNano()
	res, err := d.w.ExecContext(ctx, d.sql.claim, key, value, expiry(now, ttl), now)
	if err != nil {
		return false, d.fail(ctx, "add", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, d.fail(ctx, "add", err)
	}
	return n == 1, nil
}

// Set implements ngxtasks.Setter with Add's statement less its WHERE: it
// stores the entry whatever the key holds, expiring as Add's would.
func (d *Dict) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := ngxtasks.CheckEntry(key, value, ttl); err != nil {
		return fmt.Errorf("sqlitedict: set: %w", err)
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	if _, err := d.w.ExecContext(ctx, d.sql.set, key, value, expiry(time.Now().UnixNano(), ttl)); err != nil {
		return d.fail(ctx, "set", err)
	}
	return nil
}

// expiry is now + ttl in Unix nanoseconds, saturating rather than wrapping
// for a ttl of centuries.
func expiry(now int64, ttl time.Duration) int64 {
	if int64(ttl) > (1<<63-1)-now {
		return 1<<63 - 1
	}
	return now + int64(ttl)
}

// Get implements ngxtasks.Dict.
func (d *Dict) Get(ctx context.Context, key string) (string, bool, error) {
	if err := ngxtasks.CheckEntry(key, "", 1); err != nil {
		return "", false, fmt.Errorf("sqlitedict: get: %w", err)
	}
	if err := d.ready(ctx); err != nil {
		return "", false, err
	}
	var v string
	err := d.r.QueryRowContext(ctx, d.sql.get, key, time.Now().UnixNano()).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, d.fail(ctx, "get", err)
	}
	return v, true, nil
}

// Close stops the cleanup goroutine and closes the file. Later calls return
// ngxtasks.ErrClosed. Claims stay in the file for other processes.
func (d *Dict) Close() error {
	var err error
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		if d.stopCleanup != nil {
			d.stopCleanup()
		}
		d.cleanupDone.Wait()
		err = errors.Join(d.take.Close(), d.w.Close(), d.r.Close())
	})
	return err
}

// ready refuses calls on a closed Dict or with a context already done, so
// that they never reach the file.
func (d *Dict) ready(ctx context.Context) error {
	if d.closed.Load() {
		return fmt.Errorf("sqlitedict: %w", ngxtasks.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlitedict: %w", err)
	}
	return nil
}

// fail wraps a driver error. A call that raced with Close reports
// ErrClosed, as the caller's mistake it is; one cut short by its context
// reports the context's error too, so errors.Is finds it.
func (d *Dict) fail(ctx context.Context, op string, err error) error {
	if d.closed.Load() {
		return fmt.Errorf("sqlitedict: %s: %w", op, ngxtasks.ErrClosed)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlitedict: %s %s: %w: %w", op, d.path, cerr, err)
	}
	return fmt.Errorf("sqlitedict: %s %s: %w", op, d.path, err)
}
