package sqlitedict

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// lockFile opens the file at path and holds its write lock, as another
// process in the middle of a transaction would, until the test ends.
func lockFile(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	holder, err := OpenFile(ctx, path, WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := holder.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(); _ = holder.Close() })
}

// TestLockedFileMakesAClaimWaitUpToTheBusyTimeout: a claim waits for another
// connection's write lock up to the busy timeout, and no longer than its
// context; so does a batch, whose BEGIN IMMEDIATE is where it waits.
func TestLockedFileMakesAClaimWaitUpToTheBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	lockFile(t, path)
	ctx := context.Background()

	short, err := OpenFile(ctx, path, WithBusyTimeout(100*time.Millisecond), WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	start := time.Now()
	if added, err := short.Add(ctx, "k", "v", time.Minute); added || err == nil {
		t.Fatalf("Add on a locked file = %v, %v; want an error", added, err)
	}
	if waited := time.Since(start); waited < 90*time.Millisecond || waited > 3*time.Second {
		t.Errorf("Add waited %v for the lock, want about the busy timeout (100ms)", waited)
	}
	adds := []ngxtasks.Add{{Key: "k", Value: "v", TTL: time.Minute}}
	start = time.Now()
	_ = short.AddBatch(ctx, adds)
	if adds[0].Added || adds[0].Err == nil {
		t.Fatalf("AddBatch on a locked file = %+v; want an error", adds[0])
	}
	if waited := time.Since(start); waited < 90*time.Millisecond || waited > 3*time.Second {
		t.Errorf("AddBatch waited %v for the lock, want about the busy timeout (100ms)", waited)
	}

	long, err := OpenFile(ctx, path, WithBusyTimeout(time.Minute), WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	for _, op := range []struct {
		name string
		do   func(context.Context) (bool, error)
	}{
		{"Add", func(c context.Context) (bool, error) { return long.Add(c, "k", "v", time.Minute) }},
		{"AddBatch", func(c context.Context) (bool, error) {
			adds := []ngxtasks.Add{{Key: "k", Value: "v", TTL: time.Minute}}
			_ = long.AddBatch(c, adds)
			return adds[0].Added, adds[0].Err
		}},
	} {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		added, err := op.do(cctx)
		waited := time.Since(start)
		cancel()
		if added || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s on a locked file with a deadline = %v, %v; want DeadlineExceeded", op.name, added, err)
		}
		if waited > 2*time.Second {
			t.Errorf("%s waited %v, past the context's 100ms deadline (busy timeout 1m)", op.name, waited)
		}
		t.Logf("%s returned %v after its context's 100ms deadline", op.name, waited-100*time.Millisecond)
	}
	// Reads do not wait for the writer: WAL.
	if _, ok, err := long.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get during another's write = %v, %v", ok, err)
	}
}
