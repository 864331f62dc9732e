package rulefile

import (
	"fmt"
	"log/slog"
)

// Text is a value that may hold secrets: Template is what the rule file
// says ("Bearer ${API_TOKEN}"), Expanded what it says once ${VAR}
// references are replaced. Every way of printing a Text — String, the fmt
// verbs (%v, %+v, %#v, %s, %q, %x …) and slog — shows the Template, so
// logging a rule, an HTTP step or a whole File never leaks a secret; the
// expanded value is reachable only by calling Expanded, where it is used.
//
// The value sits behind an unexported pointer. Unexported, so that
// encoding/json skips it; a pointer, because fmt does not always ask a
// Text how to print itself: a struct holding one, printed with a verb that
// does not suit some other field (%s on an *Exec), is dumped field by
// field without calling any method — and a nested pointer is then printed
// as an address, not followed.
type Text struct {
	Template string // as written in the rule file
	expanded *string
}

func newText(template, expanded string) Text { return Text{Template: template, expanded: &expanded} }

// Literal is a Text without references: its template is its value.
func Literal(s string) Text { return newText(s, s) }

// Expanded is the value to use: the template with ${VAR} replaced and $$
// turned into $.
func (t Text) Expanded() string {
	if t.expanded == nil {
		return ""
	}
	return *t.expanded
}

// IsZero reports whether the Text is empty in the file and once expanded.
func (t Text) IsZero() bool { return t.Template == "" && t.Expanded() == "" }

// String returns the template, never the expanded value.
func (t Text) String() string { return t.Template }

// Format prints the template whatever the verb, so that %#v, which would
// otherwise dump the struct, cannot show the expanded value either.
func (t Text) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "rulefile.Text{Template:%q}", t.Template)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), t.Template)
}

// LogValue makes slog log the template.
func (t Text) LogValue() slog.Value { return slog.StringValue(t.Template) }
