package redisdict

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// serverURL is the test server's URL from NGXTASKS_REDIS_URL (scripts/services
// sets it): a test skips without it, and fails in CI, where it must be set.
func serverURL(t testing.TB) string {
	t.Helper()
	return envURL(t, "NGXTASKS_REDIS_URL")
}

// envURL reads a server URL that scripts/services exports.
func envURL(t testing.TB, name string) string {
	t.Helper()
	u := os.Getenv(name)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI; run the tests through scripts/test", name)
		}
		t.Skipf("%s is not set; source scripts/services to start the servers", name)
	}
	return u
}

// openTest opens the test server and closes it when the test ends.
func openTest(t testing.TB) *Dict {
	t.Helper()
	d, err := Open(context.Background(), serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// prefix is a key prefix of its own for one test, so that tests sharing the
// server, and runs after one another, never see each other's keys.
func prefix(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test:" + t.Name() + ":" + hex.EncodeToString(b) + ":"
}
