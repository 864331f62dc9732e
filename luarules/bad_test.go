package luarules_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks/luarules"
)

// TestBadFiles: each mistake is a *luarules.Error naming the file, the
// line, the rule and the field where there is one.
func TestBadFiles(t *testing.T) {
	for _, tc := range []struct {
		file  string
		line  int
		rule  string
		field string
		msg   string
		in    string // the file the error is in, when not tc.file
	}{
		{"syntax.lua", 5, "", "", "syntax error", ""},
		{"no_identifier.lua", 3, "nameless", "identifier", "is missing", ""},
		{"typ_other.lua", 3, "odd", "typ", `must be 'normal' or 'preemption', got "other"`, ""},
		{"interval_zero.lua", 3, "never", "interval", "must be > 0 seconds, got 0", ""},
		{"interval_negative.lua", 3, "backwards", "interval", "must be > 0 seconds, got -5", ""},
		{"callback_string.lua", 3, "notfunc", "callback", "must be a function, got a string", ""},
		{"unknown_ngx.lua", 8, "", "ngx.timer", "ngx.timer is not provided", ""},
		{"unknown_ngx_worker.lua", 7, "", "ngx.worker.exiting", "ngx.worker.exiting is not provided", ""},
		{"keys_fails.lua", 4, "k", "keys", "cannot perform sub operation between number and nil", ""},
		{"duplicate.lua", 3, "twice", "identifier", "is already the identifier of the rule at testdata/bad/duplicate.lua:2", ""},
		{"runtime_error.lua", 3, "", "", "the rule must be a table, got nil", ""},
		{"missing_module.lua", 1, "", "", "module no_such_rules not found", ""},
		{"drive.lua", 3, "when", "timeout", "must be a number of seconds, got a string", ""},
		{"module_syntax.lua", 2, "", "", "syntax error", "broken_module.lua"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := "testdata/bad/" + tc.file
			wantFile := path
			if tc.in != "" {
				wantFile = "testdata/bad/" + tc.in
			}
			f, err := luarules.Load(path, luarules.Options{Logger: quiet()})
			if err == nil {
				t.Fatalf("loaded: %+v", f.Rules())
			}
			var le *luarules.Error
			if !errors.As(err, &le) {
				t.Fatalf("%T %v, want a *luarules.Error", err, err)
			}
			if le.File != wantFile || le.Line != tc.line || le.Rule != tc.rule || le.Field != tc.field || !strings.Contains(le.Msg, tc.msg) {
				t.Errorf("got  %s\n(file %q line %d rule %q field %q)\nwant file %q line %d rule %q field %q, message containing %q",
					err, le.File, le.Line, le.Rule, le.Field, wantFile, tc.line, tc.rule, tc.field, tc.msg)
			}
			if want := wantFile + ":"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not begin with %q", err, want)
			}
		})
	}
}

// TestBadFileReportsEveryMistake: one Load reports every mistake of a
// file, each with its line, unknown ngx fields anywhere in the file included.
func TestBadFileReportsEveryMistake(t *testing.T) {
	var got string
	for _, file := range []string{"several.lua", "drive.lua"} {
		_, err := luarules.Load("testdata/bad/"+file, luarules.Options{Logger: quiet()})
		if err == nil {
			t.Fatalf("%s loaded", file)
		}
		got += err.Error() + "\n"
		if n, want := len(luarules.Errors(err)), map[string]int{"several.lua": 5, "drive.lua": 2}[file]; n != want {
			t.Errorf("%s: Errors gives %d, want %d", file, n, want)
		}
	}
	for _, want := range []string{
		"testdata/bad/several.lua:3: ngx.location: ngx.location is not provided",
		"testdata/bad/several.lua:12: rule \"a\": interval: must be > 0 seconds, got 0",
		"testdata/bad/several.lua:15: rule \"b\": typ: must be 'normal' or 'preemption', got \"other\"",
		"testdata/bad/several.lua:15: rule \"b\": callback: is missing",
		"testdata/bad/several.lua:7: ngx.shared.DICT:flush_all: ngx.shared.DICT:flush_all is not provided",
		"testdata/bad/drive.lua:3: rule \"when\": drive: must be 'any', 'timer', 'request' or 'run', got sometimes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
