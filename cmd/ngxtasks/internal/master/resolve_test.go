package master

import (
	"os"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

// parseFile parses a rule file from text, in an environment where every
// variable is set.
func parseFile(t *testing.T, text string) *rulefile.File {
	t.Helper()
	every := func(string) (string, bool) { return "x", true }
	f, err := rulefile.Parse("/test/rules.yaml", []byte(text), rulefile.Env{Lookup: every})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// noToken unsets the files' token variable for the test: no token.
func noToken(t *testing.T) {
	t.Setenv("TEST_RESOLVE_TOKEN", "") // restored after the test
	os.Unsetenv("TEST_RESOLVE_TOKEN")
}

const preemptionFile = `
workers: 2
dict: mem://
rules:
  - {id: once, interval: 1s, type: preemption, exec: {argv: ["true"]}}
`

const normalFile = `
workers: 3
dict: mem://
listen: 127.0.0.1:9191
token_env: TEST_RESOLVE_TOKEN
rules:
  - {id: each, interval: 1s, type: normal, exec: {argv: ["true"]}}
`

// TestResolveLetsTheCommandLineWinOverTheFile: the command line's settings
// win over the file's, "off" turns the listener off, and nothing given keeps
// the file's.
func TestResolveLetsTheCommandLineWinOverTheFile(t *testing.T) {
	noToken(t)
	f := parseFile(t, normalFile)
	for _, c := range []struct {
		name string
		o    Overrides
		want Settings
	}{
		{"none: the file's", Overrides{}, Settings{Workers: 3, Dict: "mem://", Listen: "127.0.0.1:9191"}},
		{"workers", Overrides{Workers: 7}, Settings{Workers: 7, Dict: "mem://", Listen: "127.0.0.1:9191"}},
		{"dict", Overrides{Dict: "mem://other"}, Settings{Workers: 3, Dict: "mem://other", Listen: "127.0.0.1:9191"}},
		{"listen", Overrides{Listen: "[::1]:1"}, Settings{Workers: 3, Dict: "mem://", Listen: "[::1]:1"}},
		{"listen off", Overrides{Listen: "off"}, Settings{Workers: 3, Dict: "mem://"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Resolve(f, c.o)
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// TestResolveRefusesWhatARunCannotDoAllAtOnce: what a run cannot do is
// refused, each mistake said with what to change, all of them at once.
func TestResolveRefusesWhatARunCannotDoAllAtOnce(t *testing.T) {
	noToken(t)
	for _, c := range []struct {
		name string
		file string
		o    Overrides
		want []string
	}{
		{"mem:// shared by several workers for a preemption rule", preemptionFile, Overrides{},
			[]string{`preemption rule "once" would run once per worker`, "--workers 1"}},
		{"mem:// by the command line", normalFile + preemptionRule, Overrides{Dict: "mem://"},
			[]string{`preemption rule "once" would run once per worker`}},
		{"an unknown scheme", normalFile, Overrides{Dict: "nope://x"}, []string{`unknown scheme "nope"`, "known: mem"}},
		{"too many workers", normalFile, Overrides{Workers: 1025}, []string{"--workers: 1025 is not in 1..1024"}},
		{"a listen address that is not one", normalFile, Overrides{Listen: "nine"}, []string{`listen "nine" is not host:port or off`}},
		{"a port out of range", normalFile, Overrides{Listen: "127.0.0.1:70000"}, []string{"is not host:port or off"}},
		{"beyond loopback without a token", normalFile, Overrides{Listen: ":9090"},
			[]string{`listen ":9090" is beyond loopback: set a bearer token in $TEST_RESOLVE_TOKEN (token_env)`}},
		{"the rules naming the token", normalFile + "  - {id: leak, interval: 1s, type: normal, exec: {argv: [\"true\"], env: {T: \"${TEST_RESOLVE_TOKEN}\"}}}\n", Overrides{},
			[]string{"the rules use ${TEST_RESOLVE_TOKEN}, the listener's token"}},
		{"several at once", preemptionFile, Overrides{Workers: 2000, Listen: "0.0.0.0:1"},
			[]string{"--workers: 2000", "beyond loopback"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Resolve(parseFile(t, c.file), c.o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

const preemptionRule = "  - {id: once, interval: 1s, type: preemption, exec: {argv: [\"true\"]}}\n"

// TestResolveAllowsMemoryDictForPreemptionInOneWorker: one worker's
// in-memory dictionary decides a preemption rule alone, which is right.
func TestResolveAllowsMemoryDictForPreemptionInOneWorker(t *testing.T) {
	if _, err := Resolve(parseFile(t, preemptionFile), Overrides{Workers: 1, Listen: "off"}); err != nil {
		t.Fatal(err)
	}
}

// TestResolveAllowsBeyondLoopbackWithAWellFormedToken: with a token, a
// listener beyond loopback is allowed, and the token is what the listener
// asks for.
func TestResolveAllowsBeyondLoopbackWithAWellFormedToken(t *testing.T) {
	t.Setenv("TEST_RESOLVE_TOKEN", "s3cret\n")
	s, err := Resolve(parseFile(t, normalFile), Overrides{Listen: ":9090"})
	if err != nil || s.Listen != ":9090" || s.Token != "s3cret" {
		t.Fatalf("%+v, %v", s, err)
	}
	t.Setenv("TEST_RESOLVE_TOKEN", "two words")
	if _, err := Resolve(parseFile(t, normalFile), Overrides{Listen: "off"}); err == nil || !strings.Contains(err.Error(), "$TEST_RESOLVE_TOKEN (token_env)") {
		t.Fatalf("a malformed token: %v", err)
	}
}
