package rulefile

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Deep nesting is refused at the bound, before it costs anything.
func TestDeepInputIsRefusedQuickly(t *testing.T) {
	const n = 100_000
	for _, src := range []string{
		"rules: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n",
		"rules: " + strings.Repeat("{a: ", n) + "1" + strings.Repeat("}", n) + "\n",
		strings.Repeat("- ", n) + "x\n",
	} {
		start := time.Now()
		_, err := Parse("rules.yaml", []byte(src), Env{})
		if got := messages(t, err); len(got) != 1 || !strings.Contains(got[0], "nested more than 64 levels deep") {
			t.Errorf("%.20s…: %q", src, got)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%.20s… took %v", src, d)
		}
	}
}

// A big file (10,000 rules) loads, and its mistakes are all reported.
func TestTenThousandRulesLoadAndEveryMistakeIsReported(t *testing.T) {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "  - {id: r%d, interval: %ds, type: normal, exec: {argv: [true]}}\n", i, i%60+1)
	}
	f, err := Parse("rules.yaml", []byte(b.String()), Env{})
	if err != nil || len(f.Rules) != 10_000 {
		t.Fatalf("%v", err)
	}
	broken := strings.ReplaceAll(b.String(), "type: normal", "type: nromal")
	_, err = Parse("rules.yaml", []byte(broken), Env{})
	if got := messages(t, err); len(got) != 10_000 || got[9999] != "rules.yaml:10001:38: rules[9999] (r9999): type: \"nromal\" is not one of normal, preemption; did you mean `normal`?" {
		t.Errorf("%d errors, last %q", len(got), got[len(got)-1])
	}
}
