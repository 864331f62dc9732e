package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

// A GapPolicy says what becomes of a fixed-time occurrence whose wall time
// the clock skips (spring forward).
type GapPolicy int

const (
	// RunAtTransition runs it at the first instant after the gap: the day
	// still gets its run, as in Vixie cron.
	RunAtTransition GapPolicy = iota
	// SkipGap drops it: the time written never came that day.
	SkipGap
)

// A RepeatPolicy says which pass of a repeated hour (fall back) runs a
// fixed-time occurrence whose wall time the clock reads twice.
type RepeatPolicy int

const (
	// FirstPass runs it when the clock first reads its time, as Vixie
	// cron does.
	FirstPass RepeatPolicy = iota
	// LastPass runs it when the clock reads its time the last time, that
	// is in standard time.
	LastPass
	// BothPasses runs it at each pass, under two identities.
	BothPasses
)

func (g GapPolicy) String() string {
	switch g {
	case RunAtTransition:
		return "run-at-transition"
	case SkipGap:
		return "skip-gap"
	}
	return "GapPolicy(" + strconv.Itoa(int(g)) + ")"
}

func (r RepeatPolicy) String() string {
	switch r {
	case FirstPass:
		return "first-pass"
	case LastPass:
		return "last-pass"
	case BothPasses:
		return "both-passes"
	}
	return "RepeatPolicy(" + strconv.Itoa(int(r)) + ")"
}

// Options are the settings of a Schedule besides its expression. The zero
// value is UTC with the default policies.
type Options struct {
	Zone   string       // IANA name; "" is UTC
	Gap    GapPolicy    // fixed times in a skipped hour; RunAtTransition by default
	Repeat RepeatPolicy // fixed times in a repeated hour; FirstPass by default
}

// An Error is a schedule, zone or policy that Parse refuses. It names what
// was refused but not the rule, so that the caller can prefix the rule.
type Error struct {
	Field   string // "schedule", "zone", "gap" or "repeat"
	Value   string // the text refused
	Problem string // what is wrong with it
}

func (e *Error) Error() string {
	return e.Field + " " + strconv.Quote(e.Value) + ": " + e.Problem
}

// maxSpec bounds the text Parse reads; every value of every field written
// out takes about 500 bytes.
const maxSpec = 1024

// descriptors are the names accepted for whole expressions, as the five
// fields they stand for; the hour field decides the class, as if written.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

var fieldNames = [6]string{"second", "minute", "hour", "day-of-month", "month", "day-of-week"}

// bounds are the values each field can name; Sunday is 0 or 7.
var bounds = [6][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}

// Parse reads a cron expression, whose wall times are read in o's zone
// under o's policies. It accepts five fields (minute hour day-of-month month
// day-of-week), six with seconds first, or a descriptor (@hourly, @daily,
// @midnight, @weekly, @monthly, @yearly, @annually). Errors are *Error.
func Parse(spec string, o Options) (*Schedule, error) {
	return parse(spec, o, time.Now().Unix())
}

// parse is Parse with the zone's table made around instant now.
func parse(spec string, o Options, now int64) (*Schedule, error) {
	bad := func(format string, a ...any) error {
		return &Error{Field: "schedule", Value: spec, Problem: fmt.Sprintf(format, a...)}
	}
	if len(spec) > maxSpec {
		return nil, &Error{Field: "schedule", Value: spec[:64] + "…", Problem: fmt.Sprintf("longer than %d bytes", maxSpec)}
	}
	written := strings.Fields(spec)
	if len(written) == 0 {
		return nil, bad("empty")
	}
	fields, err := splitFields(written)
	if err != nil {
		return nil, bad("%s", err)
	}
	f, err := readFields(fields)
	if err != nil {
		return nil, bad("%s", err)
	}
	if !f.occurs() {
		return nil, bad("never occurs: no month named has any of the days of the month named")
	}

	loc := time.UTC
	if o.Zone != "" {
		if o.Zone == "Local" || o.Zone == "localtime" {
			// The machine's zone would differ between workers.
			return nil, &Error{Field: "zone", Value: o.Zone, Problem: "this is the machine's own zone; name an IANA zone"}
		}
		if loc, err = time.LoadLocation(o.Zone); err != nil {
			return nil, &Error{Field: "zone", Value: o.Zone, Problem: "unknown time zone"}
		}
	}
	if o.Gap != RunAtTransition && o.Gap != SkipGap {
		return nil, &Error{Field: "gap", Value: o.Gap.String(), Problem: "unknown gap policy"}
	}
	if o.Repeat != FirstPass && o.Repeat != LastPass && o.Repeat != BothPasses {
		return nil, &Error{Field: "repeat", Value: o.Repeat.String(), Problem: "unknown repeat policy"}
	}
	text := strings.Join(written, " ") + " " + loc.String()
	if o.Gap != RunAtTransition {
		text += " " + o.Gap.String()
	}
	if o.Repeat != FirstPass {
		text += " " + o.Repeat.String()
	}
	return &Schedule{
		text:   text,
		z:      newZone(loc, now-tableBefore, now+tableAfter),
		f:      f,
		fixed:  !strings.ContainsAny(fields[2], "*?/"),
		gap:    o.Gap,
		repeat: o.Repeat,
	}, nil
}

// splitFields returns the six fields, seconds first, that the written
// expression stands for, or why it stands for none.
func splitFields(w []string) ([6]string, error) {
	var six [6]string
	if strings.HasPrefix(w[0], "@") {
		if strings.HasPrefix(w[0], "@every") {
			return six, fmt.Errorf("@every is an interval, not a calendar: give the rule an Interval instead")
		}
		d, ok := descriptors[w[0]]
		if !ok {
			return six, fmt.Errorf("unknown descriptor %s (want @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)", w[0])
		}
		if len(w) > 1 {
			return six, fmt.Errorf("%s takes no fields after it", w[0])
		}
		w = strings.Fields(d)
	}
	if strings.HasPrefix(w[0], "TZ=") || strings.HasPrefix(w[0], "CRON_TZ=") {
		return six, fmt.Errorf("the zone is not written in the expression: give it as the zone")
	}
	switch len(w) {
	case 5:
		six[0] = "0"
		copy(six[1:], w)
	case 6:
		if looksLikeYear(w[5]) {
			return six, fmt.Errorf("6 fields are read as seconds first, and the last one, %s, looks like a year: years are not supported", w[5])
		}
		copy(six[:], w)
	case 7:
		return six, fmt.Errorf("7 fields: a year field is not supported")
	default:
		return six, fmt.Errorf("%d fields: want 5 (minute hour day-of-month month day-of-week) or 6 with seconds first", len(w))
	}
	for i, x := range six {
		if err := checkField(i, x); err != nil {
			return six, err
		}
	}
	return six, nil
}

// looksLikeYear reports whether a day-of-week field holds a number no
// weekday has but a year would.
func looksLikeYear(x string) bool {
	for _, part := range strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == '-' || r == '/' }) {
		if n, err := strconv.Atoi(part); err == nil && n >= 100 {
			return true
		}
	}
	return false
}

var monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// checkField refuses, by name, what the parser's grammar has beyond the
// subset accepted here: the extensions it would otherwise refuse in terms
// of its own options, and its hash and zone syntax.
func checkField(i int, x string) error {
	if strings.HasPrefix(x, ",") || strings.HasSuffix(x, ",") || strings.Contains(x, ",,") {
		return fmt.Errorf("%s field %s: an empty value in the list", fieldNames[i], x)
	}
	for _, item := range strings.Split(x, ",") {
		rng, _, _ := strings.Cut(item, "/")
		for _, v := range strings.Split(rng, "-") {
			if n, err := strconv.Atoi(v); err == nil && (n < bounds[i][0] || n > bounds[i][1]) {
				return fmt.Errorf("%s field %s: %d is not in %d-%d", fieldNames[i], x, n, bounds[i][0], bounds[i][1])
			}
		}
	}
	for j := 0; j < len(x); j++ {
		c := x[j]
		switch {
		case c >= '0' && c <= '9', c == '*', c == '?', c == ',', c == '-', c == '/':
		case c == '#':
			return fmt.Errorf("%s field %s: # (nth weekday of the month) is not supported", fieldNames[i], x)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			k := j
			for k < len(x) && (x[k] >= 'a' && x[k] <= 'z' || x[k] >= 'A' && x[k] <= 'Z') {
				k++
			}
			if err := checkName(i, x, strings.ToLower(x[j:k])); err != nil {
				return err
			}
			j = k - 1
		default:
			return fmt.Errorf("%s field %s: unexpected character %q", fieldNames[i], x, rune(c))
		}
	}
	return nil
}

func checkName(i int, x, name string) error {
	switch {
	case i == 4 && contains(monthNames, name), i == 5 && contains(dayNames, name):
		return nil
	case (name == "l" || name == "lw") && i == 5:
		return fmt.Errorf("%s field %s: L (last weekday of the month) is not supported", fieldNames[i], x)
	case name == "l" || name == "lw":
		return fmt.Errorf("%s field %s: L (last day) is not supported", fieldNames[i], x)
	case name == "w" && i == 3:
		return fmt.Errorf("%s field %s: W (nearest weekday) is not supported", fieldNames[i], x)
	case name == "h":
		return fmt.Errorf("%s field %s: H (hashed value) is not supported", fieldNames[i], x)
	}
	what := "numbers"
	switch i {
	case 4:
		what = "numbers or month names (jan-dec)"
	case 5:
		what = "numbers or day names (sun-sat)"
	}
	return fmt.Errorf("%s field %s: %q is not a value (want %s)", fieldNames[i], x, name, what)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readFields has the parser turn the six fields into bitmasks.
func readFields(six [6]string) (fields, error) {
	p, err := cron.TryNewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	if err != nil {
		return fields{}, err
	}
	sched, err := p.Parse(strings.Join(six[:], " "))
	if err != nil {
		// Its messages quote the range but not the field: find the field.
		for i := range six {
			probe := [6]string{"0", "*", "*", "*", "*", "*"}
			probe[i] = six[i]
			if _, perr := p.Parse(strings.Join(probe[:], " ")); perr != nil {
				return fields{}, fmt.Errorf("%s field %s: %v", fieldNames[i], six[i], perr)
			}
		}
		return fields{}, err
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return fields{}, fmt.Errorf("not a cron expression")
	}
	f := newFields(spec)
	for i, m := range [6]uint64{f.sec, f.min, f.hour, f.dom, f.month, f.dow} {
		if m == 0 {
			return fields{}, fmt.Errorf("%s field %s: names no value", fieldNames[i], six[i])
		}
	}
	return f, nil
}
