package dicttest_test

import (
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

// A dictionary of your own passes the suite the backends of this module
// pass: put this in a test of its package (MemoryDict stands in for it).
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T)
		dicttest.Run(t, func(t testing.TB) ngxtasks.Dict {
			d := ngxtasks.NewMemoryDict()
			t.Cleanup(func() { d.Close() })
			return d
		}, dicttest.Options{})
	}
}
