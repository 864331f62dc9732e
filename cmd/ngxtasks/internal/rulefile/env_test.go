package rulefile

import (
	"slices"
	"strings"
	"testing"
)

func TestEnvFileReadsQuotesEscapesExportAndComments(t *testing.T) {
	src := "# comment\n" +
		"\n" +
		"  PLAIN = a b#c  \r\n" +
		"export EXPORTED=x\n" +
		"EMPTY=\n" +
		"SINGLE='$HOME \\n' # comment\n" +
		"DOUBLE=\"q\\\"\\\\\\n\\t#\"\n" +
		"EQUALS=a=b\n"
	vars, errs := parseEnvFile("x.env", []byte(src))
	if errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	got := map[string]string{}
	for _, v := range vars {
		got[v.name] = v.value
	}
	want := map[string]string{
		"PLAIN":    "a b#c",
		"EXPORTED": "x",
		"EMPTY":    "",
		"DOUBLE":   "q\"\\\n\t#",
		"EQUALS":   "a=b",
		"SINGLE":   "$HOME \\n",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestEnvFileMistakesAreEachReportedAtTheirLine(t *testing.T) {
	src := "A='ok' trailing\nB=\"\\q\"\nC=\"open\n=x\nD=1\nD=2\nE=\"nul\\\"\x00\"\n"
	_, errs := parseEnvFile("x.env", []byte(src))
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		"x.env:1:1: A: only a # comment may follow the closing quote",
		`x.env:2:1: B: unknown escape in double quotes (known: \\ \" \n \r \t)`,
		`x.env:3:1: C: no closing " quote (a value is one line)`,
		`x.env:4:1: "" is not a variable name: letters, digits and _, not starting with a digit`,
		"x.env:6:1: D is set twice (first on line 5)",
		"x.env:7:1: E: the value holds a NUL byte, which no environment can carry",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExpandTakesOnlyBracedNamesAndNeverExpandsValuesAgain(t *testing.T) {
	look := func(k string) (string, bool) {
		v, ok := map[string]string{"A": "x", "EMPTY": "", "D": "$B"}[k]
		return v, ok
	}
	for _, tc := range []struct{ in, want, problem string }{
		{"plain", "plain", ""},
		{"${A}${A}-${EMPTY}-", "xx--", ""},
		{"$$A $$ $5 $ ${D}", "$A $ $5 $ $B", ""}, // values are not expanded again
		{"$", "$", ""},
		{"a$", "a$", ""},
		{"$A", "", "$A is not expanded: write ${A}, or $$A for a literal dollar"},
		{"${NOPE}", "", "${NOPE} is not set"},
		{"${1A}", "", `"${1A}" is not a variable reference: a name is letters, digits and _ and does not start with a digit (write $$ for a literal dollar)`},
		{"${A", "", "`${` has no closing `}` (write $$ for a literal dollar)"},
	} {
		got, problems := expand(tc.in, look)
		if got != tc.want || strings.Join(problems, "; ") != tc.problem {
			t.Errorf("expand(%q) = %q, %q; want %q, %q", tc.in, got, problems, tc.want, tc.problem)
		}
	}
}

func TestSuggestOffersOnlyAClearlyCloseKey(t *testing.T) {
	keys := append(ruleKeys(), execKeys()...)
	for word, want := range map[string]string{
		"intervall": "interval", "tiemout": "timeout", "ofset": "offset", "Type": "type",
		"dri": "dir", "x": "", "spreadsheet": "", "ID": "id", "typ": "type", "agrv": "argv", "ofsfet": "offset",
	} {
		got, _ := suggest(word, keys)
		if got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
	// Short words that merely look alike get no suggestion.
	if got, ok := suggest("dir", ruleKeys()); ok {
		t.Errorf("suggest(dir) among rule keys = %q", got)
	}
}
