package luarules

import (
	"context"
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
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

// Errors lists the *Error values in err, as Load joins them, in order:
// for a command that prints every mistake of a file, one a line.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *Error:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			var le *Error
			if errors.As(err, &le) {
				out = append(out, le)
			}
		}
	}
	walk(err)
	return out
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

// luaError turns the error of a Lua call into an *Error. Lua's message
// begins with the file and line where it was raised, which is kept apart.
func luaError(file string, err error, ctx context.Context) *Error {
	msg := err.Error()
	if ae, ok := err.(*lua.ApiError); ok {
		msg = ae.Object.String()
	}
	out := &Error{File: file, Msg: msg}
	if f, l, rest, ok := splitWhere(msg); ok {
		out.File, out.Line, out.Msg = f, l, rest
	}
	if ctx != nil && ctx.Err() != nil {
		// The manager names why it ended the run (ngxtasks.ErrTimeout)
		// as the context's cause: both match.
		out.Err = ctx.Err()
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			out.Err = fmt.Errorf("%w: %w", cause, ctx.Err())
		}
		out.Msg = "stopped: " + out.Err.Error()
	}
	return out
}

// splitWhere splits "file:line: message".
func splitWhere(msg string) (string, int, string, bool) {
	i := strings.Index(msg, ": ")
	if i < 0 {
		return "", 0, "", false
	}
	head := msg[:i]
	j := strings.LastIndexByte(head, ':')
	if j < 0 {
		return "", 0, "", false
	}
	var line int
	if _, err := fmt.Sscanf(head[j+1:], "%d", &line); err != nil || line <= 0 {
		return "", 0, "", false
	}
	return head[:j], line, msg[i+2:], true
}
