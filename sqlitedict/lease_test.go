package sqlitedict

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

const leaseEnv = "NGXTASKS_SQLITE_LEASER"

// leaseChild, in a process TestLeaseWithClaimAcrossProcesses started,
// waits for the start instant (Unix nanoseconds after the path), then
// leases "rule" with the claim of each of slot-0 to slot-299, from an
// offset of its own, printing each slot it won with its token and
// releasing the lease at once.
func leaseChild() {
	path, at, ok := strings.Cut(os.Getenv(leaseEnv), "|")
	if !ok {
		return
	}
	fail := func(err error) { fmt.Fprintln(os.Stderr, "leaser:", err); os.Exit(1) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := OpenFile(ctx, path, WithCleanupInterval(0))
	if err != nil {
		fail(err)
	}
	me := strconv.Itoa(os.Getpid())
	w := bufio.NewWriter(os.Stdout)
	if ns, err := strconv.ParseInt(at, 10, 64); err == nil {
		time.Sleep(time.Until(time.Unix(0, ns)))
	}
	off := os.Getpid() // each its own order: they meet on the lease and on slots
	for i := range 300 {
		slot := "slot-" + strconv.Itoa((i+off)%300)
		req := ngxtasks.LeaseRequest{Key: "rule", Holder: me, TTL: time.Minute, Claim: ngxtasks.Add{Key: slot, Value: me, TTL: time.Hour}}
		if err := d.Lease(ctx, &req); err != nil {
			fail(err)
		}
		if !req.Acquired {
			continue
		}
		fmt.Fprintln(w, "won", slot, me, req.Token)
		if ok, err := d.Release(ctx, "rule", req.Token); err != nil || !ok {
			fail(fmt.Errorf("release %d: %v, %v", req.Token, ok, err))
		}
	}
	if err := w.Flush(); err != nil {
		fail(err)
	}
	_ = d.Close()
	os.Exit(0)
}

// TestLeaseWithClaimAcrossProcesses: four processes race for one lease,
// each with a slot's claim. A slot is won at most once, its claim holds the
// winner's value and no claim was stored without a win, and the tokens are
// 1, 2, ... with none repeated or lost (a refused claim's take was rolled
// back).
func TestLeaseWithClaimAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	d0, err := OpenFile(context.Background(), path, WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	_ = d0.Close()

	at := time.Now().Add(500 * time.Millisecond).UnixNano() // all started by then
	type win struct{ pid, token string }
	var (
		mu   sync.Mutex
		wins = map[string][]win{}
		wg   sync.WaitGroup
	)
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", leaseEnv, path, at))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "won" {
					mu.Lock()
					wins[f[1]] = append(wins[f[1]], win{f[2], f[3]})
					mu.Unlock()
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("leaser process: %v", err)
			}
		})
	}
	wg.Wait()

	ctx := context.Background()
	r, err := OpenFile(ctx, path, WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var tokens []int
	pids := map[string]bool{}
	for slot, ws := range wins {
		pids[ws[0].pid] = true
		if len(ws) > 1 {
			t.Errorf("%s won %d times: %v", slot, len(ws), ws)
		}
		if v, ok, err := r.Get(ctx, slot); err != nil || !ok || v != ws[0].pid {
			t.Errorf("Get(%s) = %q, %v, %v; want the winner %s", slot, v, ok, err, ws[0].pid)
		}
		for _, w := range ws {
			n, _ := strconv.Atoi(w.token)
			tokens = append(tokens, n)
		}
	}
	if n := rows(t, r); n != len(wins) {
		t.Errorf("%d claims stored for %d slots won", n, len(wins))
	}
	slices.Sort(tokens)
	for i, tok := range tokens {
		if tok != i+1 {
			t.Fatalf("tokens %v: want 1 to %d, each once", tokens, len(tokens))
		}
	}
	// Not an error when one process won them all: a loaded machine may
	// start the others late.
	t.Logf("%d of 300 slots won by %d processes, under tokens 1 to %d", len(wins), len(pids), len(tokens))
}

// TestLeaseErrors: a request the core refuses fails before the file, a
// closed Dict or a done context fail with ngxtasks.ErrClosed or the
// context's error, and a token beyond SQLite's int64 holds nothing.
func TestLeaseErrors(t *testing.T) {
	d := openTest(t, WithCleanupInterval(0))
	ctx := context.Background()
	if err := d.Lease(ctx, &ngxtasks.LeaseRequest{Key: "k", TTL: time.Minute}); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Fatalf("Lease without a holder: %v; want ErrInvalidEntry", err)
	}
	if _, err := d.Release(ctx, "", 1); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Fatalf("Release of an empty key: %v; want ErrInvalidEntry", err)
	}
	req := ngxtasks.LeaseRequest{Key: "k", Holder: "a", TTL: time.Minute}
	if err := d.Lease(ctx, &req); err != nil || !req.Acquired {
		t.Fatalf("Lease = %+v, %v", req, err)
	}
	for _, tok := range []uint64{math.MaxInt64 + 1, math.MaxUint64, 0} {
		if ok, err := d.Release(ctx, "k", tok); ok || err != nil {
			t.Fatalf("Release by token %d = %v, %v; want false, nil", tok, ok, err)
		}
		rs := []ngxtasks.Renewal{{Key: "k", Token: tok, TTL: time.Minute}}
		if err := d.Renew(ctx, rs); err != nil || rs[0].Renewed || rs[0].Err != nil {
			t.Fatalf("Renew by token %d = %+v, %v; want not renewed, no error", tok, rs[0], err)
		}
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	r := ngxtasks.LeaseRequest{Key: "k2", Holder: "a", TTL: time.Minute}
	if err := d.Lease(done, &r); !errors.Is(err, context.Canceled) || r.Acquired {
		t.Fatalf("Lease with a done context = %+v, %v; want context.Canceled", r, err)
	}
	if _, err := d.Release(done, "k", req.Token); !errors.Is(err, context.Canceled) {
		t.Fatalf("Release with a done context: %v", err)
	}
	rs := []ngxtasks.Renewal{{Key: "k", Token: req.Token, TTL: time.Minute}}
	if err := d.Renew(done, rs); !errors.Is(err, context.Canceled) || !errors.Is(rs[0].Err, context.Canceled) {
		t.Fatalf("Renew with a done context: %v, %v", err, rs[0].Err)
	}

	_ = d.Close()
	if err := d.Lease(ctx, &r); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Fatalf("Lease after Close: %v", err)
	}
	if _, err := d.Release(ctx, "k", req.Token); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Fatalf("Release after Close: %v", err)
	}
	if err := d.Renew(ctx, rs); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Fatalf("Renew after Close: %v", err)
	}
}

// TestCleanupLeavesLeases: DeleteExpired deletes expired claims only; a
// released lease's row stays, so the key's next token follows the last.
func TestCleanupLeavesLeases(t *testing.T) {
	d, ctx := openTest(t, WithCleanupInterval(0)), context.Background()
	req := ngxtasks.LeaseRequest{Key: "rule", Holder: "a", TTL: time.Millisecond, Claim: ngxtasks.Add{Key: "slot", Value: "a", TTL: time.Millisecond}}
	if err := d.Lease(ctx, &req); err != nil || !req.Acquired {
		t.Fatalf("Lease = %+v, %v", req, err)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := d.DeleteExpired(ctx); n != 1 || err != nil {
		t.Fatalf("DeleteExpired = %d, %v; want the claim", n, err)
	}
	next := ngxtasks.LeaseRequest{Key: "rule", Holder: "b", TTL: time.Minute}
	if err := d.Lease(ctx, &next); err != nil || !next.Acquired || next.Token != req.Token+1 {
		t.Fatalf("Lease after cleanup = %+v, %v; want token %d", next, err, req.Token+1)
	}
}

// TestLeaseTriggersOnlyTake: the triggers that add a take's claim fire on a
// take alone. A renewal and a release of a lease taken with a claim leave
// the claims as they are (the live claim would otherwise abort them), and
// an expired claim retaken by a later take is the later take's.
func TestLeaseTriggersOnlyTake(t *testing.T) {
	d, ctx := openTest(t, WithCleanupInterval(0)), context.Background()
	req := ngxtasks.LeaseRequest{Key: "rule", Holder: "a", TTL: time.Minute, Claim: ngxtasks.Add{Key: "slot", Value: "a", TTL: time.Minute}}
	if err := d.Lease(ctx, &req); err != nil || !req.Acquired || !req.Claim.Added {
		t.Fatalf("Lease = %+v, %v", req, err)
	}
	rs := []ngxtasks.Renewal{{Key: "rule", Token: req.Token, TTL: time.Minute}}
	if err := d.Renew(ctx, rs); err != nil || !rs[0].Renewed || rs[0].Err != nil {
		t.Fatalf("Renew = %+v, %v", rs[0], err)
	}
	if ok, err := d.Release(ctx, "rule", req.Token); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	// A take without a claim clears the last one's: its renewal adds none.
	bare := ngxtasks.LeaseRequest{Key: "rule", Holder: "b", TTL: time.Minute}
	if err := d.Lease(ctx, &bare); err != nil || !bare.Acquired || bare.Claim.Added {
		t.Fatalf("Lease without a claim = %+v, %v", bare, err)
	}
	if v, ok, err := d.Get(ctx, "slot"); err != nil || !ok || v != "a" {
		t.Fatalf("Get(slot) = %q, %v, %v; want a's claim", v, ok, err)
	}
	if n := rows(t, d); n != 1 {
		t.Fatalf("%d claims; want 1", n)
	}
}

// TestLeaseColumnsAdded: a file whose leases table was made before the
// take had its columns (the claim's, added by triggers) gets them on open,
// keeps its tokens, and leases with claims work on it.
func TestLeaseColumnsAdded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	ctx := context.Background()
	old, err := openDB(path, defaults(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE ngxtasks_claims_leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
		`INSERT INTO ngxtasks_claims_leases VALUES ('rule', 'old', 41, 0)`,
	} {
		if _, err := old.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	_ = old.Close()
	var ds []*Dict
	for range 2 { // the second open finds the columns there
		d, err := OpenFile(ctx, path, WithCleanupInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		ds = append(ds, d)
	}
	req := ngxtasks.LeaseRequest{Key: "rule", Holder: "a", TTL: time.Minute, Claim: ngxtasks.Add{Key: "slot", Value: "a", TTL: time.Minute}}
	if err := ds[1].Lease(ctx, &req); err != nil || !req.Acquired || req.Token != 42 || !req.Claim.Added {
		t.Fatalf("Lease on the old table = %+v, %v; want token 42 with the claim", req, err)
	}
	if v, ok, err := ds[0].Get(ctx, "slot"); err != nil || !ok || v != "a" {
		t.Fatalf("Get(slot) = %q, %v, %v", v, ok, err)
	}
}
