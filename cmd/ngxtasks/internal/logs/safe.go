package logs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Redactor replaces secret values with [redacted] in text about to leave
// the process. A rule file's secrets (${VAR} values) are kept out of every
// message ngxtasks writes itself; a Redactor catches them where a library
// wrote the text — a DNS error naming a host that came from ${HOST}, a
// driver's log line, a program's output — whatever wrote it.
//
// Values shorter than MinSecret bytes are not redacted: replacing every
// "80" or "yes" in the logs would make them unreadable, and a value that
// short is no secret. The zero Redactor redacts nothing until Add; a nil
// one redacts nothing. It is safe for concurrent use.
type Redactor struct {
	mu      sync.Mutex
	secrets []string // added so far, longest first
	r       atomic.Pointer[strings.Replacer]
}

// MinSecret is the length from which a value is redacted.
const MinSecret = 4

// NewRedactor redacts secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := new(Redactor)
	r.Add(secrets...)
	return r
}

// Add adds secrets to those redacted. None is ever dropped: after a reload,
// runs of the rules it replaced may still be writing, with the old ones.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.secrets)
	for _, s := range secrets {
		if len(s) >= MinSecret {
			r.secrets = append(r.secrets, s)
		}
	}
	if len(r.secrets) == n {
		return
	}
	// The replacer tries its pairs in order at each position: the longest
	// first, so that a secret holding another is replaced whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	r.secrets = slices.Compact(r.secrets)
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, "[redacted]")
	}
	r.r.Store(strings.NewReplacer(pairs...))
}

// String returns s with its secrets replaced.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	if rep := r.r.Load(); rep != nil {
		return rep.Replace(s)
	}
	return s
}

// Error returns err, or, when its text holds a secret, an error whose
// text is err's redacted. It wraps err, so that errors.Is still tells a
// timeout from a failure; only its own text is meant to be shown.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	if s := err.Error(); r.String(s) != s {
		return &redacted{r.String(s), err}
	}
	return err
}

type redacted struct {
	text string
	err  error
}

func (e *redacted) Error() string { return e.text }
func (e *redacted) Unwrap() error { return e.err }

// Line limits: journald's default line limit is 48 KiB; a record's string
// values together get maxText, and the message maxMessage, well within it.
const (
	maxText    = 32 << 10
	maxMessage = 1 << 10
)

// Safe wraps h so that what it writes holds no secret r knows of and
// stays within a log line's limits: when a record's string values are
// longer than maxText together, the longest are cut to fit (an output's
// tail is kept, of anything else its start), saying how much was dropped.
func Safe(h slog.Handler, r *Redactor) slog.Handler { return &safe{h, r} }

type safe struct {
	slog.Handler
	r *Redactor
}

func (s *safe) Handle(ctx context.Context, rec slog.Record) error {
	attrs := make([]slog.Attr, 0, rec.NumAttrs())
	rec.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, s.clean(a))
		return true
	})
	fit(attrs, maxText)
	out := slog.NewRecord(rec.Time, rec.Level, cut(s.r.String(rec.Message), maxMessage, false), rec.PC)
	out.AddAttrs(attrs...)
	return s.Handler.Handle(ctx, out)
}

func (s *safe) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = s.clean(a)
	}
	fit(clean, maxText)
	return &safe{s.Handler.WithAttrs(clean), s.r}
}

func (s *safe) WithGroup(name string) slog.Handler {
	return &safe{s.Handler.WithGroup(name), s.r}
}

// clean turns an attribute's value into plain data without secrets:
// errors and other values are formatted first, so that their text is
// redacted too.
func (s *safe) clean(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.r.String(v.String()))
	case slog.KindAny:
		// Errors and Stringers carry text from anywhere; other values
		// (lists of rule ids, say) are the command's own data and keep
		// their shape.
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, s.r.String(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, s.r.String(x.String()))
		}
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = s.clean(ga)
		}
		return slog.Group(a.Key, clean...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// fit cuts the longest string values of attrs (not inside groups) so that
// together they take at most budget bytes.
func fit(attrs []slog.Attr, budget int) {
	total := 0
	var lens []int
	for _, a := range attrs {
		if a.Value.Kind() == slog.KindString {
			n := len(a.Value.String())
			total += n
			lens = append(lens, n)
		}
	}
	if total <= budget {
		return
	}
	// The largest cap at which the values fit: every value longer than it
	// is cut to it, the shorter ones stay whole.
	slices.Sort(lens)
	capAt, rest := 0, budget
	for i, n := range lens {
		share := rest / (len(lens) - i)
		if n > share {
			capAt = share
			break
		}
		rest -= n
	}
	for i, a := range attrs {
		if a.Value.Kind() == slog.KindString && len(a.Value.String()) > capAt {
			attrs[i] = slog.String(a.Key, cut(a.Value.String(), capAt, a.Key == "output"))
		}
	}
}

// cut shortens s to about n bytes, keeping its end (tail) or its start,
// at a UTF-8 boundary, and says how much went.
func cut(s string, n int, tail bool) string {
	if len(s) <= n {
		return s
	}
	keep := max(n-32, 0) // room for the note
	if tail {
		i := len(s) - keep
		for i < len(s) && !startsRune(s[i]) {
			i++
		}
		return fmt.Sprintf("[%d bytes dropped]…", i) + s[i:]
	}
	i := keep
	for i > 0 && !startsRune(s[i]) {
		i--
	}
	return s[:i] + fmt.Sprintf("…[%d bytes dropped]", len(s)-i)
}

func startsRune(b byte) bool { return b&0xC0 != 0x80 }
