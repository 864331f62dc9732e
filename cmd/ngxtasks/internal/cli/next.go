package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// nextCmd prints the next slot starts of the rules, to check a file's
// intervals, offsets and spreads before running it.
func nextCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("next", stderr)
	config := configFlag(fs)
	n := fs.Int("n", 5, "how many slots per rule")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *n < 1 || *n > 10000 {
		fmt.Fprintf(stderr, "ngxtasks next: -n %d is not in 1..10000\n", *n)
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "ngxtasks next: at most one RULE")
		return 2
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2
	}
	now := time.Now()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RULE\tTYPE\tSLOT STARTS\tIN")
	found := false
	for i := range f.Rules {
		fr := &f.Rules[i]
		if fs.NArg() == 1 && fr.ID != fs.Arg(0) {
			continue
		}
		found = true
		r := fr.Core()
		at := now
		for range *n {
			s := ngxtasks.EpochKeys{}.Slot(&r, at)
			if s.Start.Before(now) {
				s = ngxtasks.EpochKeys{}.Slot(&r, s.End)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", fr.ID, fr.Type, s.Start.Local().Format(time.RFC3339Nano), s.Start.Sub(now).Round(time.Millisecond))
			at = s.End
		}
	}
	if !found {
		fmt.Fprintf(stderr, "ngxtasks next: no rule %q in %s\n", fs.Arg(0), *config)
		return 2
	}
	_ = w.Flush()
	return 0
}
