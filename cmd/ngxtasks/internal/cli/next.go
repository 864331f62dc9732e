package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// nextCmd prints the next slot starts of the rules, to check a file's
// intervals and schedules before running it: a schedule's in its zone and
// in UTC, marking the starts a daylight-saving change moved, merged or
// made twice, from now or from the instant given (--from), so that a
// schedule can be checked across a change before it comes.
func nextCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("next", stderr)
	config := configFlag(fs)
	n := fs.Int("n", 5, "how many slots per rule")
	from := fs.String("from", "", "list the slots after this instant (RFC 3339, e.g. 2027-03-28T00:00:00+01:00) rather than now")
	asJSON := fs.Bool("json", false, "print a JSON array, one object per slot")
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
	now := time.Now()
	if *from != "" {
		t, err := time.Parse(time.RFC3339Nano, *from)
		if err != nil {
			fmt.Fprintf(stderr, "ngxtasks next: --from %q is not an RFC 3339 instant (2027-03-28T00:00:00+01:00)\n", *from)
			return 2
		}
		now = t
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2
	}
	keys, done, err := keysOf(f)
	if err != nil {
		report(stderr, err)
		return 1
	}
	defer done()
	var starts []start
	found := false
	for i := range f.Rules {
		fr := &f.Rules[i]
		if fs.NArg() == 1 && fr.ID != fs.Arg(0) {
			continue
		}
		found = true
		starts = append(starts, nextStarts(fr, keys, now, *n)...)
	}
	if !found {
		fmt.Fprintf(stderr, "ngxtasks next: no rule %q in %s\n", fs.Arg(0), *config)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(starts); err != nil {
			fmt.Fprintf(stderr, "ngxtasks next: %v\n", err)
			return 1
		}
		return 0
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RULE\tTYPE\tSTARTS\tUTC\tIN\tNOTE")
	for _, s := range starts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Rule, s.Type, s.Start, s.UTC, s.In, s.Note)
	}
	_ = w.Flush()
	return 0
}

// A start is one slot start that next lists.
type start struct {
	Rule  string `json:"rule"`
	Type  string `json:"type"`
	Start string `json:"start"` // in the schedule's zone, or the machine's for an interval
	UTC   string `json:"utc"`
	In    string `json:"in"` // from now (or --from)
	Zone  string `json:"zone,omitzero"`
	// For a schedule: the wall time written, and what a transition did.
	Wall   string `json:"wall,omitzero"`
	Pass   int    `json:"pass,omitzero"`   // 1 or 2: the pass of a repeated hour, when both run
	Moved  bool   `json:"moved,omitzero"`  // the gap moved it to the transition
	Merged int    `json:"merged,omitzero"` // wall times of the gap it stands for
	Jitter string `json:"jitter,omitzero"` // how far jitter: moved it
	Note   string `json:"-"`
}

// keysOf is the key generator f's workers cut time with: a Lua file's
// tasks.keys (in a Lua state of its own, closed by done), else EpochKeys.
func keysOf(f *rulefile.File) (keys ngxtasks.KeyGenerator, done func(), err error) {
	keys, done = ngxtasks.EpochKeys{}, func() {}
	if f.Lua == nil || !f.Lua.HasKeys() {
		return keys, done, nil
	}
	lw, err := f.Lua.Worker(luarules.WorkerConfig{})
	if err != nil {
		return nil, nil, err
	}
	return lw.Keys(), func() { _ = lw.Close() }, nil
}

// nextStarts lists the next n slot starts of r after now, its slots cut
// by keys.
func nextStarts(r *rulefile.Rule, keys ngxtasks.KeyGenerator, now time.Time, n int) []start {
	core := r.Core()
	out := make([]start, 0, n)
	if r.Schedule == nil {
		at := now
		for range n {
			s := keys.Slot(&core, at)
			if s.Start.Before(now) {
				s = keys.Slot(&core, s.End)
			}
			out = append(out, start{Rule: r.ID, Type: r.Type.String(), Start: s.Start.Local().Format(time.RFC3339Nano),
				UTC: s.Start.UTC().Format(time.RFC3339Nano), In: s.Start.Sub(now).Round(time.Millisecond).String()})
			at = s.End
		}
		return out
	}
	loc := r.Schedule.Location()
	occ := r.Schedule.Next(now.Add(-r.Jitter)) // a slot begun before now may start after it, moved
	for len(out) < n {
		following := r.Schedule.Next(occ.At)
		at := core.Schedule.Slot(following.At.Add(-1)).Start // occ's start, jitter included
		if !at.Before(now) {
			s := start{Rule: r.ID, Type: r.Type.String(), Start: at.In(loc).Format(time.RFC3339), UTC: at.UTC().Format(time.RFC3339),
				In: at.Sub(now).Round(time.Second).String(), Zone: loc.String(), Wall: occ.Wall.Format("2006-01-02 15:04:05"),
				Pass: occ.Pass, Moved: occ.Moved, Merged: occ.Merged}
			if d := at.Sub(occ.At); d > 0 {
				s.Jitter = d.Round(time.Second).String()
			}
			s.Note = note(&s)
			out = append(out, s)
		}
		occ = following
	}
	return out
}

// note words what a transition or jitter did to a start, for the table.
func note(s *start) string {
	var text string
	switch {
	case s.Moved && s.Merged > 1:
		text = fmt.Sprintf("gap: %d times from %s merged, run at the change", s.Merged, s.Wall)
	case s.Moved:
		text = "gap: " + s.Wall + " does not exist, run at the change"
	case s.Pass > 0:
		text = fmt.Sprintf("repeated hour: pass %d of %s", s.Pass, s.Wall)
	}
	if s.Jitter != "" {
		if text != "" {
			text += "; "
		}
		text += "jitter +" + s.Jitter
	}
	return text
}
