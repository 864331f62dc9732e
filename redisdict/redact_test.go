package redisdict_test

import (
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

// TestErrorsNeverShowThePassword: whatever form the password takes in a
// URL of this backend, no error repeats it.
func TestErrorsNeverShowThePassword(t *testing.T) {
	for _, scheme := range []string{"redis", "rediss"} {
		dicttest.NoSecretInErrors(t, scheme, 500*time.Millisecond)
	}
}
