package sqlitedict

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// fillExpired stores n claims that expire at once, in one batch.
func fillExpired(t *testing.T, d *Dict, n int) {
	t.Helper()
	adds := make([]ngxtasks.Add, n)
	for i := range adds {
		adds[i] = ngxtasks.Add{Key: "old" + strconv.Itoa(i), Value: "v", TTL: time.Millisecond}
	}
	if err := d.AddBatch(context.Background(), adds); err != nil {
		t.Fatal(err)
	}
	for _, a := range adds {
		if !a.Added || a.Err != nil {
			t.Fatalf("%s: %+v", a.Key, a)
		}
	}
	time.Sleep(5 * time.Millisecond)
}

// TestDeleteExpiredRemovesOnlyExpiredRows: expired rows go and live ones
// stay; Get ignores an expired row that cleanup has not reached yet.
func TestDeleteExpiredRemovesOnlyExpiredRows(t *testing.T) {
	d, ctx := openTest(t, WithCleanupInterval(0)), context.Background()
	fillExpired(t, d, 2500)
	if added, err := d.Add(ctx, "live", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if v, ok, err := d.Get(ctx, "old7"); ok || err != nil {
		t.Fatalf("Get of an expired row = %q, %v, %v; want absent", v, ok, err)
	}
	n, err := d.DeleteExpired(ctx)
	if err != nil || n != 2500 {
		t.Fatalf("DeleteExpired = %d, %v; want 2500", n, err)
	}
	if n := rows(t, d); n != 1 {
		t.Fatalf("rows left = %d; want 1", n)
	}
	if _, ok, _ := d.Get(ctx, "live"); !ok {
		t.Fatal("the live claim was deleted")
	}
	if n, err := d.DeleteExpired(ctx); n != 0 || err != nil {
		t.Fatalf("DeleteExpired with nothing expired = %d, %v", n, err)
	}
}

// TestOneCleanupStatementDeletesAtMostCleanupLimitRows: one cleanup
// statement deletes at most cleanupLimit rows, so it holds the write lock
// for a bounded time however many rows have expired.
func TestOneCleanupStatementDeletesAtMostCleanupLimitRows(t *testing.T) {
	d, ctx := openTest(t, WithCleanupInterval(0)), context.Background()
	fillExpired(t, d, 2*cleanupLimit+500)
	for _, want := range []int64{cleanupLimit, cleanupLimit, 500, 0} {
		res, err := d.w.ExecContext(ctx, d.sql.cleanupQ, time.Now().UnixNano())
		if err != nil {
			t.Fatal(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != want {
			t.Fatalf("one cleanup statement deleted %d rows, %v; want %d", n, err, want)
		}
	}
}

// TestCleanupGoroutineDeletesExpiredRowsAndEndsWithClose: the goroutine
// deletes expired rows by itself, and has ended when Close returns.
func TestCleanupGoroutineDeletesExpiredRowsAndEndsWithClose(t *testing.T) {
	d, ctx := openTest(t, WithCleanupInterval(20*time.Millisecond)), context.Background()
	if added, err := d.Add(ctx, "k", "v", time.Millisecond); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	for deadline := time.Now().Add(5 * time.Second); rows(t, d) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("expired row not cleaned within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.cleanupDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("cleanup goroutine still running after Close")
	}
	if _, err := d.DeleteExpired(ctx); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Fatalf("DeleteExpired after Close = %v; want ErrClosed", err)
	}
}
