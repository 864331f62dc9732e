package ngxtasks

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

var (
	// ErrInvalidRule is matched (errors.Is) by every error that refuses a rule.
	ErrInvalidRule = errors.New("ngxtasks: invalid rule")
	// ErrDuplicateRule is matched by the error that refuses a second rule with
	// an identifier already pushed. It also matches ErrInvalidRule.
	ErrDuplicateRule = errors.New("ngxtasks: duplicate rule identifier")
	// ErrInvalidConfig is matched by errors about a Manager's own fields.
	ErrInvalidConfig = errors.New("ngxtasks: invalid manager configuration")
	// ErrTimeout is recorded for a run whose Rule.Timeout passed.
	ErrTimeout = errors.New("ngxtasks: rule timeout")
	// ErrLeaseLost is recorded for a run cancelled because its lease
	// (Rule.Overlap) passed, or could have passed, to another worker: the
	// store refused its renewal, or no renewal was answered in time.
	ErrLeaseLost = errors.New("ngxtasks: lease lost")
	// ErrSlotEnded is recorded for a retry (Rule.Retry) cancelled at the
	// end of its slot.
	ErrSlotEnded = errors.New("ngxtasks: the slot ended")
	// ErrClosed is returned by a dictionary after Close, and by a Manager's
	// Start, Run and Push after Shutdown.
	ErrClosed = errors.New("ngxtasks: closed")
	// ErrStarted is returned by a second Start on the same Manager.
	ErrStarted = errors.New("ngxtasks: manager already started")
	// ErrUnknownType is matched by ParseType's error.
	ErrUnknownType = errors.New("ngxtasks: unknown rule type")
)

// A HeldError names the run that holds a rule's lease elsewhere: it is the
// Err of a slot skipped with SkipElsewhere.
type HeldError struct {
	Holder string // the worker whose run holds the lease
	Token  uint64 // its token
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("running elsewhere: %s holds the lease under token %d", clip(e.Holder), e.Token)
}

// RuleError refuses a rule, naming it and the offending field.
type RuleError struct {
	Rule    string // identifier, or name when there is none
	Field   string // Rule field, e.g. "Interval"
	Problem string
	dup     bool
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("ngxtasks: rule %q: %s %s", clip(e.Rule), e.Field, e.Problem)
}

// clip shortens what a user wrote for an error message: a value of ten
// kilobytes (an identifier read from the wrong field) must not become a
// log line of ten kilobytes.
func clip(s string) string { return clipTo(s, 64) }

// clipTo cuts s to most bytes, at a rune's start, saying how long it was.
func clipTo(s string, most int) string {
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// Is makes errors.Is(err, ErrInvalidRule) true for every RuleError, and
// errors.Is(err, ErrDuplicateRule) true for duplicates.
func (e *RuleError) Is(target error) bool {
	return target == ErrInvalidRule || (e.dup && target == ErrDuplicateRule)
}

// PanicError is what a run that panicked records: the value and the stack.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// ShutdownError lists the runs that Shutdown had to cancel because they were
// still going when its context ended.
type ShutdownError struct {
	Cancelled []string // rule identifiers
	Cause     error    // the shutdown context's error
}

func (e *ShutdownError) Error() string {
	noun := "callbacks"
	if len(e.Cancelled) == 1 {
		noun = "callback"
	}
	return fmt.Sprintf("ngxtasks: shutdown cancelled %d running %s (%s): %v",
		len(e.Cancelled), noun, strings.Join(e.Cancelled, ", "), e.Cause)
}

func (e *ShutdownError) Unwrap() error { return e.Cause }
