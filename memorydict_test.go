package ngxtasks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestMemoryDictReclaimsExpiredEntries: expired entries go without a
// goroutine per key, and nothing is held after Close.
func TestMemoryDictReclaimsExpiredEntries(t *testing.T) {
	clock := newFakeClock(t0)
	d := &ngxtasks.MemoryDict{Clock: clock.Now}
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
