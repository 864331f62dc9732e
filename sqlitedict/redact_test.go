package sqlitedict_test

import (
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

// TestErrorsNeverShowThePassword: whatever form the password takes in a
// URL of this backend, no error repeats it. Some of those URLs name a
// relative file (sqlite:app:hunter2@127.0.0.1:1 is one), created where the
// test runs: in a directory of its own, not the package's.
func TestErrorsNeverShowThePassword(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, scheme := range []string{"sqlite"} {
		dicttest.NoSecretInErrors(t, scheme, 500*time.Millisecond)
	}
}
