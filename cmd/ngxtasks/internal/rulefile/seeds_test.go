package rulefile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The corpus's valid_ seeds parse and its invalid_ seeds do not, so that
// the fuzzer starts from both sides.
func TestFuzzSeedsParseOrFailAsTheirNamesSay(t *testing.T) {
	paths, _ := filepath.Glob("testdata/fuzz/FuzzParse/*")
	if len(paths) < 10 {
		t.Fatalf("%d seeds", len(paths))
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, lit, _ := strings.Cut(strings.TrimSpace(string(raw)), "[]byte(")
		data, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		name := filepath.Base(p)
		_, err = Parse("rules.yaml", []byte(data), testEnv())
		switch {
		case strings.HasPrefix(name, "valid_") && err != nil:
			t.Errorf("%s: %v", name, err)
		case strings.HasPrefix(name, "invalid_") && err == nil:
			t.Errorf("%s parses", name)
		}
	}
}
