package rulefile

import "testing"

// A place's path reads as yq writes it, however deep, with the steps
// joined late.
func TestPlacePathReadsAsYqWritesIt(t *testing.T) {
	for _, tc := range []struct {
		pl   place
		want string
	}{
		{place{}, ""},
		{place{}.field("workers"), "workers"},
		{place{}.index(2), "[2]"},
		{place{path: "log"}.field("format"), "log.format"},
		{place{path: "metrics"}.field("rules").index(0), "metrics.rules[0]"},
		{place{path: "rules"}.index(3).field("exec").field("argv").index(1), "rules[3].exec.argv[1]"},
		{place{path: "rules"}.index(3).field("http").field("headers").field("X-A").field("b"), "rules[3].http.headers.X-A.b"},
		{place{path: "rules"}.index(0).field("exec").field("env").field(""), "rules[0].exec.env."},
		{place{}.field("").field("y"), "y"},
	} {
		if got := tc.pl.String(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
	if pl := (place{path: "rules"}).index(1).ofRule("a b").field("id"); pl.rule != "a b" || pl.String() != "rules[1].id" {
		t.Errorf("%+v", pl)
	}
}
