package etcddict

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

func TestMain(m *testing.M) {
	dicttest.Child()
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	u := serverURL(t)
	dicttest.Run(t, func(t testing.TB) ngxtasks.Dict {
		d, err := Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, dicttest.Options{MinTTL: 2 * time.Second, TTLGrace: 5 * time.Second}) // whole-second leases, 2 s at least
}

func TestConformanceProcesses(t *testing.T) {
	dicttest.RunProcesses(t, serverURL(t), 6)
}
