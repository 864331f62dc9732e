package rulefile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/ngxtasks/ngxtasks/calendar"
)

// decoder walks one rule file's syntax tree, turning nodes into values and
// every mistake into an *Error. Each reader reports its own mistakes and
// says whether the value is usable; callers go on either way, so that one
// pass finds everything.
type decoder struct {
	path string // the rule file as given
	dir  string // its directory: relative paths in the file start there
	env  Env
	// raw is env as given to the parse, without the recording of the
	// files and variables it serves (a Lua file is no env file).
	raw Env
	top envSource // the top-level env_file
	// maxRunningDefault is the file's max_running, every rule's default.
	maxRunningDefault int
	errs              collector
	pieces            *pieces // the rules list, when the file is parsed in pieces
	fpBuf             []byte  // scratch space for fingerprints
	// schedules holds each schedule parsed, for the rules written alike to
	// share: a Schedule keeps its last slot, so rules that share one
	// compute a boundary's slot once between them.
	schedules map[scheduleKey]*calendar.Schedule
}

// place is where in the file's structure a value sits, for messages.
// Its path is joined only when a message needs it: a load reads a dozen
// values a rule, and joining each one's path cost an allocation (a few
// per cent of a load's time) for text that a valid file never shows.
type place struct {
	path  string   // the joined start of the path: "rules[0].exec"
	steps [3]pstep // the steps after path, not joined yet
	n     int      // how many of steps there are
	// rule is the rule's id, when known, as written: it is made a label
	// (quoted when need be) only for a message.
	rule string
}

// pstep is one step of a place's path: a field's name, or an index.
type pstep struct {
	name  string
	index int
	isIdx bool
}

func (p place) ofRule(id string) place {
	p.rule = id
	return p
}

func (p place) field(name string) place { return p.step(pstep{name: name}) }

func (p place) index(i int) place { return p.step(pstep{index: i, isIdx: true}) }

func (p place) step(s pstep) place {
	if p.n == len(p.steps) {
		p = place{path: p.String(), rule: p.rule}
	}
	p.steps[p.n] = s
	p.n++
	return p
}

// String is the path: "rules[0].exec.argv[1]", as yq writes it.
func (p place) String() string {
	if p.n == 0 {
		return p.path
	}
	b := []byte(p.path)
	for _, s := range p.steps[:p.n] {
		switch {
		case s.isIdx:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
		case len(b) > 0:
			b = append(append(b, '.'), s.name...)
		default:
			b = append(b, s.name...)
		}
	}
	return string(b)
}

func (d *decoder) at(n *node, pl place, format string, args ...any) {
	d.atPos(posOf(n), pl, fmt.Sprintf(format, args...))
}

func (d *decoder) atPos(p Pos, pl place, msg string) {
	d.errs.add(&Error{File: d.path, Line: p.Line, Column: p.Column, Path: pl.String(), Rule: label(pl.rule), Message: msg})
}

// wrongType reports a value of the wrong kind, or of a refused YAML
// feature (an alias where a string was expected is first an alias).
func (d *decoder) wrongType(n *node, pl place, want string) {
	if why := refused(n); why != "" {
		d.at(n, pl, "%s", why)
		return
	}
	d.at(n, pl, "must be %s, got %s", want, describe(n))
}

// entry is one key: value of a mapping.
type entry struct {
	name string
	key  *node
	val  *node
}

// pairs reads a mapping's entries, reporting duplicate and non-name keys.
// Entries whose value is null are kept: what null means is the caller's.
func (d *decoder) pairs(n *node, pl place) ([]entry, bool) {
	if n == nil || n.Kind != yaml.MappingNode || refused(n) != "" {
		d.wrongType(n, pl, "a mapping (key: value)")
		return nil, false
	}
	out := make([]entry, 0, len(n.Content)/2)
	var seen map[string]int // index in out; only for big mappings, which a scan would make quadratic
	if len(n.Content) > 32 {
		seen = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if why := refused(key); why != "" {
			d.at(key, pl, "%s", why)
			continue
		}
		name, ok := scalar(key)
		if !ok {
			d.at(key, pl, "a key must be a name, got %s", describe(key))
			continue
		}
		j, dup := seen[name]
		if seen == nil {
			j = slices.IndexFunc(out, func(e entry) bool { return e.name == name })
			dup = j >= 0
		}
		if dup {
			d.at(key, pl, "duplicate field `%s` (first at line %d)", clip(name), posOf(out[j].key).Line)
			continue
		}
		if seen != nil {
			seen[name] = len(out)
		}
		out = append(out, entry{name: name, key: key, val: val})
	}
	return out, true
}

// fields reads a mapping with a fixed set of keys. Unknown keys are
// reported with the likely intended key: one that belongs to another
// section (hint, called only for an unknown key) first, else the closest
// known key. A null value counts as the key left out, so `timeout:` alone
// means "no timeout".
func (d *decoder) fields(n *node, pl place, known []string, hint func() map[string]string) (fieldSet, bool) {
	list, ok := d.pairs(n, pl)
	if !ok {
		return nil, false
	}
	out := list[:0] // the known keys with a value, in place
	for _, e := range list {
		if !contains(known, e.name) {
			msg := fmt.Sprintf("unknown field `%s`", clip(e.name))
			if h, ok := hintFor(hint, e.name); ok {
				msg += ": " + h
			} else if s, ok := suggest(e.name, known); ok {
				msg += fmt.Sprintf(", did you mean `%s`?", s)
			}
			d.atPos(posOf(e.key), pl, msg)
			continue
		}
		if isNull(e.val) {
			continue
		}
		out = append(out, e)
	}
	return fieldSet(out), true
}

func hintFor(hint func() map[string]string, name string) (string, bool) {
	if hint == nil {
		return "", false
	}
	h, ok := hint()[name]
	return h, ok
}

// fieldSet is a section's known keys that have a value. A section has a
// dozen keys at most, so a scan beats a map, which would cost an
// allocation per section of every rule.
type fieldSet []entry

func (fs fieldSet) get(name string) (entry, bool) {
	for _, e := range fs {
		if e.name == name {
			return e, true
		}
	}
	return entry{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str reads text. Numbers and booleans are taken as written.
func (d *decoder) str(n *node, pl place) (string, bool) {
	s, ok := scalar(n)
	if !ok {
		d.wrongType(n, pl, "a string")
	}
	return s, ok
}

// text reads a string that may reference variables and expands it in sc.
func (d *decoder) text(n *node, pl place, sc scope) (Text, bool) {
	tmpl, ok := d.str(n, pl)
	if !ok {
		return Text{}, false
	}
	v, problems := expand(tmpl, sc.lookup)
	for _, p := range problems {
		if strings.HasSuffix(p, " is not set") {
			p += " (looked in " + sc.sources + ")"
		}
		d.at(n, pl, "%s", p)
	}
	return newText(tmpl, v), problems == nil
}

// boolean reads true or false, and nothing else: `spread: yes` is text in
// YAML 1.2, and taking it as true would be guessing.
func (d *decoder) boolean(n *node, pl place) (bool, bool) {
	s, ok := scalar(n)
	if !ok || n.Tag != tagBool {
		d.wrongType(n, pl, "true or false")
		return false, false
	}
	return strings.EqualFold(s, "true"), true
}

// integer reads a whole number.
func (d *decoder) integer(n *node, pl place) (int64, bool) {
	s, ok := scalar(n)
	if !ok || n.Tag != tagInt {
		d.wrongType(n, pl, "a whole number")
		return 0, false
	}
	v, err := parseInt(s)
	if err != nil {
		d.at(n, pl, "%s is too large", describe(n))
		return 0, false
	}
	return v, true
}

// duration reads Go duration syntax. A bare number other than 0 is
// refused with the unit it probably lacks: "5" could mean seconds or
// milliseconds, and guessing wrong is a rule a thousand times too fast.
func (d *decoder) duration(n *node, pl place) (time.Duration, bool) {
	s, ok := scalar(n)
	if !ok {
		d.wrongType(n, pl, "a duration such as 2s")
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err == nil {
		return v, true
	}
	switch {
	case s != "" && strings.Trim(s, "0123456789.") == "":
		d.at(n, pl, "%s has no unit: write %ss, or %sms, %sm …", quote(s), clip(s), clip(s), clip(s))
	case isDurationSyntax(s):
		d.at(n, pl, "%s is out of range: the longest duration is %v", quote(s), time.Duration(math.MaxInt64))
	default:
		d.at(n, pl, "%s is not a duration (Go syntax: 300ms, 2s, 1m30s)", quote(s))
	}
	return 0, false
}

// isDurationSyntax reports whether s is written as time.ParseDuration
// reads a duration, whatever its value: [-+] then one or more numbers
// (digits, with an optional fraction), each with a unit. ParseDuration
// says "invalid duration" both for "2x" and for a number too large.
func isDurationSyntax(s string) bool {
	s = strings.TrimLeft(s, "-+")
	if s == "" {
		return false
	}
	for s != "" {
		digits := len(s) - len(strings.TrimLeft(s, "0123456789."))
		if digits == 0 || strings.Count(s[:digits], ".") > 1 || s[:digits] == "." {
			return false
		}
		s = s[digits:]
		unit := len(s) - len(strings.TrimLeft(s, "nuµμmsh"))
		switch s[:unit] {
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		default:
			return false
		}
		s = s[unit:]
	}
	return true
}

// nonNegativeDuration reads a duration that may be zero but not less.
func (d *decoder) nonNegativeDuration(n *node, pl place) (time.Duration, bool) {
	v, ok := d.duration(n, pl)
	if ok && v < 0 {
		d.at(n, pl, "must not be negative, got %v", v)
		return 0, false
	}
	return v, ok
}

// maxOutput bounds output_limit: the tail is kept in memory, per run.
const maxOutput = 64 << 20

// size reads a byte count: a whole number of bytes, or a number with B,
// KiB or MiB. KB and MB are refused rather than guessed (1000 or 1024?).
func (d *decoder) size(n *node, pl place) (int64, bool) {
	s, ok := scalar(n)
	if !ok {
		d.wrongType(n, pl, "a size such as 64KiB")
		return 0, false
	}
	num, unit := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, unit = strings.TrimRight(rest, " "), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		d.at(n, pl, "%s is not a size (bytes, or with a unit: 512B, 64KiB, 1MiB)", quote(s))
		return 0, false
	}
	if v > maxOutput/unit {
		d.at(n, pl, "%s is more than the limit of 64MiB", quote(s))
		return 0, false
	}
	return v * unit, true
}

// oneOf reads one of a few words, suggesting the closest for a typo.
func (d *decoder) oneOf(n *node, pl place, words ...string) (string, bool) {
	s, ok := d.str(n, pl)
	if !ok {
		return "", false
	}
	if contains(words, s) {
		return s, true
	}
	msg := fmt.Sprintf("%s is not one of %s", quote(s), strings.Join(words, ", "))
	if sug, ok := suggest(strings.ToLower(s), words); ok {
		msg += fmt.Sprintf("; did you mean `%s`?", sug)
	}
	d.at(n, pl, "%s", msg)
	return "", false
}

// filePath reads a file or directory name; a relative one is taken from the
// rule file's directory, not from wherever the command was started.
func (d *decoder) filePath(n *node, pl place) (string, bool) {
	s, ok := d.str(n, pl)
	if !ok {
		return "", false
	}
	if s == "" {
		d.at(n, pl, "must not be empty")
		return "", false
	}
	if strings.ContainsRune(s, 0) {
		d.at(n, pl, "must not hold a NUL byte")
		return "", false
	}
	return d.resolve(s), true
}
