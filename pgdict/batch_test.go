package pgdict

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestAddBatchSetsEachElementsResult(t *testing.T) {
	d, ctx, p := openTest(t), context.Background(), prefix(t)
	if added, err := d.Add(ctx, p+"taken", "other", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if added, err := d.Add(ctx, p+"expired", "other", time.Millisecond); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	time.Sleep(10 * time.Millisecond)
	adds := []ngxtasks.Add{
		{Key: p + "b", Value: "1", TTL: time.Minute},
		{Key: p + "taken", Value: "1", TTL: time.Minute},
		{Key: p + "b", Value: "2", TTL: time.Minute}, // repeated: the first wins
		{Key: "", Value: "1", TTL: time.Minute},      // invalid: not sent
		{Key: p + "x", Value: "1", TTL: 0},           // invalid
		{Key: p + "a\x00", Value: "1", TTL: time.Minute},
		{Key: p + "expired", Value: "1", TTL: time.Minute},
		{Key: p + "a", Value: "1", TTL: time.Minute, Added: true, Err: errors.New("stale")},
		{Key: p + "b", Value: "3", TTL: time.Minute},
	}
	if err := d.AddBatch(ctx, adds); err != nil {
		t.Fatal(err)
	}
	bad := ngxtasks.ErrInvalidEntry
	want := []struct {
		added bool
		err   error
	}{{true, nil}, {false, nil}, {false, nil}, {false, bad}, {false, bad}, {false, bad}, {true, nil}, {true, nil}, {false, nil}}
	for i, w := range want {
		a := adds[i]
		if a.Added != w.added || (w.err == nil) != (a.Err == nil) || (w.err != nil && !errors.Is(a.Err, w.err)) {
			t.Errorf("element %d (%q): Added %v, Err %v; want %v, %v", i, a.Key, a.Added, a.Err, w.added, w.err)
		}
	}
	for k, want := range map[string]string{"b": "1", "taken": "other", "expired": "1", "a": "1"} {
		if v, ok, err := d.Get(ctx, p+k); err != nil || !ok || v != want {
			t.Errorf("Get %s = %q, %v, %v; want %q", k, v, ok, err, want)
		}
	}
}

func TestAddBatchCancelledOrClosedFailsEveryElement(t *testing.T) {
	d, p := openTest(t), prefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	adds := []ngxtasks.Add{{Key: p + "a", Value: "v", TTL: time.Minute}}
	if err := d.AddBatch(ctx, adds); !errors.Is(err, context.Canceled) || !errors.Is(adds[0].Err, context.Canceled) || adds[0].Added {
		t.Fatalf("cancelled: %v, element %+v", err, adds[0])
	}
	_ = d.Close()
	if err := d.AddBatch(context.Background(), adds); !errors.Is(err, ngxtasks.ErrClosed) || !errors.Is(adds[0].Err, ngxtasks.ErrClosed) {
		t.Fatalf("closed: %v, element %+v", err, adds[0])
	}
}
