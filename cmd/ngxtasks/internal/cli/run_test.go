package cli

import (
	"fmt"
	"io"
	"testing"
)

// TestCheckFlagsReportsEveryBadOverrideAndSkipsThoseNotGiven: an override
// given is held to the file's rule for the same setting, and every mistake
// is reported; one not given is not checked.
func TestCheckFlagsReportsEveryBadOverrideAndSkipsThoseNotGiven(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "[]"},
		{[]string{"--workers", "4", "--dict", "mem://", "--listen", "off"}, "[]"},
		{[]string{"--workers", "1024"}, "[]"},
		{[]string{"--workers", "0"}, "[--workers: must be between 1 and 1024, got 0]"},
		{[]string{"--workers", "1025"}, "[--workers: must be between 1 and 1024, got 1025]"},
		{[]string{"--dict", ""}, "[--dict: empty; leave it out for the file's dict]"},
		{[]string{"--listen", ""}, "[--listen: empty; give host:port, or off]"},
		{[]string{"--workers", "-1", "--dict=", "--listen="},
			"[--dict: empty; leave it out for the file's dict --listen: empty; give host:port, or off --workers: must be between 1 and 1024, got -1]"},
	} {
		fs := flags("run", io.Discard)
		overrideFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if got := fmt.Sprint(checkFlags(fs)); got != c.want {
			t.Errorf("%q:\ngot  %s\nwant %s", c.args, got, c.want)
		}
	}
}

// TestRuleFileMayBeTheFirstArgument: "ngxtasks run rules.lua --workers 3"
// is "ngxtasks run -c rules.lua --workers 3"; an argument that does not
// name a rule file by its extension, or one after -c, is left to the
// command.
func TestRuleFileMayBeTheFirstArgument(t *testing.T) {
	for _, c := range []struct {
		args         []string
		config, rest string
		workers      int
	}{
		{[]string{"rules.lua", "--workers", "3"}, "rules.lua", "[]", 3},
		{[]string{"--workers", "2", "/etc/ngxtasks/rules.yaml"}, "/etc/ngxtasks/rules.yaml", "[]", 2},
		{[]string{"rules.yml", "DING"}, "rules.yml", "[DING]", 0},
		{[]string{"-c", "a.yaml", "b.lua"}, "a.yaml", "[b.lua]", 0},
		{[]string{"DING"}, "", "[DING]", 0},
	} {
		fs := flags("run", io.Discard)
		config := configFlag(fs)
		o := overrideFlags(fs)
		if code, ok := parse(fs, c.args); !ok {
			t.Fatalf("%q: exit %d", c.args, code)
		}
		if *config != c.config || fmt.Sprint(fs.Args()) != c.rest || o.Workers != c.workers {
			t.Errorf("%q: config %q, rest %v, workers %d; want %q, %s, %d", c.args, *config, fs.Args(), o.Workers, c.config, c.rest, c.workers)
		}
	}
}
