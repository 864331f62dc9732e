package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/master"
)

// TestPrintReloadExitsZeroOnlyWhenEveryWorkerApplied: exit 0 only for a
// reload every worker applied; what changed goes to stdout, what went wrong
// to stderr.
func TestPrintReloadExitsZeroOnlyWhenEveryWorkerApplied(t *testing.T) {
	for _, c := range []struct {
		name         string
		res          master.ReloadResult
		code         int
		stdout, errs string
	}{
		{"applied", master.ReloadResult{Seq: 3, Added: []string{"a", "b"}, Removed: []string{"c"}, Workers: 2, Took: 1234567 * time.Nanosecond}, 0,
			"reloaded r.yaml (reload 3): 2 worker(s) in 1ms\n  added: a, b\n  removed: c\n", ""},
		{"applied, with settings for a restart", master.ReloadResult{Seq: 1, Changed: []string{"x"}, Restart: []string{"workers", "dict"}, Workers: 1}, 0,
			"reloaded r.yaml (reload 1): 1 worker(s) in 0s\n  changed: x\n",
			"ngxtasks reload: these settings changed and apply only at a restart: workers, dict\n"},
		{"refused", master.ReloadResult{Refused: true, Errors: []string{"r.yaml:3:5: bad", "r.yaml:9:1: worse"}}, 1,
			"", "r.yaml:3:5: bad\nr.yaml:9:1: worse\nngxtasks reload: refused; the old rules keep running\n"},
		{"a worker refused it", master.ReloadResult{Seq: 2, Workers: 3, Failed: 1}, 1,
			"reloaded r.yaml (reload 2): 3 worker(s) in 0s\n", "ngxtasks reload: 1 worker(s) refused it; the master's log says why\n"},
		{"a worker had not answered", master.ReloadResult{Seq: 2, Workers: 3, Failed: 1, Pending: 1}, 1,
			"reloaded r.yaml (reload 2): 3 worker(s) in 0s\n",
			"ngxtasks reload: 1 worker(s) refused it; the master's log says why\nngxtasks reload: 1 worker(s) had not answered yet\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := printReload(&stdout, &stderr, "r.yaml", &c.res)
			if code != c.code || stdout.String() != c.stdout || stderr.String() != c.errs {
				t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", code, stdout.String(), stderr.String(), c.code, c.stdout, c.errs)
			}
		})
	}
}
