package pgdict

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestOutage stops the server for 5 s: meanwhile every Add fails (none may
// report a claim stored), afterwards claims work again within seconds, and
// the claim made before the outage still holds. It stops the shared server,
// so it runs only when asked to (NGXTASKS_OUTAGE=1), alone.
func TestOutage(t *testing.T) {
	if os.Getenv("NGXTASKS_OUTAGE") == "" {
		t.Skip("stops the shared server: set NGXTASKS_OUTAGE=1 and run it alone")
	}
	ctl := os.Getenv("NGXTASKS_POSTGRES_CTL")
	if ctl == "" {
		t.Skip("NGXTASKS_POSTGRES_CTL is not set (scripts/services sets it)")
	}
	d, p := openTest(t), prefix(t)
	claim := func(key string, timeout time.Duration) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return d.Add(ctx, key, "w", time.Minute)
	}
	if added, err := claim(p+"before", 5*time.Second); err != nil || !added {
		t.Fatalf("Add before the outage = %v, %v", added, err)
	}
	ctlRun(t, ctl, "stop")
	t.Cleanup(func() { _ = exec.Command(ctl, "start").Run() }) // whatever happens
	for i := range 5 {
		added, err := claim(p+"during", time.Second)
		t.Logf("Add while down: %v, %v", added, err)
		if added || err == nil {
			t.Fatalf("Add %d while the server is down = %v, %v; want an error", i, added, err)
		}
		time.Sleep(time.Second)
	}
	ctlRun(t, ctl, "start")
	back := time.Now()
	for {
		added, err := claim(p+"after", time.Second)
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
	if added, err := claim(p+"before", 5*time.Second); err != nil || added {
		t.Fatalf("the claim made before the outage was lost: Add = %v, %v", added, err)
	}
}

func ctlRun(t *testing.T, ctl, verb string) {
	t.Helper()
	if out, err := exec.Command(ctl, verb).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", ctl, verb, err, out)
	}
}
