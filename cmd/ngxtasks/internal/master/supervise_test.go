package master

import (
	"os/exec"
	"syscall"
	"testing"
)

// TestDescribeExit names a signal as kill -l does ("killed by killed"
// was the description doubled).
func TestDescribeExit(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if got := describeExit(cmd.Wait()).Error(); got != "killed by SIGKILL" {
		t.Fatalf("%q", got)
	}
	if got := describeExit(exec.Command("sh", "-c", "exit 3").Run()).Error(); got != "exit status 3" {
		t.Fatalf("%q", got)
	}
}
