package status

// The types below are the wire schema, ngxtasks.status/v1, that doc.go
// describes. They are what the handler encodes and what it decodes from
// its peers, so they hold text, numbers and flags only: times are RFC 3339
// strings in UTC to the microsecond (fixed width, so that they sort as
// text), durations are seconds as floats, and enumerations are the names
// the core package prints ("preemption", "timed out", "claim error").

// Schema names this version of the documents. A change that a reader of
// v1 could misread gets a new name; fields may be added within v1.
const Schema = "ngxtasks.status/v1"

// Status is the document served as status.json: every worker in the view
// and one row per (rule, worker), sorted by identifier, then worker.
type Status struct {
	Schema    string   `json:"schema"`
	Generated string   `json:"generated"`
	Workers   []Worker `json:"workers"`
	Peers     []Peer   `json:"peers"`
	Rules     []Rule   `json:"rules"`
}

// Worker is one Manager: where the view learnt of it and its Health.
type Worker struct {
	Worker string `json:"worker"`
	// Source is "local" for a Manager of the serving process, or the
	// address of the peer that reported it.
	Source string `json:"source"`
	Rules  int    `json:"rules"`
	// StoreDown is set from a claim that failed or came late until one is
	// answered in time; StoreSkipped counts the Preemption slots skipped
	// since StoreDownSince.
	StoreDown      bool   `json:"store_down"`
	StoreDownSince string `json:"store_down_since,omitzero"`
	StoreSkipped   int64  `json:"store_skipped"`
	StoreError     string `json:"store_error,omitzero"` // the last failure, kept once the store is back
	// ClockOffset is how far the store's clock was ahead of the worker's
	// (seconds) at ClockMeasured; absent ClockMeasured, never measured.
	ClockOffset   float64 `json:"clock_offset"`
	ClockMeasured string  `json:"clock_measured,omitzero"`
	ClockSkewed   bool    `json:"clock_skewed"`
	FirstStep     string  `json:"first_step,omitzero"` // the first drive step that found rules
}

// Peer is one address of Options.Peers and why it could not be read, if
// it could not. Its workers and rules are in the document's own lists.
type Peer struct {
	Address string `json:"address"`
	Error   string `json:"error,omitzero"`
}

// Rule is one rule in one worker: its definition, its Stats, the newest
// slot of its History and the state derived from them.
type Rule struct {
	Identifier   string  `json:"identifier"`
	Name         string  `json:"name"`
	Type         string  `json:"type"`              // "normal" or "preemption"
	Interval     float64 `json:"interval"`          // seconds; 0 for a schedule
	IntervalText string  `json:"interval_text"`     // "1m", "1h30m", "200ms"; a schedule's text
	Schedule     string  `json:"schedule,omitzero"` // as written, e.g. "0 2 * * 1-5 Europe/Berlin"
	Zone         string  `json:"zone,omitzero"`     // the schedule's time zone (IANA)
	Drive        string  `json:"drive"`             // "any", "timer", "request", "run"
	Worker       string  `json:"worker"`
	State        string  `json:"state"` // see doc.go: failing, skipping, running, ok, idle
	NextDue      string  `json:"next_due,omitzero"`
	// NextDueLocal is NextDue in the schedule's zone, with its offset.
	NextDueLocal string `json:"next_due_local,omitzero"`
	// LastSlot is the newest slot of the worker's History, null when it
	// holds none.
	LastSlot *LastSlot `json:"last_slot"`
	// LastWinner, for a Preemption rule, is the worker of this view that
	// won the newest slot any worker of this view recorded; empty when
	// none of them did (see doc.go). The same on every row of the rule.
	LastWinner string `json:"last_winner"`

	Runs      int64            `json:"runs"`
	Succeeded int64            `json:"succeeded"`
	Failed    int64            `json:"failed"`
	Panicked  int64            `json:"panicked"`
	TimedOut  int64            `json:"timed_out"`
	Errors    int64            `json:"errors"`
	Skips     int64            `json:"skips"`
	SkipsBy   map[string]int64 `json:"skips_by"`
	Won       int64            `json:"won"`
	Lost      int64            `json:"lost"`
	CaughtUp  int64            `json:"caught_up"` // slots CatchUp ran (skips_by.down: those it reported missed)
	Retries   int64            `json:"retries"`   // runs that were a failed run's retry (counted in runs too)

	LastStart     string `json:"last_start,omitzero"`
	LastSuccess   string `json:"last_success,omitzero"` // when the last successful run ended
	LastResult    string `json:"last_result,omitzero"`  // how the last run that ended ended
	LastError     string `json:"last_error,omitzero"`   // of the last run that failed
	LastSkip      string `json:"last_skip,omitzero"`    // the last skip's reason
	LastSkipError string `json:"last_skip_error,omitzero"`
	Running       bool   `json:"running"`
	// Disagreement is a claim of the rule's slots this worker found made
	// under another definition, absent when none was.
	Disagreement *Disagreement `json:"disagreement,omitempty"`
	// LatenessP50 and LatenessP99 are quantiles (nearest rank, seconds) of
	// the lateness of the runs in the History; null when it holds none.
	LatenessP50 *float64 `json:"lateness_p50"`
	LatenessP99 *float64 `json:"lateness_p99"`
	// Paused is the rule's pause as this worker last read it (within a
	// second of the change), absent when it is not paused.
	Paused *Paused `json:"paused,omitzero"`
}

// Paused is a rule's pause (ngxtasks.Manager.Pause): who paused it, until
// when (absent: until resumed) and why.
type Paused struct {
	Origin string `json:"origin"`
	Until  string `json:"until,omitzero"`
	Note   string `json:"note,omitzero"`
}

// LastSlot is the newest record of a rule's History in a worker.
type LastSlot struct {
	N       int64  `json:"n"`
	Start   string `json:"start"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitzero"` // of a skip
	Won     bool   `json:"won"`             // this worker claimed the slot
}

// History is the document served as history.json: one rule's recent
// slots in every worker of the view that has the rule.
type History struct {
	Schema    string          `json:"schema"`
	Generated string          `json:"generated"`
	Rule      string          `json:"rule"`
	Workers   []WorkerHistory `json:"workers"`
	Peers     []Peer          `json:"peers"`
}

// WorkerHistory is a rule's History in one worker, newest slot first.
type WorkerHistory struct {
	Worker   string       `json:"worker"`
	Source   string       `json:"source"`
	Type     string       `json:"type"`
	Interval float64      `json:"interval"`
	Slots    []SlotRecord `json:"slots"`
	// NewestLost is, for a Preemption rule, what Manager.Explain says of
	// the newest slot this worker lost: who holds its claim, if the
	// dictionary still has it.
	NewestLost *Explanation `json:"newest_lost,omitzero"`
}

// SlotRecord is one slot as a worker's History keeps it.
type SlotRecord struct {
	N       int64   `json:"n"`
	Start   string  `json:"start"`
	End     string  `json:"end"`
	Outcome string  `json:"outcome"`
	Reason  string  `json:"reason,omitzero"` // of a skip
	Missed  int64   `json:"missed,omitzero"` // for reason "behind": the slots missed from this one
	Won     bool    `json:"won"`
	Claim   float64 `json:"claim"` // the claim's round trip, seconds
	// RunStart is when the run began, absent if it did not; Lateness is
	// RunStart minus Start.
	RunStart string  `json:"run_start,omitzero"`
	Lateness float64 `json:"lateness"`
	Duration float64 `json:"duration"`       // of a run that ended
	Tries    int     `json:"tries,omitzero"` // of a run: 1, and one more for each retry
	Err      string  `json:"err,omitzero"`
	// Winner, for a lost slot, is the worker that won it when the view
	// knows: another worker of the view recorded it won, or the
	// dictionary said so (NewestLost).
	Winner string `json:"winner,omitzero"`
}

// Explanation is Manager.Explain's answer for one slot.
type Explanation struct {
	N           int64  `json:"n"`
	Start       string `json:"start"`
	Winner      string `json:"winner,omitzero"`
	WinnerKnown bool   `json:"winner_known"`
	StoreError  string `json:"store_error,omitzero"`
	Why         string `json:"why"`
}

// Error is the body of every answer that is not a document: an unknown
// rule (404), a bad request (400), a method other than GET or HEAD (405).
type Error struct {
	Schema string `json:"schema"`
	Error  string `json:"error"`
	Peers  []Peer `json:"peers,omitempty"`
}

// Disagreement is another worker's claim of a rule's slot made under
// another definition, the two named by tags.
type Disagreement struct {
	Worker string `json:"worker"`
	Ours   string `json:"ours"`
	Theirs string `json:"theirs"`
	At     string `json:"at"`
}
