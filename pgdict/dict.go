package pgdict

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ngxtasks/ngxtasks"
)

// Dict is an ngxtasks dictionary in a PostgreSQL table. It also implements
// ngxtasks.BatchAdder, ngxtasks.Setter, ngxtasks.StoreClock and
// ngxtasks.Leaser. It is safe for concurrent use.
//
// Its leases live in a second table beside the claims'. A lease is taken,
// with its claim, by one statement whose INSERT ... ON CONFLICT on the
// leases' primary key makes it atomic; the token counter is the lease's row,
// never deleted while the dictionary is in use; expiry is decided by the
// server's clock_timestamp(); leases and tokens are committed rows, so they
// survive a server restart as the claims do.
type Dict struct {
	pool   *pgxpool.Pool
	own    bool // the pool was made by Open: Close closes it
	sql    statements
	closed atomic.Bool

	stopCleanup context.CancelFunc
	cleanupDone sync.WaitGroup
	closeOnce   sync.Once
}

var (
	_ ngxtasks.Dict       = (*Dict)(nil)
	_ ngxtasks.BatchAdder = (*Dict)(nil)
	_ ngxtasks.Setter     = (*Dict)(nil)
	_ ngxtasks.StoreClock = (*Dict)(nil)
	_ ngxtasks.Leaser     = (*Dict)(nil)
)

// New returns a dictionary that keeps its claims in pool's database,
// creating the table if it is missing. The caller keeps ownership of pool:
// Close stops the cleanup goroutine but does not close the pool, which the
// program closes after Close.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Dict, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrBadConfig)
	}
	sql, cleanup, err := settings(opts)
	if err != nil {
		return nil, err
	}
	return newDict(ctx, pool, false, sql, cleanup)
}

// settings applies the options and checks them, before anything connects.
func settings(opts []Option) (statements, time.Duration, error) {
	c := config{table: DefaultTable, cleanup: time.Minute}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return statements{}, 0, err
		}
	}
	table, err := quoteTable(c.table)
	if err != nil {
		return statements{}, 0, err
	}
	return newStatements(c.table, table), c.cleanup, nil
}

func newDict(ctx context.Context, pool *pgxpool.Pool, own bool, sql statements, cleanup time.Duration) (*Dict, error) {
	d := &Dict{pool: pool, own: own, sql: sql}
	if err := d.createTables(ctx); err != nil {
		return nil, err
	}
	d.startCleanup(cleanup)
	return d, nil
}

// createTables creates the claims' table, and the leases' beside it, unless
// they exist. A role that may not create the leases' table (one set up
// before there were leases) keeps its claims: lease calls then say why.
func (d *Dict) createTables(ctx context.Context) error {
	if err := d.createTable(ctx, d.sql.table, d.sql.create); err != nil {
		return err
	}
	if d.sql.noLeases != nil {
		return nil
	}
	err := d.createTable(ctx, d.sql.leases, d.sql.createLease)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		d.sql.noLeases = fmt.Errorf("pgdict: no leases: %w", err)
		return nil
	}
	return err
}

// createTable creates a table unless it exists. The check comes first so
// that a role without CREATE can use a table made for it; the advisory lock
// keeps workers that start together from creating it at once, which
// CREATE TABLE IF NOT EXISTS alone does not survive.
func (d *Dict) createTable(ctx context.Context, table, create string) error {
	var exists bool
	if err := d.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
		return fmt.Errorf("pgdict: look for table %s: %w", table, err)
	}
	if exists {
		return nil
	}
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ngxtasks table ' || $1::text))`, table); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, create)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgdict: create table %s: %w", table, err)
	}
	return nil
}

// Pool returns the pool the dictionary uses.
func (d *Dict) Pool() *pgxpool.Pool { return d.pool }

// micros rounds ttl up to whole microseconds, the precision of timestamptz,
// so that a claim never lives less than asked.
func micros(ttl time.Duration) int64 {
	us := int64(ttl / time.Microsecond)
	if ttl%time.Microsecond != 0 {
		us++
	}
	return us
}

// checkText refuses what a text column cannot hold: PostgreSQL rejects a NUL
// byte and, in a UTF8 database, invalid UTF-8.
func checkText(what, s string) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: pgdict stores text: %s is not UTF-8 without NUL bytes", ngxtasks.ErrInvalidEntry, what)
	}
	return nil
}

func checkAdd(key, value string, ttl time.Duration) error {
	if err := ngxtasks.CheckEntry(key, value, ttl); err != nil {
		return err
	}
	if err := checkText("key", key); err != nil {
		return err
	}
	return checkText("value", value)
}

// Add implements ngxtasks.Dict with one INSERT ... ON CONFLICT statement.
func (d *Dict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := checkAdd(key, value, ttl); err != nil {
		return false, err
	}
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	var stored bool
	err := d.pool.QueryRow(ctx, d.sql.claim, key, value, micros(ttl)).Scan(&stored)
	switch {
	case err == nil:
		return stored, nil
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	default:
		return false, d.fail("claim", key, err)
	}
}

// Set implements ngxtasks.Setter with Add's INSERT, whose ON CONFLICT
// updates the row whatever it holds. The expiry is Add's: ttl rounded up to
// a microsecond from now, by the server's clock.
func (d *Dict) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := checkAdd(key, value, ttl); err != nil {
		return err
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	if _, err := d.pool.Exec(ctx, d.sql.set, key, value, micros(ttl)); err != nil {
		return d.fail("set", key, err)
	}
	return nil
}

// Get implements ngxtasks.Dict.
func (d *Dict) Get(ctx context.Context, key string) (string, bool, error) {
	if err := ngxtasks.CheckEntry(key, "", 1); err != nil {
		return "", false, err
	}
	if err := checkText("key", key); err != nil {
		return "", false, err
	}
	if err := d.ready(ctx); err != nil {
		return "", false, err
	}
	var v string
	err := d.pool.QueryRow(ctx, d.sql.get, key).Scan(&v)
	switch {
	case err == nil:
		return v, true, nil
	case errors.Is(err, pgx.ErrNoRows):
		return "", false, nil
	default:
		return "", false, d.fail("get", key, err)
	}
}

// Now implements ngxtasks.StoreClock with the server's clock_timestamp().
func (d *Dict) Now(ctx context.Context) (time.Time, error) {
	if err := d.ready(ctx); err != nil {
		return time.Time{}, err
	}
	var t time.Time
	if err := d.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, d.fail("clock", "", err)
	}
	return t, nil
}

// Close implements ngxtasks.Dict: it stops the cleanup goroutine and, if
// Open made the pool, closes it. Later calls return ngxtasks.ErrClosed.
func (d *Dict) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		if d.stopCleanup != nil {
			d.stopCleanup()
		}
		d.cleanupDone.Wait()
		if d.own {
			d.pool.Close()
		}
	})
	return nil
}

// ready refuses a call on a closed dictionary or an ended context before
// anything is sent, so such a call surely stored nothing.
func (d *Dict) ready(ctx context.Context) error {
	if d.closed.Load() {
		return ngxtasks.ErrClosed
	}
	return ctx.Err()
}

// fail describes a failed statement; one that raced Close reports ErrClosed.
func (d *Dict) fail(op, key string, err error) error {
	if d.closed.Load() {
		return fmt.Errorf("pgdict: %s: %w (%v)", op, ngxtasks.ErrClosed, err)
	}
	if key == "" {
		return fmt.Errorf("pgdict: %s: %w", op, err)
	}
	return fmt.Errorf("pgdict: %s %q: %w", op, key, err)
}
