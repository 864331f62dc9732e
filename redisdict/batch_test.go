package redisdict

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
	adds := []ngxtasks.Add{
		{Key: p + "a", Value: "1", TTL: time.Minute},
		{Key: p + "taken", Value: "1", TTL: time.Minute},
		{Key: p + "a", Value: "2", TTL: time.Minute}, // repeated: the first wins
		{Key: "", Value: "1", TTL: time.Minute},      // invalid: not sent
		{Key: p + "b", Value: "1", TTL: 0},           // invalid
		{Key: p + "c", Value: "1", TTL: time.Minute, Added: true, Err: errors.New("stale")},
	}
	if err := d.AddBatch(ctx, adds); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		added bool
		err   error
	}{{true, nil}, {false, nil}, {false, nil}, {false, ngxtasks.ErrInvalidEntry}, {false, ngxtasks.ErrInvalidEntry}, {true, nil}}
	for i, w := range want {
		a := adds[i]
		if a.Added != w.added || (w.err == nil) != (a.Err == nil) || (w.err != nil && !errors.Is(a.Err, w.err)) {
			t.Errorf("element %d (%q): Added %v, Err %v; want %v, %v", i, a.Key, a.Added, a.Err, w.added, w.err)
		}
	}
	if v, ok, err := d.Get(ctx, p+"a"); err != nil || !ok || v != "1" {
		t.Errorf("Get a = %q, %v, %v; want the first occurrence's value", v, ok, err)
	}
	if _, ok, _ := d.Get(ctx, p+"b"); ok {
		t.Error("an invalid element was stored")
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
