package rulefile

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func parseExample(t *testing.T, env Env) *File {
	t.Helper()
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("rules.yaml", data, env)
	if err != nil {
		t.Fatalf("example does not parse:\n%v", err)
	}
	return f
}

func TestParseReadsEveryFieldOfTheExample(t *testing.T) {
	f := parseExample(t, testEnv())
	for i := range f.Rules {
		if len(f.Rules[i].Fingerprint) != 32 {
			t.Errorf("rule %s: fingerprint %q is not 32 hex digits", f.Rules[i].ID, f.Rules[i].Fingerprint)
		}
		f.Rules[i].Fingerprint = ""
	}
	want := &File{
		Path:          "rules.yaml",
		Dict:          Literal("sqlite:///var/lib/ngxtasks/dict.db"),
		Workers:       4,
		Listen:        "127.0.0.1:9090",
		StateDir:      "/var/lib/ngxtasks",
		TokenEnv:      "NGXTASKS_TOKEN",
		Namespace:     "ngxtasks",
		EnvFile:       "secrets.env",
		Log:           Log{Format: "json", Level: slog.LevelDebug},
		Name:          "web-1",
		MaxRunning:    16,
		SkewTolerance: 10 * time.Second,
		Metrics:       MetricsRules{Patterns: []string{"ding", "hook-*"}},
		Rules: []Rule{{
			ID: "ding", Name: "says ding", Interval: 2 * time.Second, Type: ngxtasks.Normal,
			Timeout: time.Second, Offset: 500 * time.Millisecond, Spread: true, MaxRunning: 64,
			Exec: &Exec{
				Argv: []string{"echo", "DING"},
				Env: []Var{
					{"DING_PASS", newText("(from ding.env)", dingPass)},
					{"GREETING", Literal("hello")}, // env: wins over the env file
					{"PASS", newText("${DING_PASS}", dingPass)},
				},
				EnvFile:     "ding.env",
				Dir:         "/tmp",
				OutputLimit: 64 << 10,
				Grace:       5 * time.Second,
			},
			Pos: Pos{15, 5},
		}, {
			ID: "shell", Interval: time.Minute, Type: ngxtasks.Normal, MaxRunning: 16,
			Exec: &Exec{Command: "echo DING | tee -a /tmp/x", Shell: true, OutputLimit: 64 << 10, Grace: 5 * time.Second},
			Pos:  Pos{30, 5},
		}, {
			ID: "hook", Interval: time.Minute, Type: ngxtasks.Preemption, MaxRunning: 16,
			HTTP: &HTTP{
				Method:      "POST",
				URL:         newText("https://example.com/hook?key=${HOOK_KEY}", "https://example.com/hook?key="+hookKey),
				Headers:     []Header{{"Authorization", newText("Bearer ${API_TOKEN}", "Bearer "+apiToken)}},
				Body:        newText(`{"ping":true, "cost": "$$5"}`, `{"ping":true, "cost": "$5"}`),
				Timeout:     5 * time.Second,
				Expect:      []int{200, 204},
				OutputLimit: 16 << 10,
			},
			Pos: Pos{36, 5},
		}},
	}
	f.src = nil // what Reparse reuses; see incremental_test.go
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got\n%#v\nwant\n%#v", f, want)
		for i := range min(len(f.Rules), len(want.Rules)) {
			if !reflect.DeepEqual(f.Rules[i], want.Rules[i]) {
				t.Errorf("rule %d:\n got %+v %+v %+v\nwant %+v %+v %+v", i, f.Rules[i], f.Rules[i].Exec, f.Rules[i].HTTP, want.Rules[i], want.Rules[i].Exec, want.Rules[i].HTTP)
			}
		}
	}
	if got, want := f.Rules[0].Exec.Environ(), []string{"DING_PASS=" + dingPass, "GREETING=hello", "PASS=" + dingPass}; !slices.Equal(got, want) {
		t.Errorf("Environ = %q, want %q", got, want)
	}
}

// Core is what a Manager takes once the command adds a Callback.
func TestCoreCarriesTheRuleAndValidatesWithACallback(t *testing.T) {
	f := parseExample(t, testEnv())
	for _, r := range f.Rules {
		c := r.Core()
		if c.Callback != nil {
			t.Errorf("%s: Core has a Callback", r.ID)
		}
		c.Callback = func(context.Context, ngxtasks.Firing) error { return nil }
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
		if c.Identifier != r.ID || c.Interval != r.Interval || c.Type != r.Type || c.Offset != r.Offset || c.Spread != r.Spread || c.Timeout != r.Timeout || c.Name != r.Name {
			t.Errorf("%s: Core %+v does not carry the rule %+v", r.ID, c, r)
		}
	}
}

func TestParseFillsInTheDefaults(t *testing.T) {
	const src = "rules:\n" +
		"  - {id: a, interval: 10s, type: normal, exec: {argv: [true]}}\n" +
		"  - {id: b, interval: 10s, type: preemption, http: {url: 'http://x/'}}\n" +
		"  - {id: c, interval: 10s, type: preemption, timeout: 3s, http: {url: 'http://x/', expect: 301}}\n"
	f, err := Parse("/etc/ngxtasks/rules.yaml", []byte(src), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Workers != runtime.NumCPU() || f.Listen != "127.0.0.1:9090" || f.TokenEnv != "NGXTASKS_TOKEN" ||
		f.Log != (Log{"text", slog.LevelInfo}) || f.StateDir != "/etc/ngxtasks" || f.EnvFile != "" ||
		f.Dict.Expanded() != "sqlite:///etc/ngxtasks/dict.db" || f.Dict.Template != f.Dict.Expanded() {
		t.Errorf("top-level defaults: %+v", f)
	}
	if f.Name != "" || f.MaxRunning != DefaultMaxRunning || f.StoreClock || f.SkewTolerance != 0 || f.Metrics.All || f.Metrics.Patterns != nil {
		t.Errorf("top-level defaults of name, max_running, store_clock, skew_tolerance, metrics: %+v", f)
	}
	for _, r := range f.Rules {
		if r.MaxRunning != DefaultMaxRunning {
			t.Errorf("rule %s: max_running %d", r.ID, r.MaxRunning)
		}
	}
	x := f.Rules[0].Exec
	if x.OutputLimit != 64<<10 || x.Grace != 5*time.Second || x.Shell || x.Dir != "" || x.Env != nil || len(x.Environ()) != 0 {
		t.Errorf("exec defaults: %+v", x)
	}
	h := f.Rules[1].HTTP
	if h.Method != "GET" || h.Timeout != 30*time.Second || h.Expect != nil || h.OutputLimit != 64<<10 || h.Headers != nil || !h.Body.IsZero() {
		t.Errorf("http defaults: %+v", h)
	}
	if !h.Accepts(204) || h.Accepts(199) || h.Accepts(301) {
		t.Errorf("default expect is not 2xx")
	}
	h = f.Rules[2].HTTP
	if h.Timeout != 3*time.Second || !slices.Equal(h.Expect, []int{301}) || !h.Accepts(301) || h.Accepts(200) {
		t.Errorf("http timeout from the rule, one expected status: %+v", h)
	}
}

func TestStateDirFromSystemdOrBesideTheFileAndListenOff(t *testing.T) {
	env := Env{Lookup: func(k string) (string, bool) {
		if k == "STATE_DIRECTORY" {
			return "/var/lib/ngx:/var/lib/other", true
		}
		return "", false
	}}
	f, err := Parse("rules.yaml", []byte("listen: off\nrules: []\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if f.StateDir != "/var/lib/ngx" || f.Dict.Expanded() != "sqlite:///var/lib/ngx/dict.db" || f.Listen != "" || f.Rules == nil || len(f.Rules) != 0 {
		t.Errorf("got %+v", f)
	}
	f, err = Parse("conf/rules.yaml", []byte("state_dir: state\nlisten: ':9090'\nrules: []\n"), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if f.StateDir != filepath.Join("conf", "state") || f.Dict.Expanded() != "sqlite:conf/state/dict.db" || f.Listen != ":9090" {
		t.Errorf("relative state_dir: %+v", f)
	}
}

// The loader keeps the shell out unless asked: argv stays a list, however
// shell-like its elements, and a command string is refused without
// shell: true (see invalidFiles for the refusals).
func TestExecNeverShellByAccident(t *testing.T) {
	const src = "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      argv: [sh, -c, 'echo $HOME | tee x; rm -rf /', \"a b\"]\n"
	f, err := Parse("rules.yaml", []byte(src), Env{})
	if err != nil {
		t.Fatal(err)
	}
	x := f.Rules[0].Exec
	if want := []string{"sh", "-c", "echo $HOME | tee x; rm -rf /", "a b"}; !slices.Equal(x.Argv, want) || x.Shell || x.Command != "" {
		t.Errorf("argv = %q shell=%v command=%q, want %q as is", x.Argv, x.Shell, x.Command, want)
	}
	_, err = Parse("rules.yaml", []byte("rules:\n  - {id: a, interval: 1s, type: normal, exec: {command: 'ls', shell: false}}\n"), Env{})
	if got := messages(t, err); len(got) != 1 || !contains(got, "rules.yaml:2:48: rules[0] (a): exec.command: runs through /bin/sh, which needs shell: true; or give argv: [prog, arg…] to run without a shell") {
		t.Errorf("command with shell: false: %q", got)
	}
}

// argv[0] follows the one rule for relative paths: one with a slash is
// taken from the rule file's directory, as dir and env_file are; a bare
// name is left for PATH.
func TestProgramWithASlashIsTakenFromTheRuleFilesDirectory(t *testing.T) {
	const src = "rules:\n" +
		"  - {id: a, interval: 1s, type: normal, exec: {argv: [./job.sh, ./x], dir: work}}\n" +
		"  - {id: b, interval: 1s, type: normal, exec: {argv: [bin/job]}}\n" +
		"  - {id: c, interval: 1s, type: normal, exec: {argv: [job]}}\n" +
		"  - {id: d, interval: 1s, type: normal, exec: {argv: [/usr/bin/job]}}\n" +
		"  - {id: e, interval: 1s, type: normal, exec: {argv: [../up/job]}}\n"
	for _, tc := range []struct{ path, dir string }{{"/etc/ngxtasks/rules.yaml", "/etc/ngxtasks"}, {"rules.yaml", "."}} {
		f, err := Parse(tc.path, []byte(src), Env{})
		if err != nil {
			t.Fatal(err)
		}
		in := func(p string) string {
			if tc.dir == "." && !strings.Contains(p, "/") {
				return "./" + p // a path still, not a name for PATH
			}
			if tc.dir == "." {
				return p
			}
			return tc.dir + "/" + p
		}
		want := [][]string{{in("job.sh"), "./x"}, {in("bin/job")}, {"job"}, {"/usr/bin/job"}, {filepath.Join(tc.dir, "../up/job")}}
		if tc.dir == "." {
			want[4] = []string{"../up/job"}
		}
		for i, r := range f.Rules {
			if !slices.Equal(r.Exec.Argv, want[i]) {
				t.Errorf("%s: rule %s: argv %q, want %q", tc.path, r.ID, r.Exec.Argv, want[i])
			}
		}
		if d := f.Rules[0].Exec.Dir; d != filepath.Join(tc.dir, "work") {
			t.Errorf("dir %q", d)
		}
	}
}

func TestExpansionPrefersProcessThenRuleEnvFileThenTopOne(t *testing.T) {
	// The process environment wins over env files; a rule's env file over
	// the top-level one.
	env := testEnv()
	inner := env.Lookup
	env.Lookup = func(k string) (string, bool) {
		if k == "REGION" {
			return "from-process", true
		}
		return inner(k)
	}
	env.ReadFile = func(p string) ([]byte, error) {
		switch p {
		case "secrets.env":
			return []byte("REGION=top\nA=top\nB=top\n"), nil
		case "rule.env":
			return []byte("B=rule\n"), nil
		}
		return nil, os.ErrNotExist
	}
	const src = "env_file: secrets.env\nrules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      argv: [env]\n      env_file: rule.env\n      env: {V: '${REGION} ${A} ${B} $$ $5 $'}\n"
	f, err := Parse("rules.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Rules[0].Exec.Environ(); !slices.Equal(got, []string{"B=rule", "V=from-process top rule $ $5 $"}) {
		t.Errorf("Environ = %q", got)
	}
}

func TestFingerprintFollowsWhatARuleDoesNotWhereItStands(t *testing.T) {
	a := parseExample(t, testEnv())
	b := parseExample(t, testEnv())
	for i := range a.Rules {
		if a.Rules[i].Fingerprint != b.Rules[i].Fingerprint {
			t.Errorf("%s: fingerprint not stable", a.Rules[i].ID)
		}
		for j := range i {
			if a.Rules[i].Fingerprint == a.Rules[j].Fingerprint {
				t.Errorf("%s and %s share a fingerprint", a.Rules[i].ID, a.Rules[j].ID)
			}
		}
	}

	// Only a secret changes: the rules using it change, the others not.
	env := testEnv()
	env.Lookup = func(k string) (string, bool) {
		if k == "HOOK_KEY" {
			return "rotated", true
		}
		return testEnv().Lookup(k)
	}
	c := parseExample(t, env)
	if c.Rules[2].Fingerprint == a.Rules[2].Fingerprint {
		t.Errorf("hook: a new secret leaves the fingerprint alone")
	}
	if c.Rules[0].Fingerprint != a.Rules[0].Fingerprint || c.Rules[1].Fingerprint != a.Rules[1].Fingerprint {
		t.Errorf("rules without the secret changed fingerprint")
	}

	// Moving a rule, or restyling its YAML, changes nothing.
	one := "rules:\n  - {id: a, interval: 1s, type: normal, exec: {argv: [true]}}\n"
	moved := "# moved\nworkers: 2\nrules:\n\n  - id: a\n    type: normal\n    interval: 1000ms\n    exec:\n      argv:\n        - true\n"
	f1, err1 := Parse("r.yaml", []byte(one), Env{})
	f2, err2 := Parse("r.yaml", []byte(moved), Env{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if f1.Rules[0].Fingerprint != f2.Rules[0].Fingerprint || f1.Rules[0].Pos == f2.Rules[0].Pos {
		t.Errorf("same rule, other place: %s %v vs %s %v", f1.Rules[0].Fingerprint, f1.Rules[0].Pos, f2.Rules[0].Fingerprint, f2.Rules[0].Pos)
	}
}

func TestLoadReadsEnvFilesBesideTheRuleFileAndTheProcessEnvironment(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets.env", "TOKEN=from-file\n")
	write("rules.yaml", "env_file: secrets.env\nrules:\n  - id: a\n    interval: 1s\n    type: normal\n    http:\n      url: http://x/\n      headers: {A: '${TOKEN}', B: '${RULEFILE_TEST_VAR}'}\n")
	t.Setenv("RULEFILE_TEST_VAR", "from-process")
	t.Chdir(t.TempDir()) // relative paths start at the rule file, not here
	f, err := Load(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := f.Rules[0].HTTP.Headers
	if h[0].Value.Expanded() != "from-file" || h[1].Value.Expanded() != "from-process" || f.EnvFile != filepath.Join(dir, "secrets.env") {
		t.Errorf("got %+v, env file %s", h, f.EnvFile)
	}
	if f.StateDir != dir {
		t.Errorf("state dir %s, want the rule file's directory %s", f.StateDir, dir)
	}

	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestNamespaceDefaultsToNgxtasksAndMayHoldASlash(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"rules: []\n", "ngxtasks"},
		{"namespace: team-a/jobs\nrules: []\n", "team-a/jobs"},
	} {
		f, err := Parse("rules.yaml", []byte(tc.yaml), Env{})
		if err != nil || f.Namespace != tc.want {
			t.Errorf("%q: namespace %q, %v; want %q", tc.yaml, f.Namespace, err, tc.want)
		}
	}
}

func TestVariablesListsTheReferencedNamesSorted(t *testing.T) {
	f := parseExample(t, testEnv())
	if got, want := f.Variables(), []string{"API_TOKEN", "DING_PASS", "HOOK_KEY"}; !slices.Equal(got, want) {
		t.Fatalf("Variables() = %q, want %q", got, want)
	}
}

// A rule's max_running defaults to the file's, may exceed it, and is
// part of the fingerprint; metrics: rules: all selects every rule.
func TestMaxRunningDefaultsToTheFilesAndEntersTheFingerprint(t *testing.T) {
	const src = "max_running: 8\nstore_clock: true\nmetrics: {rules: all}\nrules:\n" +
		"  - {id: a, interval: 1s, type: normal, exec: {argv: [true]}}\n" +
		"  - {id: b, interval: 1s, type: normal, max_running: 100, exec: {argv: [true]}}\n"
	f, err := Parse("rules.yaml", []byte(src), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxRunning != 8 || f.Rules[0].MaxRunning != 8 || f.Rules[1].MaxRunning != 100 || !f.StoreClock || !f.Metrics.All {
		t.Errorf("got %+v", f)
	}
	g, err := Parse("rules.yaml", []byte(strings.Replace(src, "max_running: 8", "max_running: 9", 1)), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Rules[0].Fingerprint == f.Rules[0].Fingerprint || g.Rules[1].Fingerprint != f.Rules[1].Fingerprint {
		t.Errorf("fingerprints: rule a (default changed) %v, rule b (its own) %v; want a changed, b kept",
			g.Rules[0].Fingerprint != f.Rules[0].Fingerprint, g.Rules[1].Fingerprint != f.Rules[1].Fingerprint)
	}
}
