// Package rulefile loads the rule file of the ngxtasks command: the
// master's settings and the rules its workers drive, from YAML, or from an
// ngx_tasks Lua file when the name ends in .lua (Kind; lua.go): its rules
// only, every setting its default, each rule's Lua set instead of Exec or
// HTTP, every mistake an *Error with file and line (no column).
//
// Load reads a file (and the env files it names); Parse does the same from
// bytes and an Env, touching nothing else, for tests and fuzzing. Both
// report every mistake at once, as Errors, one *Error per mistake with its
// file, line and column:
//
//	rules.yaml:12:15: rules[1] (ding): interval: "2x" is not a duration (Go syntax: 300ms, 2s, 1m30s)
//	rules.yaml:14:5: rules[1] (ding): unknown field `intervall`, did you mean `interval`?
//
// The path after the position is 0-based, as in yq and jq (`yq
// '.rules[1]'` shows that rule), followed by the rule's id when it has one.
// errors.As(err, &list) with a rulefile.Errors gets them one by one. A
// syntax error stops the YAML parser, so a file that is not YAML gets
// that one error. Load returns a plain error when the file cannot be
// read: when it is not a regular file (a directory, a FIFO, a device or a
// socket, also behind a symbolic link), or is larger than 8 MiB. Env
// files are held to the same rule.
//
// # The format
//
// Every top-level key is optional except rules:
//
//	name: web-1                               # the instance: workers are web-1-w0, web-1-w1, …
//	dict: sqlite:///var/lib/ngxtasks/dict.db  # dictionary URL, as ngxtasks.OpenDict takes
//	workers: 4                                # worker processes
//	max_running: 32                           # runs at once in one worker
//	listen: 127.0.0.1:9090                    # status and metrics listener, or off
//	state_dir: /var/lib/ngxtasks
//	namespace: ngxtasks                       # prefix of the claim keys in the dictionary
//	token_env: NGXTASKS_TOKEN                 # variable holding the listener's bearer token
//	log: {format: text, level: info}
//	env_file: ./secrets.env                   # variables for ${VAR}
//	store_clock: false                        # slots follow the dictionary server's clock
//	skew_tolerance: 5s                        # how far apart worker clocks may be
//	metrics: {rules: ["billing-*", sync]}     # rules with their own metric series, or all
//	rules:
//	  - id: ding                              # required, unique in the file
//	    name: says ding
//	    interval: 2s                          # required
//	    type: normal                          # required: normal or preemption
//	    timeout: 1s
//	    offset: 500ms
//	    spread: true
//	    max_running: 64                       # may start while its worker runs up to 63 others
//	    exec:
//	      argv: [echo, DING]
//	      env: {GREETING: hello}
//	      env_file: ./ding.env
//	      dir: /tmp
//	      output_limit: 64KiB
//	      grace: 5s
//	  - id: hook
//	    interval: 1m
//	    type: preemption
//	    http:
//	      method: POST
//	      url: https://example.com/hook?key=${HOOK_KEY}
//	      headers: {Authorization: "Bearer ${API_TOKEN}"}
//	      body: '{"ping":true}'
//	      timeout: 5s
//	      expect: [200, 204]
//	      output_limit: 16KiB
//
// Top-level keys:
//
//   - dict: the dictionary URL (sqlite://, redis://, postgres://, etcd://,
//     mem://, as registered with ngxtasks.Register). ${VAR} is expanded in
//     it, so a password need not be written in the file; messages show it
//     as ngxtasks.RedactURL does. Default: sqlite://<state_dir>/dict.db.
//   - namespace: prefixes every claim key in the dictionary. Two rule files
//     sharing a dictionary share the slots of rules with the same id unless
//     their namespaces differ. Printable ASCII without spaces, at most 64
//     bytes. Default: ngxtasks.
//   - name: the instance's name; workers are named <name>-w<index> in
//     claims, logs and metrics. Printable ASCII without spaces, at most 64
//     bytes. Default: the host name (the command's choice).
//   - workers: worker processes, 1 to 1024. Default: the number of CPUs.
//   - max_running: how many programs and requests one worker runs at
//     once, 1 to 4096; the others wait their turn within their slot.
//     Default 32 (DefaultMaxRunning). It is also every rule's default.
//   - store_clock: true makes slots follow the dictionary server's clock
//     (ngxtasks.Manager.UseStoreClock) instead of each host's. Use it when
//     the hosts' clocks cannot be trusted to agree within the skew
//     tolerance — no NTP, or virtual machines that drift. Default false.
//   - skew_tolerance: how far apart worker clocks may be before the
//     library reports them skewed (ngxtasks.Manager.SkewTolerance); more
//     than 0, at most 1h. Raise it for hosts known to drift, at the cost of
//     claims that live longer. Default: the library's, 5s.
//   - metrics: which rules get their own metric series. rules: all, or a
//     list of path.Match patterns on rule ids (rules: ["billing-*", sync]),
//     each checked at load. Default: none; the metrics then hold only
//     aggregates by type and worker, which stay small whatever the rule
//     count. metrics: takes no other key.
//   - listen: host:port of the status and metrics listener, or off.
//     Default 127.0.0.1:9090: loopback, so that a default install exposes
//     nothing. Only the word off turns it off; an empty value is an error,
//     being more often a mistake than a wish. The command requires a token
//     (token_env) when the host is not a loopback address.
//   - state_dir: where the default dictionary and other state live.
//     Default: $STATE_DIRECTORY when set (systemd's StateDirectory=, its
//     first entry), else the rule file's directory, so that a first run
//     needs no setup.
//   - token_env: the name of the environment variable holding the
//     listener's bearer token (the file names it, never holds it).
//     Default NGXTASKS_TOKEN.
//   - log: format text (default) or json; level debug, info (default),
//     warn or error.
//   - env_file: an env file (see below) for ${VAR} in the whole file. Its
//     variables are not passed to programs.
//   - rules: the list of rules; required unless lua: is given, but may be
//     empty (rules: []), which runs nothing.
//   - lua: an ngx_tasks Lua rule file (a name ending in .lua; relative to
//     this file's directory) whose rules run beside those of rules:, under
//     this file's settings (namespace, max_running, log…), as a .lua file
//     given to the command alone does under the defaults. Its ids must
//     differ from those of rules:. The Lua file and the .lua files under
//     its folder (its modules) are read with the file, and a reload
//     applies a change to them as to the file itself.
//
// Rule keys:
//
//   - id: the rule's ngxtasks Identifier, required. It follows
//     ngxtasks.Rule.Validate — not empty, at most 256 bytes of UTF-8, no
//     control characters — and is unique in the file (a duplicate is
//     reported with the position of the first).
//   - name: free text.
//   - interval: required unless schedule: is given; Go duration syntax
//     (300ms, 2s, 1m30s), at least 100ms (MinInterval): each slot starts a
//     program or a request in every worker, and logs it. The library takes
//     any positive interval; the command does not. A bare number is
//     refused: 5 could mean seconds or milliseconds.
//   - schedule: instead of interval, a cron expression (package
//     calendar): 5 fields, 6 with seconds first, or @hourly, @daily,
//     @weekly, @monthly, @yearly. Quote it: YAML reads `*` and `@`.
//     Day-of-month and day-of-week, both restricted, match either.
//   - zone: the schedule's IANA time zone (Europe/Berlin); default UTC.
//     The command carries the zone database, so every zone is known.
//   - gap: run (default) or skip: a fixed time the clock skips (spring
//     forward) runs at the change, or not that day.
//   - repeat: first (default), last or both: which pass of a repeated hour
//     (fall back) runs a fixed time. An expression with * or a step in its
//     hour field keeps its real cadence through both passes.
//   - jitter: ≥ 0; moves each start of a schedule later by up to this
//     much, by a hash of the id and the slot: the same in every worker,
//     never past the next occurrence.
//   - catch_up: ≥ 0; runs the slot in progress at a worker's start if no
//     worker ran it while the fleet was down and it began within this
//     window; the slots before it are reported missed (ngxtasks.Rule's
//     CatchUp).
//   - type: required; normal (every worker runs each slot) or preemption
//     (one worker of all that share the dictionary does).
//   - overlap: preemption rules only; skip, buffer_one, replace or allow
//     (default, for now). skip: the run holds a lease on the rule, renewed
//     while it goes on, and a slot that comes meanwhile is skipped in every
//     worker (running elsewhere, naming the holder); the run learns its
//     fencing token (NGXTASKS_LEASE_TOKEN, the Ngxtasks-Lease-Token
//     header).
//     buffer_one: as skip, but such a slot is kept pending by one worker
//     and starts when the lease is let go, if that is within the slot.
//     replace: such a slot takes the lease from the run holding it and
//     starts at once, under a higher token; the old run is cancelled at
//     its next renewal. allow: a slot starts whatever runs elsewhere.
//   - reruns: 0 to 255, with an overlap that leases; a slot whose run
//     died holding the lease (its worker killed) runs again on another
//     worker, at most this many times. Default 0: such a slot is lost.
//   - retry: {attempts: 1 to 100, backoff: d, max_backoff: d}; tries a
//     failed run (an exit status other than 0, a refused request, a
//     timeout) again within its slot, after a wait drawn at random below
//     a bound that starts at backoff (default 1s) and doubles up to
//     max_backoff (default: no cap but the slot's end). A retry never runs
//     into the next slot: it is cut at the slot's end. Each try is logged
//     and counted; NGXTASKS_RETRY tells the program which try it is.
//   - timeout: ≥ 0; cancels a run after this long (each try). Default 0: none.
//   - offset: in [0, interval); shifts the slot boundaries. Interval
//     rules only.
//   - spread: true or false (yes/no are text in YAML 1.2 and refused). It
//     adds a phase hashed from the id to the offset; both may be set.
//     Interval rules only.
//   - max_running: the rule starts only while fewer than this many runs
//     go on in its worker, 1 to 4096. Default: the file's max_running. It
//     may be higher than the file's, to let an important rule through a
//     busy worker.
//   - exec or http: exactly one; what the rule does.
//
// There is no drive key: the command's workers drive rules with their
// timers, and Rule.Core leaves ngxtasks' Drive at DriveAny.
//
// A key written with no value (timeout:) counts as left out. Keys are
// lower case; every key not listed here is an error, with a suggestion
// when it is close to a known one or belongs to another section. Keys may
// not repeat. A field that takes text takes a number or boolean as
// written (id: 007 is "007"). Anchors, aliases, merge keys (<<) and tags
// are refused: a rule file spells every rule out where it is read. A file
// is one YAML document, nested at most 64 levels deep (it needs six). It
// is UTF-8: a leading byte order mark is skipped (positions are counted
// without it), and a byte that is not UTF-8 is an error at its place,
// rather than a character silently replaced in an id.
//
// # exec
//
// exec: runs a program, never through a shell unless asked:
//
//   - argv: [prog, arg…] runs prog directly, with these arguments. A
//     bare name (job) is looked up in PATH when the rule runs; a relative
//     path (./job.sh, bin/job) is taken from the rule file's directory at
//     load time, as dir and env_file are. argv is passed exactly as
//     written — not expanded, since arguments show in ps — and ${…} in it
//     is refused as a likely mistake: put the value in env: instead.
//   - command: "…" with shell: true runs /bin/sh -c "…". This is the only
//     way to reach a shell: command without shell: true is an error, and so
//     is argv with shell: true. The shell expands $VAR in the command itself,
//     at run time, from the program's environment (env: below).
//   - env: {NAME: value} adds variables to the worker's environment for
//     the program. Values may hold ${VAR}.
//   - env_file: an env file whose variables are added too (env: wins over
//     it), and which ${VAR} in env: may use.
//   - dir: working directory, checked when the rule runs. Default: the
//     worker's.
//   - output_limit: how much of the end of stdout and stderr is kept per
//     run. Default 64KiB.
//   - grace: time between SIGTERM and SIGKILL when a run times out or the
//     worker stops. Default 5s; 0 kills at once.
//
// # http
//
// http: sends one request:
//
//   - method: default GET; any token, written in upper case.
//   - url: required, http:// or https://. May hold ${VAR}.
//   - headers: {Name: value}; values may hold ${VAR} and must stay on one
//     line once expanded.
//   - body: the request body; may hold ${VAR}.
//   - timeout: for the request, > 0. Default: the rule's timeout, else 30s.
//   - expect: the statuses that count as success, a list or one number.
//     Default: any 2xx.
//   - output_limit: how much of the end of the response body is kept.
//     Default 64KiB.
//
// Sizes are a number of bytes or a number with B, KiB or MiB (512B, 64KiB,
// 1MiB), at most 64MiB; KB and MB are refused rather than guessed.
// Relative paths (env_file, dir, state_dir, and an argv[0] holding a
// slash) are taken from the rule file's directory, not from where the
// command was started. Durations are at most 2562047h47m16.854775807s
// (about 292 years); a longer one is out of range.
//
// # Secrets and ${VAR}
//
// ${NAME} is expanded in dict, in exec env: values, and in http url,
// header values and body — the places a secret belongs — at load time.
// A name is letters, digits and _, not starting with a digit. $$ is one
// literal dollar. $NAME without braces is an error (it is almost always a
// reference that lost its braces); any other $ is itself. A name is looked
// up in the process environment first (so VAR=x ngxtasks … overrides a
// file), then in the rule's exec env_file, then in the top-level env_file;
// one found nowhere is an error naming it. There are no defaults
// (${VAR:-x}) and no nesting.
//
// Each such value is kept as a Text, holding both the template as written
// and the expanded value. Everything that prints a Text — String, every
// fmt verb, slog — shows the template, and no error message holds an
// expanded value or a value read from an env file: a URL that is invalid
// once expanded is reported by its template. Rule.Fingerprint covers the
// expanded values, so that a reload restarts a rule whose secret changed.
//
// # Env files
//
// An env file holds one NAME=value a line:
//
//	# a comment line
//	API_TOKEN=abc#123
//	export HOOK_KEY=k
//	QUOTED="tab\there"
//	RAW='no $ or \ magic'
//
// API_TOKEN is abc#123: an unquoted value is taken literally to the end
// of the line, # included, because secrets contain #. "export " is
// allowed and ignored, so that a shell can source the file too. Double
// quotes know the escapes \\ \" \n \r and \t; single quotes keep everything
// as written.
//
// Blank lines and lines starting with # are skipped. Spaces around the
// name, the = and an unquoted value are trimmed. After a closing quote
// only spaces and a # comment may follow. A value is one line. Values are
// not expanded (no ${VAR} inside an env file). A name set twice is an
// error. Mistakes are reported at the env file's own line, without the
// value.
package rulefile
