package cli

import (
	"strings"
	"testing"
)

// TestMainDispatchesAndExitsTwoWithTheUsageOnAMistake: Main dispatches to
// the subcommands; help is asked for and exits 0, a mistake exits 2 with the
// usage. The worker subcommand is dispatched too but stays out of the usage.
func TestMainDispatchesAndExitsTwoWithTheUsageOnAMistake(t *testing.T) {
	for _, c := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{nil, 2, "", "Usage:"},
		{[]string{"help"}, 0, "Usage:", ""},
		{[]string{"--help"}, 0, "Usage:", ""},
		{[]string{"runn"}, 2, "", `unknown command "runn"`},
		{[]string{"validate"}, 2, "", "no rule file: give one with -c rules.yaml"},
		{[]string{"validate", "-h"}, 0, "", "-workers"},
		{[]string{"run", "-c", "x.yaml", "extra"}, 2, "", "Usage of ngxtasks run"},
		{[]string{"worker", "--stop-timeout", "soon"}, 2, "", `ngxtasks worker: time: invalid duration "soon"`},
	} {
		var stdout, stderr strings.Builder
		code := Main(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.errs) {
			t.Errorf("%q: exit %d, stdout %.80q, stderr %.200q; want %d, %q, %q", c.args, code, stdout.String(), stderr.String(), c.code, c.stdout, c.errs)
		}
	}
	var help strings.Builder
	Main([]string{"help"}, &help, &help)
	if strings.Contains(help.String(), "ngxtasks worker") {
		t.Error("the usage names the worker subcommand, which is the master's")
	}
}
