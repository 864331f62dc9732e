package action

import (
	"strconv"
	"time"
)

// Firing is what the action's program learns about the run.
type Firing struct {
	Rule      string    // rule id
	Slot      int64     // slot number
	Scheduled time.Time // slot start
	Worker    string
	RunID     string // unique per run
	// Token is the fencing token of the run's lease (a rule with overlap:
	// skip), 0 for none: a resource the run writes to can refuse a token
	// lower than the highest it has seen.
	Token uint64
	// Retry numbers the tries of the slot's run: 0 for the first, 1 for
	// the first retry (a rule with retry:).
	Retry int

	// Started, when set, learns the process group of an exec's program
	// as soon as it runs, for a supervisor to kill should the worker die
	// with the run (see the package doc); the group is gone when Exec
	// returns.
	Started func(pgid int)
}

// Result is what a run left behind for the log and status.
type Result struct {
	ExitCode int    // exec: the exit status; -1 when killed by a signal or never started. http: 0
	Signal   string // exec: e.g. "killed"/"terminated" when ended by a signal, else ""
	Status   int    // http: the response status; 0 for exec or when no response
	Output   []byte // the tail of stdout+stderr (exec, interleaved as written) or of the response body (http), at most OutputLimit bytes
	Dropped  int64  // bytes of output not kept (before the tail)
}

// environ describes the firing to the program, as NGXTASKS_* variables.
// They go last in the program's environment, so that neither the worker's
// environment nor the rule's env: can pass a program a false identity.
func (f Firing) environ() []string {
	return []string{
		"NGXTASKS_RULE=" + f.Rule,
		"NGXTASKS_SLOT=" + strconv.FormatInt(f.Slot, 10),
		"NGXTASKS_SCHEDULED=" + f.Scheduled.UTC().Format(time.RFC3339Nano),
		"NGXTASKS_WORKER=" + f.Worker,
		"NGXTASKS_RUN_ID=" + f.RunID,
		"NGXTASKS_LEASE_TOKEN=" + strconv.FormatUint(f.Token, 10),
		"NGXTASKS_RETRY=" + strconv.Itoa(f.Retry),
	}
}
