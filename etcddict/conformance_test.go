package etcddict

import (
	"os"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

func TestMain(m *testing.M) {
	dicttest.Child()
	os.Exit(m.Run())
}

func TestConformanceInOneProcess(t *testing.T) {
	dicttest.Run(t, dicttest.OpenURL(serverURL(t)), dicttest.Options{MinTTL: 2 * time.Second, TTLGrace: 5 * time.Second}) // whole-second leases, 2 s at least
}

func TestConformanceAcrossProcessesStoresEachKeyOnce(t *testing.T) {
	dicttest.RunProcesses(t, serverURL(t), 6)
}
