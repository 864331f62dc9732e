package pgdict

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// waitForLockWait waits until a statement containing text (in its first
// kilobyte, as pg_stat_activity keeps it) waits for a lock in another
// session.
func waitForLockWait(t *testing.T, d *Dict, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		err := d.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0`, text).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the statement never waited for the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLeaseUndoneWhenItsClaimIsAddedMeanwhile makes the one case where the
// lease is taken and its claim refused in the same statement: the claim
// added by another session after the statement's snapshot. The statement
// must undo the lease, its token included.
func TestLeaseUndoneWhenItsClaimIsAddedMeanwhile(t *testing.T) {
	d, ctx, p := openTest(t, WithTable(tempTable(t))), context.Background(), prefix(t)
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, d.sql.set, p+"slot", "other", int64(60e6)); err != nil {
		t.Fatal(err)
	}
	req := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "a", TTL: time.Minute,
		Claim: ngxtasks.Add{Key: p + "slot", Value: "a", TTL: time.Minute}}
	var got ngxtasks.LeaseRequest
	done := make(chan error, 1)
	go func() { got = req; done <- d.Lease(ctx, &got) }()
	waitForLockWait(t, d, "INSERT INTO "+d.sql.leases)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got.Acquired || got.Claim.Added || got.HeldBy != "" || got.Token != 0 {
		t.Fatalf("Lease with a claim added meanwhile = %+v; want refused, held by nobody", got)
	}
	if v, ok, err := d.Get(ctx, p+"slot"); err != nil || v != "other" {
		t.Fatalf("the claim = %q, %v, %v; want the other session's", v, ok, err)
	}
	again := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "b", TTL: time.Minute}
	if err := d.Lease(ctx, &again); err != nil || !again.Acquired || again.Token != 1 {
		t.Fatalf("Lease after the undone one = %+v, %v; want taken under token 1, the first", again, err)
	}
}

// TestLeaseRefusedNamesAHolderItsSnapshotMissed makes a lease taken by
// another session after the statement's snapshot: the refusal must still
// name that holder and its token.
func TestLeaseRefusedNamesAHolderItsSnapshotMissed(t *testing.T) {
	d, ctx, p := openTest(t, WithTable(tempTable(t))), context.Background(), prefix(t)
	k := p + "lease"
	first := ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &first); err != nil || !first.Acquired {
		t.Fatalf("Lease = %+v, %v", first, err)
	}
	if ok, err := d.Release(ctx, k, first.Token); err != nil || !ok {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE `+d.sql.leases+` SET holder = 'x', token = token + 1,
expires = clock_timestamp() + interval '1 minute' WHERE key = $1`, k); err != nil {
		t.Fatal(err)
	}
	var got ngxtasks.LeaseRequest
	done := make(chan error, 1)
	go func() { got = ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: time.Minute}; done <- d.Lease(ctx, &got) }()
	waitForLockWait(t, d, "INSERT INTO "+d.sql.leases)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got.Acquired || got.HeldBy != "x" || got.Token != first.Token+1 {
		t.Fatalf("Lease = %+v; want refused, held by x under token %d", got, first.Token+1)
	}
}

// TestLeaseRowsOutliveCleanupAndRelease checks that the token counter
// survives what ends leases: a release, then the cleanup of expired rows.
func TestLeaseRowsOutliveCleanupAndRelease(t *testing.T) {
	d, ctx, p := openTest(t, WithTable(tempTable(t)), WithCleanupInterval(0)), context.Background(), prefix(t)
	k := p + "lease"
	var last uint64
	for range 3 {
		req := ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: time.Minute}
		if err := d.Lease(ctx, &req); err != nil || !req.Acquired || req.Token <= last {
			t.Fatalf("Lease = %+v, %v; want taken above token %d", req, err, last)
		}
		last = req.Token
		if ok, err := d.Release(ctx, k, req.Token); err != nil || !ok {
			t.Fatalf("Release = %v, %v", ok, err)
		}
		if _, err := d.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if last != 3 {
		t.Fatalf("the third taking has token %d, want 3", last)
	}
}

// TestLeaseTokenBound checks that a key whose token reached the top of
// bigint fails to be taken again rather than wrapping around.
func TestLeaseTokenBound(t *testing.T) {
	d, ctx, p := openTest(t, WithTable(tempTable(t))), context.Background(), prefix(t)
	k := p + "lease"
	if _, err := d.pool.Exec(ctx, `INSERT INTO `+d.sql.leases+` VALUES ($1, '', $2, '-infinity')`, k, int64(math.MaxInt64)); err != nil {
		t.Fatal(err)
	}
	req := ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &req); err == nil || req.Acquired {
		t.Fatalf("Lease past the last token = %+v, %v; want an error", req, err)
	}
}

// TestLeaseCallsCheckFirst checks what fails before the server is asked:
// text a column cannot hold, an ended context, a closed dictionary.
func TestLeaseCallsCheckFirst(t *testing.T) {
	d, p := openTest(t, WithTable(tempTable(t))), prefix(t)
	ctx := context.Background()
	bad := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "a\x00", TTL: time.Minute}
	if err := d.Lease(ctx, &bad); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("Lease with a NUL in the holder: %v", err)
	}
	bad = ngxtasks.LeaseRequest{Key: p + "lease", Holder: "a", TTL: time.Minute, Claim: ngxtasks.Add{Key: p + "\xff", Value: "a", TTL: time.Minute}}
	if err := d.Lease(ctx, &bad); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("Lease with a claim key not UTF-8: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	req := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "a", TTL: time.Minute}
	if err := d.Lease(cancelled, &req); !errors.Is(err, context.Canceled) {
		t.Errorf("Lease with a cancelled context: %v", err)
	}
	rs := []ngxtasks.Renewal{{Key: p + "lease", Token: 1, TTL: time.Minute}}
	if err := d.Renew(cancelled, rs); !errors.Is(err, context.Canceled) || !errors.Is(rs[0].Err, context.Canceled) {
		t.Errorf("Renew with a cancelled context: %v, %v", err, rs[0].Err)
	}
	if _, err := d.Release(cancelled, p+"lease", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Release with a cancelled context: %v", err)
	}
	_ = d.Close()
	if err := d.Lease(ctx, &req); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Lease after Close: %v", err)
	}
	if err := d.Renew(ctx, rs); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Renew after Close: %v", err)
	}
	if _, err := d.Release(ctx, p+"lease", 1); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Release after Close: %v", err)
	}
}

// TestRenewRepeatedElements checks that a renewal repeated in one batch
// gets the answer of its first copy.
func TestRenewRepeatedElements(t *testing.T) {
	d, ctx, p := openTest(t, WithTable(tempTable(t))), context.Background(), prefix(t)
	req := ngxtasks.LeaseRequest{Key: p + "lease", Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &req); err != nil || !req.Acquired {
		t.Fatalf("Lease = %+v, %v", req, err)
	}
	rs := []ngxtasks.Renewal{
		{Key: req.Key, Token: req.Token, TTL: time.Minute},
		{Key: req.Key, Token: req.Token + 1, TTL: time.Minute},
		{Key: req.Key, Token: req.Token, TTL: time.Minute},
		{Key: req.Key, Token: math.MaxUint64, TTL: time.Minute},
	}
	if err := d.Renew(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true, false} {
		if rs[i].Renewed != want || rs[i].Err != nil {
			t.Errorf("renewal %d: %v, %v; want %v", i, rs[i].Renewed, rs[i].Err, want)
		}
	}
}

// TestNoLeasesForALongTableName checks that a claims' table whose name is
// too long to name its leases' table after it still holds claims, and that
// lease calls say why they cannot.
func TestNoLeasesForALongTableName(t *testing.T) {
	name := "ngxtasks_test_" + randomHex(6) + strings.Repeat("x", 63-26)
	d, ctx := openTest(t, WithTable(name)), context.Background()
	t.Cleanup(func() { _, _ = d.pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	if ok, err := d.Add(ctx, "k", "v", time.Minute); err != nil || !ok {
		t.Fatalf("Add = %v, %v", ok, err)
	}
	req := ngxtasks.LeaseRequest{Key: "lease", Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &req); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("Lease = %v; want an error about the table's name", err)
	}
}
