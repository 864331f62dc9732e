package ngxtasks

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Type says where a rule runs: in every worker, or in one worker of all that
// share a dictionary.
type Type uint8

const (
	// Normal rules run in every worker, once per slot. They never touch the
	// dictionary.
	Normal Type = iota + 1
	// Preemption rules run in exactly one worker per slot across every worker
	// that shares the dictionary and namespace: the one whose claim is stored.
	Preemption
)

// String returns the name used in rule files: "normal" or "preemption".
func (t Type) String() string {
	switch t {
	case Normal:
		return "normal"
	case Preemption:
		return "preemption"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ParseType reads a type as the original wrote it ("normal", "preemption").
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "normal":
		return Normal, nil
	case "preemption":
		return Preemption, nil
	}
	return 0, fmt.Errorf("%w %q (want normal or preemption)", ErrUnknownType, clip(s))
}

// Drive names a drive mode. A rule's Drive says which mode may take its
// slots: any (the default), or only one of them.
type Drive uint8

const (
	DriveAny     Drive = iota // every mode that drives the manager
	DriveTimer                // Start's timer loop only
	DriveRequest              // Middleware only: Firing.Exchange is never nil
	DriveRun                  // Run calls only
	numDrives
)

// String returns the name used in rule files: "any", "timer", "request" or
// "run".
func (d Drive) String() string {
	switch d {
	case DriveAny:
		return "any"
	case DriveTimer:
		return "timer"
	case DriveRequest:
		return "request"
	case DriveRun:
		return "run"
	}
	return fmt.Sprintf("Drive(%d)", uint8(d))
}

// Func is a rule's callback. ctx is cancelled when the rule's timeout passes
// and when a shutdown gives up waiting.
type Func func(ctx context.Context, f Firing) error

// Filter can veto a firing. It is asked before a Preemption rule claims its
// slot, so a worker that will not run a slot never takes it from the others.
type Filter func(ctx context.Context, f Firing) bool

// A Rule is one periodic task. The manager keeps its own copy, so changing a
// Rule after Push has no effect.
type Rule struct {
	Name       string        // free text for people; defaults to Identifier in logs
	Identifier string        // unique within a manager; names the rule in the dictionary
	Interval   time.Duration // length of a slot; sub-second works
	// Schedule, instead of Interval, places the slots on the calendar:
	// package calendar makes one from a cron expression in a time zone.
	// Interval, Offset and Spread are then zero.
	Schedule Schedule
	Callback Func          // what to run
	Filter   Filter        // optional veto, asked before a claim
	Timeout  time.Duration // optional; cancels the callback's context after this long

	// Offset shifts the slot boundaries: slots begin at base + Offset + k·Interval.
	// It must be in [0, Interval).
	Offset time.Duration

	Type Type // Normal or Preemption; there is no default

	// Spread adds an offset derived from Identifier, the same in every worker,
	// so that many rules with one interval do not all fall due at once.
	Spread bool

	// Background makes a request-driven run happen on its own goroutine, so
	// the request does not wait; such a run cannot touch the response.
	Background bool

	// Drive restricts the rule to one drive mode; the zero value lets every
	// mode take its slots. A manager driven by its timer and by requests
	// alike gives a rule that rewrites responses DriveRequest, or the
	// timer would take its slots with no request to rewrite. Slots that
	// pass while that mode does not drive are not run.
	Drive Drive

	// Overlap says what a Preemption rule's slot does while a run of the
	// rule goes on elsewhere in the fleet; see Overlap. Normal rules leave
	// it zero: their runs overlap only within a worker, which never starts
	// a rule's run while its last one goes on there.
	Overlap Overlap

	// Reruns, for a rule whose runs hold a lease (Overlap), runs a slot
	// again when its run died holding the lease (its worker killed, cut
	// off): at most this many times for a slot; zero keeps P3, a slot
	// whose winner dies is lost. See rerun.go. The dictionary must be a
	// Setter.
	Reruns uint8

	// CatchUp, when not zero, runs a slot no worker ran while the fleet was
	// down (or its dictionary out of reach) if it began within this window
	// before the worker's first step: the latest such slot only, once
	// across the fleet for a Preemption rule, once per worker name for a
	// Normal one. Older missed slots are counted and reported (SkipDown),
	// never run one by one. The rule's last run is kept in the dictionary
	// for this, which must be a Setter; a rule with no last run there is
	// new, and its slot in progress is not run for it.
	CatchUp time.Duration

	// MaxRunning, when not zero, lets the rule start only while fewer than
	// this many callbacks of its manager run, instead of the Manager's
	// MaxRunning: more, for a rule that must get through a busy worker;
	// fewer, for one that should yield. Negative is refused.
	MaxRunning int

	// Retry, when set, tries a failed run again within its slot; see
	// Retry. Rules may share one.
	Retry *Retry

	// Version names this definition of the rule for Replace, which keeps a
	// rule's state (its callback, history and counters included) when the
	// rule replacing it has the same Version and settings. Empty means no
	// definition is known the same: Replace swaps the rule in. The manager
	// reads it for nothing else; a rule file's fingerprint is a good one.
	Version string
}

// Phase is the rule's effective offset within its interval: Offset plus, when
// Spread is set, a hash of Identifier. Every worker computes the same phase.
func (r *Rule) Phase() time.Duration {
	if !r.Spread || r.Interval <= 0 {
		return r.Offset
	}
	return (r.Offset + time.Duration(fnv1a(r.Identifier)%uint64(r.Interval))) % r.Interval
}

// label is how logs and errors name the rule.
func (r *Rule) label() string {
	if r.Identifier != "" {
		return r.Identifier
	}
	if r.Name != "" {
		return r.Name
	}
	return "(unnamed)"
}

// Validate reports the first problem with r as a *RuleError.
func (r *Rule) Validate() error {
	bad := func(field, problem string) error {
		return &RuleError{Rule: r.label(), Field: field, Problem: problem}
	}
	switch {
	case strings.TrimSpace(r.Identifier) == "":
		return bad("Identifier", "must not be empty")
	case len(r.Identifier) > maxIdentifierLen:
		return bad("Identifier", fmt.Sprintf("is %d bytes, more than %d", len(r.Identifier), maxIdentifierLen))
	case !utf8.ValidString(r.Identifier):
		return bad("Identifier", "is not valid UTF-8 (PostgreSQL, for one, cannot store it)")
	case strings.IndexFunc(r.Identifier, unicode.IsControl) >= 0:
		return bad("Identifier", fmt.Sprintf("holds a control character (%q): a newline or NUL cannot be stored by every dictionary, nor shown in one log line", clip(r.Identifier)))
	case r.Schedule != nil && r.Interval != 0:
		return bad("Interval", fmt.Sprintf("must be 0 with a Schedule, got %v", r.Interval))
	case r.Schedule != nil && r.Offset != 0:
		return bad("Offset", "is for Interval rules; a Schedule places its own slots")
	case r.Schedule != nil && r.Spread:
		return bad("Spread", "is for Interval rules; a Schedule places its own slots")
	case r.Schedule == nil && r.Interval <= 0:
		return bad("Interval", fmt.Sprintf("must be > 0, got %v (or set a Schedule)", r.Interval))
	case r.Type != Normal && r.Type != Preemption:
		return bad("Type", fmt.Sprintf("must be Normal or Preemption, got %v", r.Type))
	case r.Callback == nil:
		return bad("Callback", "must not be nil")
	case r.Timeout < 0:
		return bad("Timeout", fmt.Sprintf("must be >= 0, got %v", r.Timeout))
	case r.Schedule == nil && (r.Offset < 0 || r.Offset >= r.Interval):
		return bad("Offset", fmt.Sprintf("must be in [0, Interval=%v), got %v", r.Interval, r.Offset))
	case r.CatchUp < 0:
		return bad("CatchUp", fmt.Sprintf("must be >= 0, got %v", r.CatchUp))
	case r.MaxRunning < 0:
		return bad("MaxRunning", fmt.Sprintf("must be >= 0, got %d", r.MaxRunning))
	case r.Drive >= numDrives:
		return bad("Drive", fmt.Sprintf("must be DriveAny, DriveTimer, DriveRequest or DriveRun, got %v", r.Drive))
	case r.Overlap >= numOverlaps:
		return bad("Overlap", fmt.Sprintf("must be OverlapDefault, OverlapSkip, OverlapBufferOne, OverlapReplace or OverlapAllow, got %v", r.Overlap))
	case r.Overlap != OverlapDefault && r.Type != Preemption:
		return bad("Overlap", "is for Preemption rules: a Normal rule's runs overlap only within a worker, which never starts one while the last goes on")
	case r.Drive == DriveRequest && r.Background:
		return bad("Background", "cannot be set with Drive DriveRequest: a background run has no request")
	}
	if r.Retry != nil {
		if field, problem := r.Retry.problem(); field != "" {
			return bad(field, problem)
		}
	}
	if p := r.rerunsProblem(); p != "" {
		return bad("Reruns", p)
	}
	return nil
}

// maxIdentifierLen keeps claim keys well inside every backend's key limit.
const maxIdentifierLen = 256

// Firing is what a callback learns about the run it is in.
type Firing struct {
	Rule   *Rule  // the manager's copy; read only
	Slot   Slot   // the slot being run
	Worker string // the identity of the worker running it
	// Exchange is the HTTP request that drives this run and its response; nil
	// for timer-driven runs, Run calls and Background rules. A rule whose
	// Drive is DriveRequest always has one.
	Exchange *Exchange
	// Token is the fencing token of the run's lease (Rule.Overlap), 0 when
	// the rule holds none. Tokens of a rule strictly increase from run to
	// run across the fleet: a resource that keeps the highest it has seen
	// and refuses writes under a lower one cannot be written by a run whose
	// lease has passed on, however late it wakes.
	Token uint64
	// Retry numbers the tries of the slot's run (Rule.Retry): 0 for the
	// first, 1 for the first retry, and so on.
	Retry int
}
