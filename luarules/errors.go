package luarules

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by the callbacks of a Worker after Close.
var ErrClosed = errors.New("luarules: worker closed")

// An Error is one mistake in a rule file, or one failed run of a Lua
// function, placed at its file and line so that a user can go to it. Load
// returns every Error it found, joined (errors.Join): use errors.As to get
// the first, or unwrap the join for all of them.
type Error struct {
	File  string // the Lua file, as Load was given it or as require found it
	Line  int    // 0 when the line is unknown
	Rule  string // the rule's identifier, or "" when the mistake is not a rule's
	Field string // the rule table's field ("interval", "typ"…), or an ngx field ("ngx.timer"), or ""
	Msg   string
	Err   error // the cause, when there is one (a context's error for a stopped run)
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	s += ": "
	if e.Rule != "" {
		s += fmt.Sprintf("rule %q: ", e.Rule)
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Msg
}

// Unwrap returns the cause, so that errors.Is(err, context.DeadlineExceeded)
// holds for a callback stopped by its timeout.
func (e *Error) Unwrap() error { return e.Err }

// located is the message with its own file and line in front, when known.
func (e *Error) located() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.Msg
}
