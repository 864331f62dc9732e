package sqlitedict

import (
	"context"
	"path/filepath"
	"testing"
)

// openTest opens a Dict on a fresh file in the test's temporary directory,
// closed when the test ends.
func openTest(t testing.TB, opts ...Option) *Dict {
	t.Helper()
	d, err := OpenFile(context.Background(), filepath.Join(t.TempDir(), "claims.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// rows counts the rows of the default table, expired ones included.
func rows(t testing.TB, d *Dict) int {
	t.Helper()
	var n int
	if err := d.r.QueryRowContext(context.Background(), `SELECT count(*) FROM ngxtasks_claims`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
