package sqlitedict

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

func init() {
	ngxtasks.Register("sqlite", func(ctx context.Context, u *url.URL) (ngxtasks.Dict, error) {
		return openURL(ctx, u)
	})
}

// Open opens the dictionary a "sqlite:" URL names (see the package
// documentation), creating the file and table when missing.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Dict, error) {
	u, err := ngxtasks.ParseDictURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %v", ErrBadConfig, err)
	}
	return openURL(ctx, u, opts...)
}

func openURL(ctx context.Context, u *url.URL, opts ...Option) (*Dict, error) {
	path, params, err := parseURL(u)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	return OpenFile(ctx, path, append(params, opts...)...)
}

// parseURL returns the file path of a sqlite URL and its parameters as
// options.
func parseURL(u *url.URL) (string, []Option, error) {
	if u.Scheme != "sqlite" {
		return "", nil, fmt.Errorf("scheme %q: want sqlite", u.Scheme)
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return "", nil, errors.New("fragment #…: a sqlite URL has none") // not shown: it could be a password
	}
	if u.User != nil {
		// Not shown: it could be a password put there by mistake.
		return "", nil, errors.New("user info: a sqlite URL names a local file and has no user: sqlite:///absolute/path or sqlite:relative/path")
	}
	if u.Host != "" {
		return "", nil, fmt.Errorf("host %q: a sqlite URL names a local file and has no host: sqlite:///absolute/path or sqlite:relative/path", u.Host)
	}
	path := u.Path
	if u.Opaque != "" {
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", nil, fmt.Errorf("path %q: %w", u.Opaque, err)
		}
		path = p
	}
	if path == "" || strings.HasSuffix(path, "/") {
		return "", nil, fmt.Errorf("path %q names no file: sqlite:///absolute/path or sqlite:relative/path", path)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("query: %w", err)
	}
	var opts []Option
	// In sorted order, so that a URL with several faults always names the
	// same one.
	for _, name := range slices.Sorted(maps.Keys(query)) {
		vals := query[name]
		if len(vals) != 1 {
			return "", nil, fmt.Errorf("parameter %s given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "table":
			opts = append(opts, WithTable(v))
		case "busy_timeout", "cleanup":
			d, err := time.ParseDuration(v)
			if err != nil {
				return "", nil, fmt.Errorf("parameter %s: %q is not a duration such as 5s", name, v)
			}
			if name == "cleanup" {
				opts = append(opts, WithCleanupInterval(d))
			} else {
				opts = append(opts, WithBusyTimeout(d))
			}
		default:
			return "", nil, fmt.Errorf("unknown parameter %q (known: busy_timeout, cleanup, table)", name)
		}
	}
	return path, opts, nil
}

// dirExists checks the directory the file goes in, which SQLite would only
// report as "unable to open database file (14)".
func dirExists(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: file %q: directory %s does not exist: create it (mkdir -p %s) or choose a file in one that does", ErrBadConfig, path, dir, dir)
	case err != nil:
		return fmt.Errorf("%w: file %q: directory %s: %w", ErrBadConfig, path, dir, err)
	case !st.IsDir():
		return fmt.Errorf("%w: file %q: %s is not a directory", ErrBadConfig, path, dir)
	}
	return nil
}

// OpenFile opens the dictionary in the SQLite file at path, creating the
// file and table when missing.
func OpenFile(ctx context.Context, path string, opts ...Option) (*Dict, error) {
	cfg := defaults()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
		}
	}
	switch {
	case path == "":
		return nil, fmt.Errorf("%w: file: empty path", ErrBadConfig)
	case path == ":memory:":
		// Each connection would get a database of its own, private to it.
		return nil, fmt.Errorf("%w: file %q: an in-memory database is not shared; use ngxtasks.MemoryDict", ErrBadConfig, path)
	case strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:"):
		// The driver would read a query or URI out of such a name.
		return nil, fmt.Errorf("%w: file %q: want a plain path without ? or # and not a file: URI", ErrBadConfig, path)
	}
	if err := dirExists(path); err != nil {
		return nil, err
	}
	// All writes of this process go through one connection: SQLite lets one
	// connection write at a time anyway, and a second connection of ours
	// would wait for the first in SQLite's busy handler (sleeping and
	// polling the lock), where database/sql's queue hands the connection
	// over at once and in order. Readers do not block the writer in WAL
	// mode; four cover concurrent Gets without holding many file handles.
	w, err := openDB(path, cfg, 1)
	if err != nil {
		return nil, err
	}
	r, err := openDB(path, cfg, 4)
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	d := &Dict{path: path, w: w, r: r, sql: statements(cfg.table)}
	if err := d.setup(ctx, cfg.busy); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, err
	}
	if d.take, err = w.PrepareContext(ctx, d.sql.leaseTake); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("sqlitedict: %s: prepare: %w", path, err)
	}
	d.startCleanup(cfg.cleanup)
	return d, nil
}

// openDB opens a pool of at most conns connections on the file, each set up
// for WAL, the busy timeout and immediate transactions.
func openDB(path string, cfg config, conns int) (*sql.DB, error) {
	// SQLite reads the busy timeout as a 32-bit count of milliseconds and
	// takes anything larger as 0 (fail at once), so cap it at 24 days.
	ms := min(cfg.busy.Milliseconds(), math.MaxInt32)
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", ms))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate") // take the write lock at BEGIN, where waiting for it is safe
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitedict: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// setup creates the tables, the leases table's missing columns and its
// triggers when missing. The first connection also switches a new file to
// WAL, which needs the file to itself: processes opening a new file
// together can be refused as busy without waiting, so a busy refusal is
// retried until the busy timeout.
func (d *Dict) setup(ctx context.Context, busy time.Duration) error {
	deadline := time.Now().Add(busy)
	exec := func(what, stmt string, ok func(error) bool) error {
		for {
			_, err := d.w.ExecContext(ctx, stmt)
			if err == nil || ok(err) {
				return nil
			}
			if !isBusy(err) || time.Now().After(deadline) {
				return fmt.Errorf("sqlitedict: %s: %s: %w", d.path, what, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("sqlitedict: %s: %s: %w", d.path, what, ctx.Err())
			case <-time.After(5*time.Millisecond + rand.N(20*time.Millisecond)):
			}
		}
	}
	never := func(error) bool { return false }
	for _, stmt := range d.sql.create {
		if err := exec("create table", stmt, never); err != nil {
			return err
		}
	}
	// A leases table made before the take had its own columns gets them;
	// another process may add them first.
	have := map[string]bool{}
	rows, err := d.w.QueryContext(ctx, `SELECT name FROM pragma_table_info(?1)`, strings.Trim(d.sql.leases, `"`))
	if err != nil {
		return fmt.Errorf("sqlitedict: %s: read the leases table: %w", d.path, err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return fmt.Errorf("sqlitedict: %s: read the leases table: %w", d.path, err)
		}
		have[name] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("sqlitedict: %s: read the leases table: %w", d.path, err)
	}
	for _, col := range d.sql.leaseColumns {
		if have[strings.Fields(col)[0]] {
			continue
		}
		dup := func(err error) bool { return strings.Contains(err.Error(), "duplicate column name") }
		if err := exec("add a column", `ALTER TABLE `+d.sql.leases+` ADD COLUMN `+col, dup); err != nil {
			return err
		}
	}
	for _, stmt := range d.sql.triggers {
		if err := exec("create trigger", stmt, never); err != nil {
			return err
		}
	}
	return nil
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var e interface{ Code() int }
	if !errors.As(err, &e) {
		return false
	}
	code := e.Code() & 0xff // extended codes keep the primary code in the low byte
	return code == 5 || code == 6
}
