package pgdict

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ngxtasks/ngxtasks"
)

// TestExpiredClaimIsTakenOverByTheNextAdd checks that an expired claim's row
// is taken over by the next Add, by the server's clock.
func TestExpiredClaimIsTakenOverByTheNextAdd(t *testing.T) {
	d, ctx, k := openTest(t), context.Background(), prefix(t)+"k"
	if added, err := d.Add(ctx, k, "w1", 50*time.Millisecond); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok, err := d.Get(ctx, k); err != nil || ok {
		t.Fatalf("Get after expiry = %v, %v; want absent", ok, err)
	}
	if added, err := d.Add(ctx, k, "w2", time.Minute); err != nil || !added {
		t.Fatalf("Add after expiry = %v, %v; want stored", added, err)
	}
	if v, ok, err := d.Get(ctx, k); err != nil || !ok || v != "w2" {
		t.Fatalf("Get = %q, %v, %v; want w2", v, ok, err)
	}
}

func TestTTLStoredInMicrosecondsRoundedUp(t *testing.T) {
	for ttl, want := range map[time.Duration]int64{1: 1, 1500: 2, time.Second: 1000000, time.Hour + 1: 3600000001} {
		if got := micros(ttl); got != want {
			t.Errorf("micros(%v) = %d, want %d", ttl, got, want)
		}
	}
	d, ctx, k := openTest(t), context.Background(), prefix(t)+"k"
	if _, err := d.Add(ctx, k, "v", time.Hour); err != nil {
		t.Fatal(err)
	}
	var left time.Duration
	err := d.pool.QueryRow(ctx, "SELECT expires_at - clock_timestamp() FROM "+d.sql.table+" WHERE key = $1", k).Scan(&left)
	if err != nil || left <= 59*time.Minute || left > time.Hour {
		t.Fatalf("claim of ttl 1h expires in %v (%v)", left, err)
	}
	// Set stores the same expiry, and replaces the row's as well as its value.
	if err := d.Set(ctx, k, "v2", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	err = d.pool.QueryRow(ctx, "SELECT expires_at - clock_timestamp() FROM "+d.sql.table+" WHERE key = $1", k).Scan(&left)
	if err != nil || left <= 0 || left > 2*time.Second {
		t.Fatalf("Set of ttl 2s over a claim of 1h expires in %v (%v)", left, err)
	}
}

// race runs racers goroutines that each Add every key once, and returns how
// many stored each key.
func race(t *testing.T, d *Dict, keys []string, racers int) []int32 {
	t.Helper()
	wins := make([]atomic.Int32, len(keys))
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for r := range racers {
		wg.Go(func() {
			for i, k := range keys {
				added, err := d.Add(context.Background(), k, string(rune('A'+r)), time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if added {
					wins[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := make([]int32, len(keys))
	for i := range wins {
		n[i] = wins[i].Load()
	}
	return n
}

// TestExactlyOneRacerTakesOverAnExpiredClaim races Adds on rows whose claims
// have expired: exactly one may take each over.
func TestExactlyOneRacerTakesOverAnExpiredClaim(t *testing.T) {
	d, ctx, p := openTest(t), context.Background(), prefix(t)
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = p + string(rune('a'+i))
		if added, err := d.Add(ctx, keys[i], "old", time.Millisecond); err != nil || !added {
			t.Fatalf("Add = %v, %v", added, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	for i, n := range race(t, d, keys, 12) {
		if n != 1 {
			t.Errorf("key %q: %d winners, want 1", keys[i], n)
		}
	}
}

func TestInvalidEntriesAreRefusedAndAnyUTF8IsStored(t *testing.T) {
	d, ctx := openTest(t), context.Background()
	long := strings.Repeat("x", ngxtasks.MaxKeyLen+1)
	for _, c := range []struct {
		key, value string
		ttl        time.Duration
		want       error
	}{
		{"", "v", time.Second, ngxtasks.ErrInvalidEntry},
		{"k", "v", 0, ngxtasks.ErrInvalidEntry},
		{"k", "v", -time.Second, ngxtasks.ErrInvalidEntry},
		{long, "v", time.Second, ngxtasks.ErrTooLarge},
		{"k", long, time.Second, ngxtasks.ErrTooLarge},
		{"k\x00", "v", time.Second, ngxtasks.ErrInvalidEntry},
		{"k", "v\x00", time.Second, ngxtasks.ErrInvalidEntry},
		{"k\xff", "v", time.Second, ngxtasks.ErrInvalidEntry},
		{"k", "\xc3", time.Second, ngxtasks.ErrInvalidEntry},
	} {
		if added, err := d.Add(ctx, c.key, c.value, c.ttl); added || !errors.Is(err, c.want) {
			t.Errorf("Add(%.10q, %.10q, %v) = %v, %v; want %v", c.key, c.value, c.ttl, added, err, c.want)
		}
	}
	for _, k := range []string{"", long, "\x00", "\xff"} {
		if _, _, err := d.Get(ctx, k); err == nil {
			t.Errorf("Get(%.10q) accepted", k)
		}
	}
	// Any UTF-8 text is fine.
	k := prefix(t) + "ключ ☃ 🎉 '\"\\%_"
	if added, err := d.Add(ctx, k, "значение ☃", time.Minute); err != nil || !added {
		t.Fatalf("Add(UTF-8) = %v, %v", added, err)
	}
	if v, ok, err := d.Get(ctx, k); err != nil || !ok || v != "значение ☃" {
		t.Fatalf("Get(UTF-8) = %q, %v, %v", v, ok, err)
	}
}

// TestDeleteExpiredAfterCloseIsErrClosed: the cleanup call dicttest does not
// know refuses a closed Dict like the rest (dicttest's Closed covers those).
func TestDeleteExpiredAfterCloseIsErrClosed(t *testing.T) {
	d := openTest(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteExpired(context.Background()); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("DeleteExpired after Close: %v", err)
	}
}

// TestNewLeavesTheCallersPoolOpenOnClose checks that a Dict made with New
// leaves the caller's pool open on Close.
func TestNewLeavesTheCallersPoolOpenOnClose(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d, err := New(ctx, pool, WithTable(tempTable(t)))
	if err != nil {
		t.Fatal(err)
	}
	if added, err := d.Add(ctx, "k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+d.sql.table).Scan(&n); err != nil || n != 1 {
		t.Fatalf("pool after Dict.Close: %d rows, %v", n, err)
	}
	if _, err := New(ctx, nil); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("New(nil pool) = %v", err)
	}
}

func TestNowReadsTheServerClock(t *testing.T) {
	d := openTest(t)
	before := time.Now()
	now, err := d.Now(context.Background())
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if now.Before(before.Add(-time.Millisecond)) || now.After(after.Add(time.Millisecond)) {
		t.Fatalf("Now = %v, not within [%v, %v]", now, before, after)
	}
}
