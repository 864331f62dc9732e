package pgdict

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
	return dicttest.ServerURL(t, "NGXTASKS_POSTGRES_URL")
}

// openTest opens the test database with the default table and closes the
// dictionary when the test ends.
func openTest(t testing.TB, opts ...Option) *Dict {
	t.Helper()
	d, err := Open(context.Background(), serverURL(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// prefix is a key prefix of its own for one test, so that tests sharing the
// table, and runs after one another, never see each other's keys.
func prefix(t testing.TB) string {
	return "test:" + t.Name() + ":" + randomHex(6) + ":"
}

// tempTable names a table of the test's own, dropped with its leases'
// table when the test ends.
func tempTable(t testing.TB) string {
	t.Helper()
	name := "ngxtasks_test_" + randomHex(6)
	url := serverURL(t)
	t.Cleanup(func() {
		d, err := Open(context.Background(), url, WithCleanupInterval(0))
		if err != nil {
			t.Error(err)
			return
		}
		defer d.Close()
		if _, err := d.pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+name+", "+name+leaseSuffix); err != nil {
			t.Error(err)
		}
	})
	return name
}
