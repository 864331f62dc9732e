package sqlitedict

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func openTest(t testing.TB, opts ...Option) *Dict {
	t.Helper()
	d, err := OpenFile(context.Background(), filepath.Join(t.TempDir(), "claims.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url, path string
		cfg       config
	}{
		{"sqlite:///var/lib/app/claims.db", "/var/lib/app/claims.db", defaults()},
		{"sqlite:claims.db", "claims.db", defaults()},
		{"sqlite:data/claims%20x.db", "data/claims x.db", defaults()},
		{"sqlite:///tmp/c.db?busy_timeout=250ms&cleanup=0s&table=jobs_claims", "/tmp/c.db",
			config{table: "jobs_claims", busy: 250 * time.Millisecond, cleanup: 0}},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		path, opts, err := parseURL(u)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		cfg := defaults()
		for _, o := range opts {
			if err := o(&cfg); err != nil {
				t.Errorf("%s: %v", c.url, err)
			}
		}
		if path != c.path || cfg != c.cfg {
			t.Errorf("%s: path %q, %+v; want %q, %+v", c.url, path, cfg, c.path, c.cfg)
		}
	}
	for _, c := range []struct{ url, want string }{
		{"sqlite://host/claims.db", "no host"},
		{"sqlite://user@/claims.db", "no host"},
		{"sqlite:", "names no file"},
		{"sqlite:///tmp/", "names no file"},
		{"sqlite:///tmp/c.db?busy=1s", `unknown parameter "busy"`},
		{"sqlite:///tmp/c.db?busy_timeout=5", "busy_timeout"},
		{"sqlite:///tmp/c.db?cleanup=-1s", "cleanup"},
		{"sqlite:///tmp/c.db?table=drop;table", "semicolon"},
		{"sqlite:///tmp/c.db?table=drop-table", "table"},
		{"sqlite:///tmp/c.db?table=a&table=b", "table given 2 times"},
	} {
		_, err := Open(context.Background(), c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one saying %q", c.url, err, c.want)
		}
	}
}

func TestOpenDict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	d, err := ngxtasks.OpenDict(context.Background(), "sqlite://"+path+"?table=other")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(context.Background(), "k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if got := d.(*Dict).Path(); got != path {
		t.Errorf("Path = %q, want %q", got, path)
	}
}

// TestDeleteExpired: expired rows go, in transactions of 1,000, and live
// ones stay.
func TestDeleteExpired(t *testing.T) {
	d, ctx := openTest(t, CleanupInterval(0)), context.Background()
	adds := make([]ngxtasks.Add, 2500)
	for i := range adds {
		adds[i] = ngxtasks.Add{Key: "old" + strconv.Itoa(i), Value: "v", TTL: time.Millisecond}
	}
	if err := d.AddBatch(ctx, adds); err != nil {
		t.Fatal(err)
	}
	if added, err := d.Add(ctx, "live", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	time.Sleep(5 * time.Millisecond)
	n, err := d.DeleteExpired(ctx)
	if err != nil || n != 2500 {
		t.Fatalf("DeleteExpired = %d, %v; want 2500", n, err)
	}
	var rows int
	if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM ngxtasks_claims`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("rows left = %d, %v; want 1", rows, err)
	}
	if _, ok, _ := d.Get(ctx, "live"); !ok {
		t.Fatal("the live claim was deleted")
	}
}

// TestCleanupGoroutine: the goroutine deletes expired rows by itself, and
// Close stops it.
func TestCleanupGoroutine(t *testing.T) {
	d, ctx := openTest(t, CleanupInterval(20*time.Millisecond)), context.Background()
	if added, err := d.Add(ctx, "k", "v", time.Millisecond); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var rows int
		if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM ngxtasks_claims`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired row not cleaned within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLockedFile: a claim waits for another process's write lock up to the
// busy timeout, and no longer than its context.
func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	ctx := context.Background()
	holder, err := OpenFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	d, err := OpenFile(ctx, path, BusyTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	if added, err := d.Add(ctx, "k", "v", time.Minute); added || err == nil {
		t.Fatalf("Add on a locked file = %v, %v; want an error", added, err)
	}
	if waited := time.Since(start); waited < 90*time.Millisecond || waited > 3*time.Second {
		t.Errorf("waited %v for the lock, want about the busy timeout (100ms)", waited)
	}
	long, err := OpenFile(ctx, path, BusyTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if added, err := long.Add(cctx, "k", "v", time.Minute); added || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add on a locked file with a deadline = %v, %v; want DeadlineExceeded", added, err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("waited %v, past the context's 100ms deadline", waited)
	}
}
