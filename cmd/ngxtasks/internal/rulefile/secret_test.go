package rulefile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

var secrets = []string{hookKey, apiToken, dingPass, "literalpw"}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s shows a secret (%s):\n%s", what, sec, s)
		}
	}
}

// Mistakes that are only visible once expanded are reported by template.
func TestSecretsNeverInErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"url invalid once expanded", "rules:\n  - {id: a, interval: 1s, type: normal, http: {url: '${BAD_URL}/?k=${HOOK_KEY}'}}\n",
			[]string{`rules.yaml:2:53: rules[0] (a): http.url: "${BAD_URL}/?k=${HOOK_KEY}" is not a valid URL once expanded`}},
		{"secret as port", "rules:\n  - {id: a, interval: 1s, type: normal, http: {url: 'https://h:${HOOK_KEY}/'}}\n",
			[]string{`rules.yaml:2:53: rules[0] (a): http.url: "https://h:${HOOK_KEY}/" is not a valid URL once expanded`}},
		{"secret as scheme", "rules:\n  - {id: a, interval: 1s, type: normal, http: {url: '${HOOK_KEY}://h/'}}\n",
			[]string{`rules.yaml:2:53: rules[0] (a): http.url: "${HOOK_KEY}://h/" must start with http:// or https://`}},
		{"header with a line break once expanded", "rules:\n  - {id: a, interval: 1s, type: normal, http: {url: 'http://h/', headers: {X: 'k=${HOOK_KEY}${NL}'}}}\n",
			[]string{`rules.yaml:2:79: rules[0] (a): http.headers.X: holds a line break or NUL once expanded`}},
		{"dict invalid once expanded", "dict: 'redis://:${HOOK_KEY}@[::1'\nrules: []\n",
			[]string{`rules.yaml:1:7: dict: is not a URL: cannot parse: missing ']' in host`}},
		{"dict with a password written out", "dict: 'redis://:literalpw@h:x/0'\nrules: []\n",
			[]string{`rules.yaml:1:7: dict: is not a URL: cannot parse: invalid port "…" after host`}},
		{"dict without scheme, password written out", "dict: '/var/db?password=literalpw'\nrules: []\n",
			[]string{`rules.yaml:1:7: dict: "/var/db?password=xxxxx" has no scheme (e.g. sqlite:///var/lib/ngxtasks/dict.db, redis://host:6379/0)`}},
		{"env file holding a broken secret", "env_file: bad.env\nrules: []\n",
			[]string{
				"bad.env:2:1: expected KEY=VALUE",
				`bad.env:3:1: "1X" is not a variable name: letters, digits and _, not starting with a digit`,
				`bad.env:4:1: Q: no closing " quote (a value is one line)`,
				"bad.env:5:1: OK is set twice (first on line 1)",
			}},
		{"secret next to an undefined variable", "env_file: secrets.env\nrules:\n  - {id: a, interval: 1s, type: normal, exec: {argv: [true], env: {A: '${API_TOKEN}${HOOK_KEY}${NOPE}'}}}\n",
			[]string{`rules.yaml:3:71: rules[0] (a): exec.env.A: ${NOPE} is not set (looked in the environment, secrets.env)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("rules.yaml", []byte(tc.yaml), testEnv())
			got := messages(t, err)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			assertNoSecret(t, "error", fmt.Sprintf("%v %+v %#v", err, err, err))
		})
	}
}

// Printing a loaded file, any part of it, in any way, shows templates.
func TestSecretsNeverPrinted(t *testing.T) {
	f := parseExample(t, testEnv())
	things := []any{f, *f, f.Dict}
	for _, r := range f.Rules {
		things = append(things, r)
		if r.Exec != nil {
			things = append(things, *r.Exec, r.Exec.Env)
		}
		if r.HTTP != nil {
			things = append(things, *r.HTTP, r.HTTP.URL, r.HTTP.Headers, r.HTTP.Body)
		}
	}
	for i, x := range things {
		assertNoSecret(t, fmt.Sprintf("thing %d printed", i), printed(x)+fmt.Sprintf("%x %10.3s", x, x))
		j, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, fmt.Sprintf("thing %d as JSON", i), string(j))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "thing", x)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "thing", x)
		assertNoSecret(t, fmt.Sprintf("thing %d logged", i), buf.String())
	}

	// …while the template is what shows, and the value is there for use.
	u := f.Rules[2].HTTP.URL
	if s := fmt.Sprint(u); s != "https://example.com/hook?key=${HOOK_KEY}" {
		t.Errorf("Text prints as %q", s)
	}
	if u.Expanded() != "https://example.com/hook?key="+hookKey {
		t.Errorf("Expanded = %q", u.Expanded())
	}
}
