package rulefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
)

// FuzzParse checks what must hold for any input: Parse does not panic,
// returns a File or Errors (never both, never neither), places every
// error, never shows a secret it did not get from the input itself, and
// returns only rules a Manager accepts; and a file parsed in pieces
// gives what a whole parse gives (see pieces.go). Seeds: testdata/fuzz/FuzzParse,
// the example, the invalid-file table and a realistic file.
func FuzzParse(f *testing.F) {
	if ex, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(ex)
	}
	for _, tc := range invalidFiles {
		f.Add([]byte(tc.yaml))
	}
	f.Add(realisticFile(12, 0)) // parsed in pieces
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPieces(t, data, testEnv())
		file, err := Parse("rules.yaml", data, testEnv())
		if (file == nil) == (err == nil) {
			t.Fatalf("file %v and error %v", file, err)
		}
		if err != nil {
			checkErrors(t, data, err)
			return
		}
		checkFile(t, data, file)
	})
}

func checkErrors(t *testing.T, data []byte, err error) {
	var list Errors
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %T %v is not a non-empty Errors", err, err)
	}
	for _, e := range list {
		if e.Line < 1 || e.Column < 1 || e.Message == "" {
			t.Errorf("error without a place or a message: %#v", e)
		}
		if e.File != "rules.yaml" && !strings.HasSuffix(e.File, ".env") {
			t.Errorf("error in file %q", e.File)
		}
	}
	noSecret(t, data, err.Error())
}

func checkFile(t *testing.T, data []byte, f *File) {
	if f.Workers < 1 || f.Workers > 1024 {
		t.Errorf("workers %d", f.Workers)
	}
	ids := map[string]bool{}
	for _, r := range f.Rules {
		if ids[r.ID] {
			t.Errorf("duplicate id %q accepted", r.ID)
		}
		ids[r.ID] = true
		c := r.Core()
		c.Callback = func(context.Context, ngxtasks.Firing) error { return nil }
		if err := c.Validate(); err != nil {
			t.Errorf("accepted a rule ngxtasks refuses: %v", err)
		}
		if (r.Exec == nil) == (r.HTTP == nil) {
			t.Errorf("rule %q: exec %v, http %v", r.ID, r.Exec, r.HTTP)
		}
		if x := r.Exec; x != nil && (x.Shell != (x.Command != "") || x.Shell == (len(x.Argv) > 0)) {
			t.Errorf("rule %q: shell %v, command %q, argv %q", r.ID, x.Shell, x.Command, x.Argv)
		}
		if len(r.Fingerprint) != 32 || r.Pos.Line < 1 {
			t.Errorf("rule %q: fingerprint %q, pos %v", r.ID, r.Fingerprint, r.Pos)
		}
	}
	again, err := Parse("rules.yaml", data, testEnv())
	if err != nil || len(again.Rules) != len(f.Rules) {
		t.Fatalf("second parse differs: %v", err)
	}
	for i := range f.Rules {
		if again.Rules[i].Fingerprint != f.Rules[i].Fingerprint {
			t.Errorf("fingerprint of %q is not stable", f.Rules[i].ID)
		}
	}
	noSecret(t, data, printed(f, *f))
	for _, r := range f.Rules {
		noSecret(t, data, printed(r.Exec, r.HTTP))
	}
}

// printed is things printed with the verbs that matter, %s included: fmt
// dumps a struct without asking its fields when a verb does not suit one.
func printed(things ...any) string {
	var b strings.Builder
	for _, x := range things {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d"} {
			fmt.Fprintf(&b, verb+"\n", x)
		}
	}
	return b.String()
}

// noSecret fails if s shows one of testEnv's secrets that data does not
// hold itself (a file may well write a secret out; then it is its own).
func noSecret(t *testing.T, data []byte, s string) {
	for _, sec := range []string{hookKey, apiToken, dingPass} {
		if strings.Contains(s, sec) && !bytes.Contains(data, []byte(sec)) {
			t.Errorf("shows secret %q:\n%s", sec, s)
		}
	}
}
