package dicttest

import (
	"context"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// Outage takes the store away for 5 s (stop, then start): meanwhile every
// Add must fail, none reporting a claim stored; afterwards claims must work
// again within 10 s, and a claim made before the outage must still hold.
// ServerControl gives stop and start, and starts a server a failed test
// left stopped.
func Outage(t *testing.T, d ngxtasks.Dict, stop, start func() error) {
	p := "outage:" + randomHex() + ":"
	claim := func(key string, timeout time.Duration) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return d.Add(ctx, p+key, "w", time.Minute)
	}
	if added, err := claim("before", 5*time.Second); err != nil || !added {
		t.Fatalf("Add before the outage = %v, %v", added, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		added, err := claim("during", time.Second)
		t.Logf("Add while down: %v, %v", added, err)
		if added || err == nil {
			t.Fatalf("Add %d while the server is down = %v, %v; want an error", i, added, err)
		}
		time.Sleep(time.Second)
	}
	if err := start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for {
		added, err := claim("after", time.Second)
		if err == nil {
			if !added {
				t.Fatal("Add after the outage: not stored")
			}
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatalf("claims still fail 10 s after the server is back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("claims work again %v after the server is back", time.Since(back).Round(time.Millisecond))
	if added, err := claim("before", 5*time.Second); err != nil || added {
		t.Fatalf("the claim made before the outage was lost: Add = %v, %v", added, err)
	}
}
