package rulefile

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// mapEnv is an Env over maps the test changes between parses.
type mapEnv struct {
	vars, files map[string]string
}

func newMapEnv() *mapEnv {
	return &mapEnv{
		vars: map[string]string{"HOOK_KEY": hookKey},
		files: map[string]string{
			"secrets.env": "API_TOKEN=" + apiToken + "\n",
			"ding.env":    "DING_PASS='" + dingPass + "'\n",
		},
	}
}

func (m *mapEnv) env() Env {
	return Env{
		Lookup: func(k string) (string, bool) { v, ok := m.vars[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := m.files[p]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
}

// checkReparse parses next both ways and fails unless they agree; it
// returns the new file and whether Reparse took its shortcut.
func checkReparse(t *testing.T, f *File, next string, env Env) (*File, bool) {
	t.Helper()
	_, short := f.reparse([]byte(next), env)
	got, gerr := f.Reparse([]byte(next), env)
	want, werr := Parse(f.Path, []byte(next), env)
	if fmt.Sprint(messages(t, gerr)) != fmt.Sprint(messages(t, werr)) {
		t.Fatalf("Reparse errors %q, Parse errors %q, for:\n%s", messages(t, gerr), messages(t, werr), next)
	}
	if werr != nil {
		return f, short
	}
	g, w := *got, *want
	g.src, w.src = nil, nil
	if !reflect.DeepEqual(g, w) {
		for i := range min(len(g.Rules), len(w.Rules)) {
			if !reflect.DeepEqual(g.Rules[i], w.Rules[i]) {
				t.Errorf("rule %d: Reparse %+v, Parse %+v", i, g.Rules[i], w.Rules[i])
			}
		}
		t.Fatalf("Reparse and Parse differ (%d and %d rules) for:\n%s", len(g.Rules), len(w.Rules), next)
	}
	return got, short
}

const incrementalHead = `# a generated file
env_file: secrets.env
workers: 2
rules:
`

func genRule(i int, interval string) string {
	return fmt.Sprintf("  - id: r%d\n    interval: %s\n    type: normal\n    http:\n      url: https://x/%d?k=${HOOK_KEY}\n      headers: {Authorization: \"Bearer ${API_TOKEN}\"}\n", i, interval, i)
}

func genFile(n int) string {
	var b strings.Builder
	b.WriteString(incrementalHead)
	for i := range n {
		b.WriteString(genRule(i, "1s"))
	}
	return b.String()
}

func TestReparseTakesTheShortcut(t *testing.T) {
	me := newMapEnv()
	data := genFile(50)
	f, err := Parse("rules.yaml", []byte(data), me.env())
	if err != nil {
		t.Fatal(err)
	}
	edits := []struct {
		name  string
		next  string
		short bool
	}{
		{"nothing", data, true},
		{"one interval", strings.Replace(data, genRule(7, "1s"), genRule(7, "2s"), 1), true},
		{"a rule added at the end", data + genRule(50, "1s"), true},
		{"a rule added in the middle", strings.Replace(data, genRule(20, "1s"), genRule(99, "3s")+genRule(20, "1s"), 1), true},
		{"a rule removed", strings.Replace(data, genRule(3, "1s"), "", 1), true},
		{"two rules swapped", strings.Replace(strings.Replace(data, genRule(1, "1s"), "@", 1), genRule(2, "1s"), genRule(1, "1s"), 1), false}, // r2 lost: r1 twice
		{"a comment between rules", strings.Replace(data, genRule(5, "1s"), genRule(5, "1s")+"\n  # note\n", 1), true},
		{"a duplicate id", data + genRule(4, "5s"), false},
		{"a mistake in a rule", strings.Replace(data, genRule(9, "1s"), genRule(9, "soon"), 1), false},
		{"a changed head", strings.Replace(data, "workers: 2", "workers: 3", 1), false},
		{"a key after the rules", data + "listen: off\n", false},
		{"flow style", incrementalHead[:strings.Index(incrementalHead, "rules:")] + "rules: [{id: a, interval: 1s, type: normal, exec: {argv: [x]}}]\n", false},
		{"a tab", strings.Replace(data, "  - id: r8\n", "\t- id: r8\n", 1), false},
		{"an item on its own line", strings.Replace(data, "  - id: r8\n", "  -\n    id: r8\n", 1), false},
		{"a rule that cannot stand alone", strings.Replace(data, genRule(8, "1s"), "  - id: r8\n    interval: *x\n", 1), false},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			_, short := checkReparse(t, f, e.next, me.env())
			if short != e.short {
				t.Errorf("shortcut taken: %v, want %v", short, e.short)
			}
		})
	}

	// What was read from outside is read again: a changed variable or env
	// file means a whole parse, whose result differs.
	t.Run("a variable changed", func(t *testing.T) {
		me2 := newMapEnv()
		me2.vars["HOOK_KEY"] = "another"
		nf, short := checkReparse(t, f, data, me2.env())
		if short || nf.Rules[0].Fingerprint == f.Rules[0].Fingerprint {
			t.Fatalf("shortcut %v; fingerprint kept: a changed secret must change the rule", short)
		}
	})
	t.Run("an env file changed", func(t *testing.T) {
		me2 := newMapEnv()
		me2.files["secrets.env"] = "API_TOKEN=other\n"
		if _, short := checkReparse(t, f, data, me2.env()); short {
			t.Fatal("shortcut taken after the env file changed")
		}
	})
	t.Run("a changed rule reads the top env file", func(t *testing.T) {
		next := strings.Replace(data, genRule(7, "1s"), genRule(7, "2s"), 1)
		nf, short := checkReparse(t, f, next, me.env())
		if !short || nf.Rules[7].HTTP.Headers[0].Value.Expanded() != "Bearer "+apiToken {
			t.Fatalf("shortcut %v, header %q", short, nf.Rules[7].HTTP.Headers[0].Value.Expanded())
		}
		// A second reload from the first one's result.
		next2 := strings.Replace(next, genRule(8, "1s"), genRule(8, "4s"), 1)
		if _, short := checkReparse(t, nf, next2, me.env()); !short {
			t.Fatal("no shortcut on the second reload")
		}
	})
}

// TestReparseAgreesWithParseOverRandomEdits applies random edits to a
// file, reloading each from the last: Reparse always agrees with Parse.
func TestReparseAgreesWithParseOverRandomEdits(t *testing.T) {
	me := newMapEnv()
	rng := rand.New(rand.NewPCG(1, 2))
	data := genFile(30)
	f, err := Parse("rules.yaml", []byte(data), me.env())
	if err != nil {
		t.Fatal(err)
	}
	next, shortcuts := 100, 0
	for range 300 {
		items := strings.SplitAfter(data, "\n  - ") // items[0] is the head and the first rule
		i := rng.IntN(len(items))
		edited := data
		switch rng.IntN(5) {
		case 0: // change an interval
			items[i] = strings.Replace(items[i], "interval: 1s", "interval: 2s", 1)
			edited = strings.Join(items, "")
		case 1: // add a rule
			edited = data + genRule(next, "1s")
			next++
		case 2: // remove the last rule
			if len(items) > 3 {
				edited = strings.TrimSuffix(strings.Join(items[:len(items)-1], ""), "  - ")
			}
		case 3: // a comment and a blank line
			items[i] = strings.Replace(items[i], "type: normal\n", "type: normal\n\n      # c\n", 1)
			edited = strings.Join(items, "")
		case 4: // a mistake: reported as Parse reports it, then undone
			items[i] = strings.Replace(items[i], "type: normal", "type: sometimes", 1)
			checkReparse(t, f, strings.Join(items, ""), me.env())
			continue
		}
		nf, short := checkReparse(t, f, edited, me.env())
		if short {
			shortcuts++
		}
		f, data = nf, edited
	}
	if shortcuts < 100 {
		t.Errorf("the shortcut was taken %d times in 300 edits; want most of them", shortcuts)
	}
}

// BenchmarkReparse compares reloading a 10,000-rule file with one rule
// changed through Reparse and through Parse.
func BenchmarkReparse(b *testing.B) {
	data := genFile(10000)
	me := newMapEnv()
	f, err := Parse("rules.yaml", []byte(data), me.env())
	if err != nil {
		b.Fatal(err)
	}
	changed := []byte(strings.Replace(data, genRule(5000, "1s"), genRule(5000, "2s"), 1))
	b.Run("how=parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := Parse("rules.yaml", changed, me.env()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("how=reparse", func(b *testing.B) {
		for b.Loop() {
			if _, ok := f.reparse(changed, me.env()); !ok {
				b.Fatal("no shortcut")
			}
		}
	})
}
