package redisdict

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

// serverURL is the test server's URL (scripts/services sets it).
func serverURL(t testing.TB) string {
	t.Helper()
	return dicttest.ServerURL(t, "NGXTASKS_REDIS_URL")
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
