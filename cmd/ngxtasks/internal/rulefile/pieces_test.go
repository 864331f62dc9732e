package rulefile

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// checkPieces parses data as Parse does (in pieces when it can) and as
// one document, and fails unless both give the same File, or the same
// messages. It reports whether the pieces were taken.
func checkPieces(t *testing.T, data []byte, env Env) bool {
	t.Helper()
	var list *listing
	if l, ok := cut(data); ok {
		list = &l
	}
	pieced := false
	if list != nil {
		pieced, _, _ = parsePieces("rules.yaml", ".", *list, env)
	}
	got, gerr := Parse("rules.yaml", data, env)
	want, werr := parseWhole("rules.yaml", ".", data, env, list)
	if g, w := fmt.Sprint(messages(t, gerr)), fmt.Sprint(messages(t, werr)); g != w {
		t.Fatalf("pieces %v: errors %s, whole: %s, for:\n%s", pieced, g, w, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pieces %v: %+v, whole: %+v, for:\n%s", pieced, got, want, data)
	}
	return pieced
}

// Parsing in pieces gives what a whole parse gives, for every file of
// the tests and for the shapes that could tell the two apart.
func TestPiecesAgreeWithWholeParse(t *testing.T) {
	example, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"example":   string(example),
		"realistic": string(realisticFile(300, 0)),
		"generated": genFile(50),
	}
	for i, tc := range invalidFiles {
		files[fmt.Sprint("invalid ", i)] = tc.yaml
	}
	const a, b = "  - id: a\n    interval: 1s\n    type: normal\n", "  - id: b\n    interval: 1s\n    type: normal\n"
	const run = "    exec: {argv: [true]}\n"
	for name, src := range map[string]string{
		"keep-chomped block scalar":   "rules:\n" + a + "    exec:\n      command: |+\n        echo\n\n# c\n\n      shell: true\n" + b + run,
		"block scalar at the end":     "workers: 2\nrules:\n" + a + "    exec:\n      command: |+\n        echo\n\n\n      shell: true\n\n",
		"no newline at the end":       "rules:\n" + a + run + b + "    exec: {argv: [true]}",
		"keys after the list":         "rules: # the rules\n  # first\n" + a + run + "\n# after\nworkers: 2\nlisten: off\n",
		"quote across items":          "rules:\n" + a + "    name: \"x\n" + b + "    name: y\"\n" + run,
		"flow across items":           "rules:\n" + a + "    exec: {argv: [true],\n" + b + "    }\n" + run,
		"anchor used in another item": "rules:\n" + a + "    exec: &x {argv: [true]}\n" + b + "    exec: *x\n",
		"undefined alias":             "rules:\n" + a + "    exec: *x\n",
		"second document after":       "rules:\n" + a + run + "---\nrules: []\n",
		"document end after":          "rules:\n" + a + run + "...\n",
		"list at column one after":    "rules:\n" + a + run + "- id: c\n",
		"tag directive":               "%TAG !e! tag:example.com,2000:\n---\nrules:\n" + a + "    exec: !e!x {argv: [true]}\n",
		"primary tag handle":          "%TAG ! tag:example.com,2000:\n---\nrules:\n" + a + "    exec: !x {argv: [true]}\n",
		"plain scalar run on":         "rules:\n" + a + run + "    name: one\n  two\n",
		"duplicate ids":               "rules:\n" + a + run + a + run,
		"duplicate rules key":         "rules:\n" + a + run + "rules: []\n",
		"rules key in a quote":        "x: \"\nrules:\n" + a + run + "\"\n",
		"rules key in a flow mapping": "{workers: 1,\nrules:\n" + a + run + "}\n",
		"byte order mark":             "\ufeffworkers: 1\nrules:\n" + a + run,
		"tab in an item":              "rules:\n" + a + "\texec: {argv: [true]}\n",
		"nesting at the bound":        "rules:\n" + a + "    exec: {argv: [true], env: {X: " + strings.Repeat("[", 57) + strings.Repeat("]", 57) + "}}\n",
		"one level too deep":          "rules:\n" + a + "    exec: {argv: [true], env: {X: " + strings.Repeat("[", 58) + strings.Repeat("]", 58) + "}}\n",
		"env file and variables":      "env_file: secrets.env\nrules:\n" + a + "    http: {url: \"https://h/?k=${HOOK_KEY}&t=${API_TOKEN}\"}\n" + b + "    exec: {argv: [true], env_file: ding.env, env: {P: \"${DING_PASS}\"}}\n",
		"unset variable":              "rules:\n" + a + "    http: {url: \"https://h/${NOPE}\"}\n",
		"invalid UTF-8 in an item":    "rules:\n" + a + "    name: \xff\n" + run,
		"item is not a mapping":       "rules:\n  - just text\n",
		"rule starts on a later line": "rules:\n  - # c\n    id: a\n    interval: 1s\n    type: normal\n" + run,
		"max_running after the list":  "rules:\n" + a + run + "max_running: 7\n",
	} {
		files[name] = src
	}
	// Many runs of items (see nextRun), parsed ahead of the walk, with a
	// mistake early, late, or in the YAML of one run.
	big := string(realisticFile(3000, 0))
	files["many runs"] = big
	files["many runs, mistake early"] = strings.Replace(big, "type: normal", "type: nromal", 1)
	files["many runs, mistake late"] = big + "  - {id: r0, interval: 1s, type: normal, exec: {argv: [true]}}\n"
	files["many runs, many mistakes"] = strings.ReplaceAll(strings.ReplaceAll(big, "id: r2999\n", "id: r7\n"), "interval: 24h", "interval: 24")
	// YAML also breaks lines at a lone CR, NEL, LS and PS, which the cut
	// does not count.
	for name, nl := range map[string]string{"CR": "\r", "NEL": "\u0085", "LS": "\u2028", "PS": "\u2029"} {
		files["many runs, "+name] = strings.Replace(big, "name: rule 0\n", "name: rule 0"+nl+"    offset: 1s\n", 1)
	}
	files["CRLF"] = strings.ReplaceAll(big[:20000], "\n", "\r\n")
	files["many runs, syntax"] = strings.Replace(big, "id: r1500\n", "id: [r1500\n", 1)
	for name, src := range files {
		t.Run(name, func(t *testing.T) { checkPieces(t, []byte(src), testEnv()) })
	}
	if len(nextRun(mustCut(t, big).items)) > 1000 {
		t.Error("a run holds more than a thousand rules")
	}
	if !checkPieces(t, []byte(big), testEnv()) {
		t.Error("a realistic file is not parsed in pieces")
	}
}

func mustCut(t *testing.T, data string) listing {
	t.Helper()
	l, ok := cut([]byte(data))
	if !ok {
		t.Fatalf("does not cut:\n%s", data)
	}
	return l
}
