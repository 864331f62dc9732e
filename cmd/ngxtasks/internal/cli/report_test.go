package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

func TestReportPrintsEachMistakeAndTheCount(t *testing.T) {
	m := &ngxtasks.Manager{SkewTolerance: -1}
	lib := m.Push()
	file := rulefile.Errors{{File: "r.yaml", Line: 3, Column: 5, Path: "rules[0].interval", Rule: "a", Message: "bad"}}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"the library's error names it once", lib, "ngxtasks: invalid manager configuration: SkewTolerance must be >= 0, got -1ns\n"},
		{"a file's mistakes are counted", file, "r.yaml:3:5: rules[0] (a): interval: bad\nngxtasks: 1 mistake(s); nothing started\n"},
		{"joined, all of them", errors.Join(file, errors.New("--workers: must be between 1 and 1024, got 0")),
			"r.yaml:3:5: rules[0] (a): interval: bad\nngxtasks: --workers: must be between 1 and 1024, got 0\nngxtasks: 2 mistake(s); nothing started\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			report(&b, c.err)
			if b.String() != c.want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), c.want)
			}
		})
	}
}
