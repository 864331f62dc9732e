package pgdict

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
	// Keys and values are text columns: NUL bytes and invalid UTF-8 are refused.
	dicttest.Run(t, dicttest.OpenURL(serverURL(t)), dicttest.Options{TextOnly: true})
}

func TestConformanceAcrossProcessesStoresEachKeyOnce(t *testing.T) {
	dicttest.RunProcesses(t, serverURL(t), 6)
}
