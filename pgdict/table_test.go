package pgdict

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTableNamesAreCheckedAndQuoted(t *testing.T) {
	for _, ok := range []string{"claims", "_x1", "public.claims", "A_b"} {
		if _, err := quoteTable(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1x", "a-b", "a.b.c", "a.", `x"; DROP TABLE y; --`, "é", strings.Repeat("a", 64)} {
		_, err := quoteTable(bad)
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "table") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if q, _ := quoteTable("public.claims"); q != `"public"."claims"` {
		t.Errorf("quoted %s", q)
	}
	if _, err := Open(context.Background(), "postgres://127.0.0.1/x", WithTable("a-b")); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Open with a bad table: %v", err)
	}
	if _, err := Open(context.Background(), "postgres://127.0.0.1/x", WithCleanupInterval(-1)); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Open with a negative cleanup interval: %v", err)
	}
}

// TestManyOpenersCreateOneTableTogether opens one new table from many
// goroutines at once: the advisory lock must let every one of them succeed.
func TestManyOpenersCreateOneTableTogether(t *testing.T) {
	table := tempTable(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			d, err := Open(context.Background(), serverURL(t), WithTable(table), WithCleanupInterval(0))
			if err == nil {
				_, err = d.Add(context.Background(), "k", "v", time.Minute)
				d.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestDeleteExpiredRemovesOnlyExpiredRows(t *testing.T) {
	d, ctx := openTest(t, WithTable(tempTable(t)), WithCleanupInterval(0)), context.Background()
	const expired, live = 2500, 10
	adds := make([]string, expired)
	for i := range adds {
		adds[i] = "old" + string(rune(0x100+i))
	}
	if _, err := d.pool.Exec(ctx, "INSERT INTO "+d.sql.table+" SELECT k, 'v', clock_timestamp() - interval '1 second' FROM unnest($1::text[]) k", adds); err != nil {
		t.Fatal(err)
	}
	for i := range live {
		if _, err := d.Add(ctx, "live"+string(rune('a'+i)), "v", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.DeleteExpired(ctx)
	if err != nil || n != expired {
		t.Fatalf("DeleteExpired = %d, %v; want %d", n, err, expired)
	}
	var left int
	if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM "+d.sql.table).Scan(&left); err != nil || left != live {
		t.Fatalf("%d rows left (%v), want the %d live ones", left, err, live)
	}
}

// TestCleanupGoroutineDeletesExpiredRowsAndEndsWithClose checks that expired
// rows go without being asked, and that Close stops the goroutine (the race
// detector and the test's end would see it otherwise).
func TestCleanupGoroutineDeletesExpiredRowsAndEndsWithClose(t *testing.T) {
	d, ctx := openTest(t, WithTable(tempTable(t)), WithCleanupInterval(20*time.Millisecond)), context.Background()
	if _, err := d.Add(ctx, "k", "v", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM "+d.sql.table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired row still there after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
