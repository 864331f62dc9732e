package redisdict

import (
	"os"
	"testing"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

func TestMain(m *testing.M) {
	dicttest.Child()
	os.Exit(m.Run())
}

func TestConformanceInOneProcess(t *testing.T) {
	dicttest.Run(t, dicttest.OpenURL(serverURL(t)), dicttest.Options{})
}

func TestConformanceAcrossProcessesStoresEachKeyOnce(t *testing.T) {
	dicttest.RunProcesses(t, serverURL(t), 6)
}
