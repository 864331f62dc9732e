package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestMemoryDictReclaimsExpiredEntries: expired entries go without a
// goroutine per key, and nothing is held after Close.
func TestMemoryDictReclaimsExpiredEntries(t *testing.T) {
	clock := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: clock}
	ctx := context.Background()
	for i := range 10000 {
		if ok, err := d.Add(ctx, fmt.Sprint("k", i), "v", time.Second); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if d.Len() != 10000 {
		t.Fatalf("Len %d", d.Len())
	}
	clock.Add(2 * time.Second)
	for i := range 1000 { // writes spread over every shard sweep it
		_, _ = d.Add(ctx, fmt.Sprint("new", i), "v", time.Hour)
	}
	if n := d.Len(); n != 1000 {
		t.Fatalf("after expiry and writes, %d entries held, want 1000", n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 0 {
		t.Fatal("entries held after Close")
	}
	if _, err := d.Add(ctx, "k", "v", time.Second); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

func TestOpenDict(t *testing.T) {
	ctx := context.Background()
	d, err := ngxtasks.OpenDict(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ok, err := d.Add(ctx, "k", "v", time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, bad := range []string{"nope://u:hunter2@host/x", "u:hunter2@host", "redis://u:hunter2@host:bad port/"} {
		_, err := ngxtasks.OpenDict(ctx, bad)
		if err == nil {
			t.Fatalf("OpenDict(%q) succeeded", bad)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error repeats the password: %v", err)
		}
	}
	if _, err := ngxtasks.OpenDict(ctx, "nope://x"); err == nil || !strings.Contains(err.Error(), "mem") {
		t.Fatalf("unknown scheme error should list the known ones: %v", err)
	}
}

// TestMemoryDictMatchesModel drives the hash table through growth, expiry,
// reuse of expired slots and sweeps, and checks every answer against a plain
// map of expiry times.
func TestMemoryDictMatchesModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { matchModel(t, seed) })
	}
}

func matchModel(t *testing.T, seed uint64) {
	clock := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: clock}
	defer d.Close()
	ctx := context.Background()
	type entry struct {
		value   string
		expires time.Time
	}
	model := map[string]entry{}
	rng := rand.New(rand.NewPCG(seed, 2))
	for op := range 100000 {
		key := "k" + strconv.Itoa(rng.IntN(3000))
		now := clock.Now()
		e, live := model[key]
		live = live && e.expires.After(now)
		if rng.IntN(4) == 0 {
			v, ok, err := d.Get(ctx, key)
			if err != nil || ok != live || (ok && v != e.value) {
				t.Fatalf("op %d: Get(%s) = %q, %v, %v; want %q, %v", op, key, v, ok, err, e.value, live)
			}
		} else {
			value := strconv.Itoa(op)
			ttl := time.Duration(1+rng.IntN(2000)) * time.Millisecond
			added, err := d.Add(ctx, key, value, ttl)
			if err != nil || added == live {
				t.Fatalf("op %d: Add(%s) = %v, %v; live entry: %v", op, key, added, err, live)
			}
			if added {
				model[key] = entry{value, now.Add(ttl)}
			}
		}
		clock.Add(time.Duration(rng.IntN(100)) * time.Microsecond)
	}
	if n := d.Len(); n > 2*len(model) {
		t.Fatalf("holds %d entries for %d keys", n, len(model))
	}
}

// TestMemoryDictLongTTL: a TTL that overflows the clock's range lives
// forever rather than wrapping round to the past.
func TestMemoryDictLongTTL(t *testing.T) {
	d := ngxtasks.NewMemoryDict()
	defer d.Close()
	ctx := context.Background()
	if ok, err := d.Add(ctx, "k", "v", time.Duration(1<<63-1)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := d.Add(ctx, "k", "w", time.Second); ok || err != nil {
		t.Fatalf("second Add of a key with a near-infinite TTL = %v, %v", ok, err)
	}
}
