package sqlitedict

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

func TestMain(m *testing.M) {
	dicttest.Child()
	hammerChild()
	leaseChild()
	os.Exit(m.Run())
}

func TestConformanceInOneProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	dicttest.Run(t, func(t testing.TB) ngxtasks.Dict {
		d, err := OpenFile(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, dicttest.Options{})
}

func TestConformanceAcrossProcessesStoresEachKeyOnce(t *testing.T) {
	dicttest.RunProcesses(t, "sqlite://"+filepath.Join(t.TempDir(), "claims.db"), 6)
}
