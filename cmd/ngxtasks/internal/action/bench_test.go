package action

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

// BenchmarkExecTrue is what Exec adds to starting a program, against
// BenchmarkBareExecTrue: the process group, the output pipe and its reader,
// the environment, the check for leftovers. The context can be cancelled,
// as a worker's is, so os/exec watches it.
func BenchmarkExecTrue(b *testing.B) {
	e := &rulefile.Exec{Argv: []string{"/bin/true"}, OutputLimit: rulefile.DefaultOutputLimit, Grace: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for b.Loop() {
		if _, err := Exec(ctx, e, testFiring); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBareExecTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}
