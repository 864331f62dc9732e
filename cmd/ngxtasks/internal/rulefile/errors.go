package rulefile

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// An Error is one mistake in a rule file (or in an env file it names),
// placed so that an editor can jump to it.
//
// It never holds a value that came from ${VAR} expansion or from an env
// file: messages quote templates, names and positions only.
type Error struct {
	File   string // the rule file's path as given to Load, or an env file's
	Line   int    // 1-based; 0 when the mistake has no place (a file that cannot be read)
	Column int    // 1-based, in characters (runes), as the YAML library counts them; 0 in a Lua file
	// Path locates the value as yq and jq would: "rules[0].exec.argv[1]",
	// 0-based like them, so that it can be pasted into `yq '.rules[0]'`.
	Path    string
	Rule    string // the rule's id, when the rule has one, to find it by name
	Message string
}

// Error reads as "rules.yaml:12:5: rules[1] (ding): interval: …".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Line > 0 && e.Column > 0 {
		fmt.Fprintf(&b, ":%d", e.Column)
	}
	b.WriteString(": ")
	if where := e.where(); where != "" {
		b.WriteString(where)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// where is the path with the rule's id after its index: the index finds
// the rule in a long file, the id tells the reader which one it is.
func (e *Error) where() string {
	if e.Rule == "" || !strings.HasPrefix(e.Path, "rules[") {
		return e.Path
	}
	end := strings.IndexByte(e.Path, ']') + 1
	head, rest := e.Path[:end], strings.TrimPrefix(e.Path[end:], ".")
	head += " (" + e.Rule + ")"
	if rest == "" {
		return head
	}
	return head + ": " + rest
}

// Errors is every mistake found in a rule file, in file order. Parse and
// Load return it (as an error) rather than stopping at the first mistake,
// so that one edit fixes a file.
type Errors []*Error

// Error is one mistake a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the first *Error, and errors.Is look at each.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// collector gathers errors while a file is walked.
type collector struct {
	errs Errors
}

func (c *collector) add(e *Error) { c.errs = append(c.errs, e) }

// result sorts by file, then place, keeping the walk's order for mistakes
// at one place, and returns nil (an untyped nil error) when there are none.
func (c *collector) result(ruleFile string) error {
	if len(c.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(c.errs, func(a, b *Error) int {
		// The rule file's own errors first, then those in env files.
		if (a.File == ruleFile) != (b.File == ruleFile) {
			if a.File == ruleFile {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return c.errs
}

// clip shortens what a user wrote before it goes into a message: a value
// of ten kilobytes pasted into the wrong field must not make a ten-kilobyte
// error line.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// quote is clip, then Go quoting: what the user wrote, unambiguous.
func quote(s string) string { return strconv.Quote(clip(s)) }

// label is how an error names a rule by its id: bare when that reads
// unambiguously, quoted when the id holds spaces, quotes or control
// characters.
func label(id string) string {
	if id == "" {
		return ""
	}
	q := quote(id)
	if q == `"`+clip(id)+`"` && !strings.ContainsAny(id, " ()") {
		return clip(id)
	}
	return q
}
