package redisdict

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

// TestTTLIsRoundedUpToTheMillisecond checks the PX argument: a 1 ns ttl
// is 1 ms, and 1.5 ms is 2 ms, never less than asked.
func TestTTLIsRoundedUpToTheMillisecond(t *testing.T) {
	d, ctx, p := openTest(t), context.Background(), prefix(t)
	for _, c := range []struct {
		ttl  time.Duration
		want int64
	}{{1, 1}, {1500 * time.Microsecond, 2}, {time.Second, 1000}, {time.Hour + 1, 3600001}} {
		if got := setNX(ctx, "k", "v", c.ttl).Args()[4]; got != c.want {
			t.Errorf("ttl %v: PX %v, want %d", c.ttl, got, c.want)
		}
	}
	k := p + "hour"
	if _, err := d.Add(ctx, k, "v", time.Hour); err != nil {
		t.Fatal(err)
	}
	pttl, err := d.client.PTTL(ctx, k).Result()
	if err != nil || pttl <= 59*time.Minute || pttl > time.Hour {
		t.Fatalf("PTTL after Add(ttl 1h) = %v, %v", pttl, err)
	}
	// Set sends the same PX, and replaces the key's TTL as well as its value.
	if err := d.Set(ctx, k, "v2", 1500*time.Microsecond+time.Second); err != nil {
		t.Fatal(err)
	}
	pttl, err = d.client.PTTL(ctx, k).Result()
	if err != nil || pttl <= 0 || pttl > 1002*time.Millisecond {
		t.Fatalf("PTTL after Set(ttl 1.0015s) over a key of 1h = %v, %v; want at most 1002ms", pttl, err)
	}
}

func TestExpiryFreesTheKeyForANewClaim(t *testing.T) {
	d, ctx, k := openTest(t), context.Background(), prefix(t)+"k"
	if added, err := d.Add(ctx, k, "w1", 50*time.Millisecond); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	time.Sleep(120 * time.Millisecond)
	if _, ok, err := d.Get(ctx, k); err != nil || ok {
		t.Fatalf("Get after expiry = %v, %v; want absent", ok, err)
	}
	if added, err := d.Add(ctx, k, "w2", time.Minute); err != nil || !added {
		t.Fatalf("Add after expiry = %v, %v; want stored", added, err)
	}
}

func TestInvalidOrOversizedEntriesAreRefused(t *testing.T) {
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
	} {
		if added, err := d.Add(ctx, c.key, c.value, c.ttl); added || !errors.Is(err, c.want) {
			t.Errorf("Add(%.10q, %.10q, %v) = %v, %v; want %v", c.key, c.value, c.ttl, added, err, c.want)
		}
	}
	if _, _, err := d.Get(ctx, long); !errors.Is(err, ngxtasks.ErrTooLarge) {
		t.Errorf("Get(long key) error = %v", err)
	}
	if _, _, err := d.Get(ctx, ""); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("Get(\"\") error = %v", err)
	}
}

// TestKeysAndValuesAreBinarySafe stores keys and values with every byte
// value, as Redis strings are binary-safe.
func TestKeysAndValuesAreBinarySafe(t *testing.T) {
	d, ctx := openTest(t), context.Background()
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	k, v := prefix(t)+string(b), string(b)
	if added, err := d.Add(ctx, k, v, time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if got, ok, err := d.Get(ctx, k); err != nil || !ok || got != v {
		t.Fatalf("Get = %q, %v, %v", got, ok, err)
	}
}

// TestNewLeavesTheCallersClientOpenOnClose checks that a Dict made with New
// leaves the caller's client open on Close.
func TestNewLeavesTheCallersClientOpenOnClose(t *testing.T) {
	o, err := ParseURL(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewUniversalClient(o)
	defer client.Close()
	ctx, k := context.Background(), prefix(t)+"k"
	d, err := New(client)
	if err != nil {
		t.Fatal(err)
	}
	if added, err := d.Add(ctx, k, "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if v, err := client.Get(ctx, k).Result(); err != nil || v != "v" {
		t.Fatalf("client after Dict.Close: %q, %v", v, err)
	}
	if _, err := d.Add(ctx, k+"2", "v", time.Minute); !errors.Is(err, ngxtasks.ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

func TestNewRefusesANilClient(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) accepted")
	}
	var c *redis.Client
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "nil *redis.Client") {
		t.Errorf("New(nil *redis.Client) = %v", err)
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
	// Same machine: the server's clock is ours, to the microsecond TIME gives.
	if now.Before(before.Add(-time.Millisecond)) || now.After(after.Add(time.Millisecond)) {
		t.Fatalf("Now = %v, not within [%v, %v]", now, before, after)
	}
}
