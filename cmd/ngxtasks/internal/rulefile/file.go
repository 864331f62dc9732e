package rulefile

import (
	"log/slog"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/calendar"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// File is a loaded rule file: the master's settings and its rules, with
// every default applied and every path made relative to the rule file's
// directory resolved.
type File struct {
	Path string // as given to Load or Parse
	Dict Text   // dictionary URL for ngxtasks.OpenDict; may hold ${VAR}
	// Namespace prefixes the claim keys (ngxtasks.Manager.Namespace), so
	// that two rule files sharing a dictionary keep their slots apart.
	Namespace string
	Workers   int    // worker processes, ≥ 1
	Listen    string // host:port of the status listener; "" when turned off
	StateDir  string // where the default dictionary and other state live
	TokenEnv  string // name of the variable holding the listener's bearer token
	EnvFile   string // the top-level env_file, resolved; "" if none
	Log       Log
	// Name is the instance's name: workers are named <Name>-w<index> in
	// claims, logs and metrics. "": the command uses the host name.
	Name string
	// MaxRunning is how many programs and requests one worker runs at
	// once, and the default of every rule's MaxRunning.
	MaxRunning int
	// StoreClock makes slots follow the dictionary server's clock
	// (ngxtasks.Manager.UseStoreClock), for hosts whose clocks cannot be
	// trusted to agree within the skew tolerance.
	StoreClock bool
	// SkewTolerance is how far apart worker clocks may be
	// (ngxtasks.Manager.SkewTolerance); 0: the library's default.
	SkewTolerance time.Duration
	Metrics       MetricsRules
	Rules         []Rule
	// Started is Env.Started as a Lua file was parsed with (its
	// global_start_time); zero for YAML.
	Started time.Time
	// Lua is the loaded Lua file when the rule file is one (Kind "lua"):
	// what each worker makes its Lua state from. Nil for YAML.
	Lua *luarules.File
	// LuaDigest identifies the contents of the Lua file and its modules
	// (see Lua.Digest): a worker keeps its Lua state across a reload
	// whose digest is the same.
	LuaDigest string

	src *source // for Reparse
}

// MetricsRules says which rules get per-rule metric series; the others
// are counted only in the aggregates by type and worker.
type MetricsRules struct {
	All      bool     // every rule
	Patterns []string // path.Match patterns on rule ids, checked at load
}

// Log says how the command logs.
type Log struct {
	Format string     // "text" or "json"
	Level  slog.Level // one of slog's four named levels
}

// Rule is one rule of the file. Exactly one of Exec, HTTP and Lua is set.
type Rule struct {
	ID       string
	Name     string
	Interval time.Duration
	// Schedule, instead of Interval: a calendar (schedule:, with zone:,
	// gap: and repeat:), its starts moved by up to Jitter.
	Schedule *calendar.Schedule
	Jitter   time.Duration
	CatchUp  time.Duration // catch_up:, see ngxtasks.Rule.CatchUp
	Type     ngxtasks.Type
	// Overlap: skip makes a preemption rule's run hold a lease, so that no
	// slot of it starts anywhere while a run goes on (ngxtasks.Rule.Overlap).
	Overlap ngxtasks.Overlap
	// Reruns: a slot whose run died holding the lease runs again, at most
	// this many times (reruns:, ngxtasks.Rule.Reruns).
	Reruns uint8
	// Retry tries a failed run again within its slot (retry:); nil for
	// none. Rules written alike may share one: the library only reads it.
	Retry   *ngxtasks.Retry
	Timeout time.Duration // 0: none
	Offset  time.Duration
	Spread  bool
	// MaxRunning: the rule starts only while fewer than this many runs go
	// on in its worker. Never 0: the file's MaxRunning when left out.
	MaxRunning int
	Exec       *Exec
	HTTP       *HTTP
	Lua        *Lua // a rule of a Lua file
	Pos        Pos  // where the rule starts in the file (its first key)

	// Fingerprint is a hash of everything the rule does, expanded secrets
	// included, so that a reload can keep a rule whose definition did not
	// change and restart one whose did — also when only a secret changed.
	// Two rules with equal fingerprints behave alike. It is derived from
	// secrets: compare it, do not publish it (a weak secret could be
	// guessed against it).
	Fingerprint string
}

// Core is the ngxtasks.Rule the file describes, without a Callback: the
// command adds the one that runs Exec or HTTP. Timeout is the rule's;
// exec and http apply their own limits within it.
func (r *Rule) Core() ngxtasks.Rule {
	c := ngxtasks.Rule{
		Identifier: r.ID,
		Name:       r.Name,
		Interval:   r.Interval,
		Type:       r.Type,
		Timeout:    r.Timeout,
		Offset:     r.Offset,
		Spread:     r.Spread,
		CatchUp:    r.CatchUp,
		Overlap:    r.Overlap,
		Reruns:     r.Reruns,
		Retry:      r.Retry,
	}
	if r.Schedule != nil {
		c.Schedule = ngxtasks.Jittered(r.Schedule, r.Jitter, r.ID)
	}
	return c
}

// Exec runs a program. Argv is run directly (argv[0] looked up in PATH
// when the rule runs); Command is run by /bin/sh -c only when Shell is
// true, and the loader accepts no other combination, so a rule file never
// reaches a shell by accident.
type Exec struct {
	Argv    []string // nil when Shell
	Command string   // "" unless Shell
	Shell   bool
	// Env is what the program gets on top of the worker's environment:
	// the variables of EnvFile, then env: (which wins), sorted by name.
	Env         []Var
	EnvFile     string // resolved path; "" if none
	Dir         string // working directory, resolved; "" for the worker's
	OutputLimit int64  // bytes of the tail of stdout+stderr kept per run
	Grace       time.Duration
}

// Var is one environment variable for a program. A variable taken from an
// env file has the template "(from <file>)": its value was never written
// in the rule file.
type Var struct {
	Name  string
	Value Text
}

// Environ is Env as os/exec wants it, NAME=value with values expanded,
// to append to the worker's environment.
func (e *Exec) Environ() []string {
	out := make([]string, len(e.Env))
	for i, v := range e.Env {
		out[i] = v.Name + "=" + v.Value.Expanded()
	}
	return out
}

// HTTP sends one request.
type HTTP struct {
	Method      string // upper case
	URL         Text
	Headers     []Header // in file order
	Body        Text
	Timeout     time.Duration
	Expect      []int // acceptable statuses; nil: any 2xx
	OutputLimit int64 // bytes of the response body's tail kept per run
}

// Header is one request header.
type Header struct {
	Name  string
	Value Text
}

// Accepts reports whether a response status counts as success.
func (h *HTTP) Accepts(status int) bool {
	if h.Expect == nil {
		return status >= 200 && status <= 299
	}
	for _, s := range h.Expect {
		if s == status {
			return true
		}
	}
	return false
}
