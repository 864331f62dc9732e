package rulefile

import (
	"slices"
	"strings"
	"testing"
)

// A rule that is valid, for cases about the rest of the file.
const okRule = "  - {id: ok, interval: 1s, type: normal, exec: {argv: [true]}}\n"

// invalidFiles maps each file to its exact messages, in order.
var invalidFiles = []struct {
	name string
	yaml string
	want []string
}{
	{"yaml syntax", "rules:\n  - id: [a\n", []string{
		`rules.yaml:3:1: invalid YAML: did not find expected ',' or ']'`,
	}},
	{"yaml bad indent", "rules:\n  - id: a\n   interval: 1s\n", []string{
		`rules.yaml:3:4: invalid YAML: did not find expected '-' indicator`,
	}},
	{"empty file", "", []string{
		"rules.yaml:1:1: the file is empty: it needs a `rules:` list",
	}},
	{"only a comment", "# nothing\n", []string{
		"rules.yaml:1:1: the file is empty: it needs a `rules:` list",
	}},
	{"top is a list", "- id: a\n", []string{
		"rules.yaml:1:1: must be a mapping with a `rules:` list, got a list",
	}},
	{"two documents", "rules: []\n---\nrules: []\n", []string{
		`rules.yaml:3:1: a rule file is one YAML document; this is a second one (after ---)`,
	}},
	{"rules missing", "workers: 2\n", []string{
		"rules.yaml:1:1: rules: required: list the rules under it (`rules: []` for none), or name a Lua file (`lua: rules.lua`)",
	}},
	{"rules not a list", "rules: {id: a}\n", []string{
		`rules.yaml:1:9: rules: must be a list of rules (- id: …), got a mapping`,
	}},
	{"rules null", "rules:\n", []string{
		"rules.yaml:1:1: rules: required: list the rules under it (`rules: []` for none), or name a Lua file (`lua: rules.lua`)",
	}},
	{"unknown top key with suggestion", "worker: 2\nrules: []\n", []string{
		"rules.yaml:1:1: unknown field `worker`, did you mean `workers`?",
	}},
	{"rule key at top level", "interval: 2s\nrules: []\n", []string{
		"rules.yaml:1:1: unknown field `interval`: `interval` belongs to a rule, in the `rules:` list",
	}},
	{"unknown top key without suggestion", "colour: red\nrules: []\n", []string{
		"rules.yaml:1:1: unknown field `colour`",
	}},
	{"duplicate top key", "workers: 2\nworkers: 3\nrules: []\n", []string{
		"rules.yaml:2:1: duplicate field `workers` (first at line 1)",
	}},
	{"schedule and interval", "rules:\n  - {id: a, interval: 1s, schedule: '@daily', type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:13: rules[0] (a): has both interval: and schedule:; a rule has one of them`,
	}},
	{"schedule not cron", "rules:\n  - {id: a, schedule: 'every day', type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:23: rules[0] (a): schedule: 2 fields: want 5 (minute hour day-of-month month day-of-week) or 6 with seconds first`,
	}},
	{"schedule looks like a year", "rules:\n  - {id: a, schedule: '0 0 12 1 1 2027', type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:23: rules[0] (a): schedule: 6 fields are read as seconds first, and the last one, 2027, looks like a year: years are not supported`,
	}},
	{"schedule zone unknown", "rules:\n  - {id: a, schedule: '@daily', zone: Europe/Berlln, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:39: rules[0] (a): zone: "Europe/Berlln": unknown time zone (an IANA name, e.g. Europe/Berlin or UTC)`,
	}},
	{"schedule keys without one", "rules:\n  - {id: a, interval: 1s, zone: UTC, jitter: 1s, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:27: rules[0] (a): zone: is for a schedule: rule (e.g. schedule: "0 2 * * *" with zone: Europe/Berlin)`,
		`rules.yaml:2:38: rules[0] (a): jitter: is for a schedule: rule (e.g. schedule: "0 2 * * *" with zone: Europe/Berlin)`,
	}},
	{"schedule with offset", "rules:\n  - {id: a, schedule: '@daily', offset: 1s, spread: true, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:33: rules[0] (a): offset: is for interval: rules; a schedule: places its own slots`,
		`rules.yaml:2:45: rules[0] (a): spread: is for interval: rules; a schedule: places its own slots`,
	}},
	{"schedule gap word", "rules:\n  - {id: a, schedule: '@daily', gap: later, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:38: rules[0] (a): gap: "later" is not one of run, skip`,
	}},
	{"overlap unknown", "rules:\n  - {id: a, interval: 1s, overlap: never, type: preemption, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:36: rules[0] (a): overlap: "never" is not one of skip, buffer_one, replace, allow`,
	}},
	{"overlap on a normal rule", "rules:\n  - {id: a, interval: 1s, overlap: skip, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:6: rules[0] (a): ngxtasks refuses the rule: ngxtasks: rule "a": Overlap is for Preemption rules: a Normal rule's runs overlap only within a worker, which never starts one while the last goes on`,
	}},
	{"retry without attempts", "rules:\n  - {id: a, interval: 1s, retry: {backoff: 1s}, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:35: rules[0] (a): retry: needs attempts: (how many times a failed run is tried again, 1 to 100)`,
	}},
	{"retry attempts out of range", "rules:\n  - {id: a, interval: 1s, retry: {attempts: 0}, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:45: rules[0] (a): retry.attempts: must be between 1 and 100, got 0`,
	}},
	{"retry max_backoff below backoff", "rules:\n  - {id: a, interval: 1s, retry: {attempts: 2, backoff: 2s, max_backoff: 1s}, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:6: rules[0] (a): ngxtasks refuses the rule: ngxtasks: rule "a": Retry.MaxBackoff must be at least Backoff (2s), got 1s`,
	}},
	{"retry unknown key", "rules:\n  - {id: a, interval: 1s, retry: {tries: 2}, type: normal, exec: {argv: [true]}}\n", []string{
		"rules.yaml:2:35: rules[0] (a): retry: unknown field `tries`",
		`rules.yaml:2:35: rules[0] (a): retry: needs attempts: (how many times a failed run is tried again, 1 to 100)`,
	}},
	{"catch_up negative", "rules:\n  - {id: a, interval: 1s, catch_up: -1m, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:37: rules[0] (a): catch_up: must not be negative, got -1m0s`,
	}},
	{"workers zero", "workers: 0\nrules: []\n", []string{
		`rules.yaml:1:10: workers: must be between 1 and 1024, got 0`,
	}},
	{"workers text", "workers: four\nrules: []\n", []string{
		`rules.yaml:1:10: workers: must be a whole number, got "four"`,
	}},
	{"workers float", "workers: 2.5\nrules: []\n", []string{
		`rules.yaml:1:10: workers: must be a whole number, got the number 2.5`,
	}},
	{"listen not host:port", "listen: 9090\nrules: []\n", []string{
		`rules.yaml:1:9: listen: "9090" is not host:port or off (e.g. 127.0.0.1:9090, [::1]:9090, :9090 for every interface)`,
	}},
	{"listen empty", "listen: \"\"\nrules: []\n", []string{
		`rules.yaml:1:9: listen: "" is not host:port or off (e.g. 127.0.0.1:9090, [::1]:9090, :9090 for every interface)`,
	}},
	{"listen port out of range", "listen: 127.0.0.1:70000\nrules: []\n", []string{
		`rules.yaml:1:9: listen: "127.0.0.1:70000" is not host:port or off (e.g. 127.0.0.1:9090, [::1]:9090, :9090 for every interface)`,
	}},
	{"log level typo and unknown key", "log:\n  level: inf\n  fromat: json\nrules: []\n", []string{
		"rules.yaml:2:10: log.level: \"inf\" is not one of debug, info, warn, error; did you mean `info`?",
		"rules.yaml:3:3: log: unknown field `fromat`, did you mean `format`?",
	}},
	{"log not a mapping", "log: json\nrules: []\n", []string{
		`rules.yaml:1:6: log: must be a mapping (key: value), got "json"`,
	}},
	{"namespace with a space", "namespace: my app\nrules: []\n", []string{
		`rules.yaml:1:12: namespace: "my app" may hold only printable ASCII without spaces`,
	}},
	{"namespace empty", "namespace: ''\nrules: []\n", []string{
		`rules.yaml:1:12: namespace: "" is empty; leave namespace out for the default`,
	}},
	{"name, max_running, store_clock, skew_tolerance", "name: my host\nmax_running: 0\nstore_clock: yes\nskew_tolerance: 2h\nrules:\n  - {id: a, interval: 1s, type: normal, max_running: 4097, exec: {argv: [true]}}\n  - {id: b, interval: 1s, type: normal, max_running: many, exec: {argv: [true]}}\n", []string{
		`rules.yaml:1:7: name: "my host" may hold only printable ASCII without spaces`,
		`rules.yaml:2:14: max_running: must be between 1 and 4096, got 0`,
		`rules.yaml:3:14: store_clock: must be true or false, got "yes"`,
		`rules.yaml:4:17: skew_tolerance: must be more than 0 and at most 1h0m0s, got 2h0m0s (leave it out for the library's default, 5s)`,
		`rules.yaml:6:54: rules[0] (a): max_running: must be between 1 and 4096, got 4097`,
		`rules.yaml:7:54: rules[1] (b): max_running: must be a whole number, got "many"`,
	}},
	{"name empty, skew_tolerance zero", "name: ''\nskew_tolerance: 0s\nrules: []\n", []string{
		`rules.yaml:1:7: name: "" is empty; leave name out for the default`,
		`rules.yaml:2:17: skew_tolerance: must be more than 0 and at most 1h0m0s, got 0s (leave it out for the library's default, 5s)`,
	}},
	{"metrics mistakes", "metrics:\n  rule: all\n  rules: [billing-*, \"[a-\", '', {x: 1}]\nrules: []\n", []string{
		"rules.yaml:2:3: metrics: unknown field `rule`, did you mean `rules`?",
		`rules.yaml:3:22: metrics.rules[1]: "[a-" is not a pattern (path.Match syntax: *, ?, [a-z], \ to escape)`,
		`rules.yaml:3:29: metrics.rules[2]: must not be empty`,
		`rules.yaml:3:34: metrics.rules[3]: must be a string, got a mapping`,
	}},
	{"metrics rules neither all nor a list", "metrics: {rules: some}\nrules: []\n", []string{
		`rules.yaml:1:18: metrics.rules: must be all, or a list of rule id patterns such as ["billing-*", sync], got "some"`,
	}},
	{"token_env not a name", "token_env: 1TOKEN\nrules: []\n", []string{
		`rules.yaml:1:12: token_env: "1TOKEN" is not a variable name: letters, digits and _, not starting with a digit`,
	}},
	{"dict without scheme", "dict: /var/lib/x.db\nrules: []\n", []string{
		`rules.yaml:1:7: dict: "/var/lib/x.db" has no scheme (e.g. sqlite:///var/lib/ngxtasks/dict.db, redis://host:6379/0)`,
	}},
	{"dict undefined variable", "dict: redis://:${REDIS_PASS}@localhost:6379/0\nrules: []\n", []string{
		`rules.yaml:1:7: dict: ${REDIS_PASS} is not set (looked in the environment)`,
	}},
	{"state_dir empty", "state_dir: \"\"\nrules: []\n", []string{
		`rules.yaml:1:12: state_dir: must not be empty`,
	}},
	{"env_file missing", "env_file: ./nope.env\nrules: []\n", []string{
		`rules.yaml:1:11: env_file: cannot read "nope.env": file does not exist`,
	}},
	{"env_file with mistakes", "env_file: bad.env\nrules: []\n", []string{
		`bad.env:2:1: expected KEY=VALUE`,
		`bad.env:3:1: "1X" is not a variable name: letters, digits and _, not starting with a digit`,
		`bad.env:4:1: Q: no closing " quote (a value is one line)`,
		`bad.env:5:1: OK is set twice (first on line 1)`,
	}},
	{"rule empty mapping", "rules:\n  - {}\n", []string{
		`rules.yaml:2:5: rules[0].id: required`,
		`rules.yaml:2:5: rules[0].type: required (normal: every worker runs it; preemption: one worker of the fleet does)`,
		`rules.yaml:2:5: rules[0].interval: required (e.g. interval: 30s), or a schedule: (e.g. schedule: "0 2 * * 1-5")`,
		`rules.yaml:2:5: rules[0]: needs exec: (run a program) or http: (send a request)`,
	}},
	{"rule not a mapping", "rules:\n  - 5\n  -\n", []string{
		`rules.yaml:2:5: rules[0]: must be a mapping (key: value), got the number 5`,
		`rules.yaml:3:4: rules[1]: must be a mapping (key: value), got null`,
	}},
	{"rule unknown key with suggestion", "rules:\n  - id: a\n    intervall: 2s\n    interval: 2s\n    type: normal\n    exec: {argv: [true]}\n", []string{
		"rules.yaml:3:5: rules[0] (a): unknown field `intervall`, did you mean `interval`?",
	}},
	{"exec key in the rule", "rules:\n  - id: a\n    interval: 2s\n    type: normal\n    argv: [true]\n    dir: /tmp\n    url: http://x\n    output_limit: 1KiB\n    exec: {argv: [true]}\n", []string{
		"rules.yaml:5:5: rules[0] (a): unknown field `argv`: `argv` belongs under `exec:`",
		"rules.yaml:6:5: rules[0] (a): unknown field `dir`: `dir` belongs under `exec:`",
		"rules.yaml:7:5: rules[0] (a): unknown field `url`: `url` belongs under `http:`",
		"rules.yaml:8:5: rules[0] (a): unknown field `output_limit`: `output_limit` belongs under `exec:` or `http:`",
	}},
	{"duplicate rule key", "rules:\n  - id: a\n    interval: 2s\n    interval: 3s\n    type: normal\n    exec: {argv: [true]}\n", []string{
		"rules.yaml:4:5: rules[0] (a): duplicate field `interval` (first at line 3)",
	}},
	{"duplicate ids", "rules:\n  - id: a\n    interval: 2s\n    type: normal\n    exec: {argv: [true]}\n" + okRule + "  - id: a\n    interval: 3s\n    type: normal\n    exec: {argv: [true]}\n", []string{
		`rules.yaml:7:9: rules[2] (a): id: "a" is already the id of rules[0] (rules.yaml:2:9)`,
	}},
	{"interval not a duration", "rules:\n  - id: ding\n    interval: 2x\n    type: normal\n    exec: {argv: [true]}\n", []string{
		`rules.yaml:3:15: rules[0] (ding): interval: "2x" is not a duration (Go syntax: 300ms, 2s, 1m30s)`,
	}},
	{"interval without unit", "rules:\n  - id: ding\n    interval: 5\n    type: normal\n    exec: {argv: [true]}\n", []string{
		`rules.yaml:3:15: rules[0] (ding): interval: "5" has no unit: write 5s, or 5ms, 5m …`,
	}},
	{"interval zero and a list", "rules:\n  - {id: a, interval: 0s, type: normal, exec: {argv: [true]}}\n  - {id: b, interval: [1], type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:23: rules[0] (a): interval: must be more than 0, got 0s`,
		`rules.yaml:3:23: rules[1] (b): interval: must be a duration such as 2s, got a list`,
	}},
	{"interval out of range and too short", "rules:\n  - {id: a, interval: 99999999999h, type: normal, exec: {argv: [true]}}\n  - {id: b, interval: 1ns, type: normal, exec: {argv: [true]}}\n  - {id: c, interval: 99ms, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:23: rules[0] (a): interval: "99999999999h" is out of range: the longest duration is 2562047h47m16.854775807s`,
		`rules.yaml:3:23: rules[1] (b): interval: must be at least 100ms, got 1ns: a shorter interval has every worker start and log runs faster than anyone can use them`,
		`rules.yaml:4:23: rules[2] (c): interval: must be at least 100ms, got 99ms: a shorter interval has every worker start and log runs faster than anyone can use them`,
	}},
	{"invalid UTF-8", "rules:\n  - {id: \"é\xffx\", interval: 1s, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:12: the file is not valid UTF-8 (a byte here is not part of any character); save it as UTF-8`,
	}},
	{"a BOM does not move positions", "\ufeffworker: 2\nrules: []\n", []string{
		"rules.yaml:1:1: unknown field `worker`, did you mean `workers`?",
	}},
	{"a BOM and a rules key", "\ufeffrules: {}\n", []string{
		"rules.yaml:1:8: rules: must be a list of rules (- id: …), got a mapping",
	}},
	{"type unknown", "rules:\n  - {id: a, interval: 1s, type: preempt, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:33: rules[0] (a): type: "preempt" is not one of normal, preemption`,
	}},
	{"timeout negative, offset too large, spread yes", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    timeout: -1s\n    offset: 1s\n    spread: yes\n    exec: {argv: [true]}\n", []string{
		`rules.yaml:5:14: rules[0] (a): timeout: must not be negative, got -1s`,
		`rules.yaml:6:13: rules[0] (a): offset: must be less than the interval (1s), got 1s`,
		`rules.yaml:7:13: rules[0] (a): spread: must be true or false, got "yes"`,
	}},
	{"exec and http", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec: {argv: [true]}\n    http: {url: http://x}\n", []string{
		`rules.yaml:6:5: rules[0] (a): has both exec: and http:; a rule does one of them`,
	}},
	{"command without shell", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      command: echo hi | tee /tmp/x\n", []string{
		`rules.yaml:6:7: rules[0] (a): exec.command: runs through /bin/sh, which needs shell: true; or give argv: [prog, arg…] to run without a shell`,
	}},
	{"argv with shell", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      argv: [echo, hi]\n      shell: true\n", []string{
		`rules.yaml:6:7: rules[0] (a): exec.argv: cannot be used with shell: true, which takes command: "…" (one string for /bin/sh -c)`,
	}},
	{"argv and command", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      argv: [echo, hi]\n      command: echo hi\n      shell: true\n", []string{
		`rules.yaml:7:7: rules[0] (a): exec: has both argv: and command:; use argv: [prog, arg…], or command: with shell: true`,
	}},
	{"exec without a program", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      dir: /tmp\n", []string{
		`rules.yaml:6:7: rules[0] (a): exec: needs argv: [prog, arg…] (or command: "…" with shell: true)`,
	}},
	{"argv empty, element not text, reference", "rules:\n  - {id: a, interval: 1s, type: normal, exec: {argv: []}}\n  - {id: b, interval: 1s, type: normal, exec: {argv: [curl, {x: 1}, \"${HOOK_KEY}\"]}}\n", []string{
		`rules.yaml:2:54: rules[0] (a): exec.argv: must name a program: [prog, arg…]`,
		`rules.yaml:3:62: rules[1] (b): exec.argv[1]: must be a string, got a mapping`,
		`rules.yaml:3:69: rules[1] (b): exec.argv[2]: "${HOOK_KEY}": argv is not expanded (arguments show in ps); put the value in env: and read it from there`,
	}},
	{"env mistakes", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      argv: [env]\n      env:\n        1X: a\n        EMPTY:\n        MISSING: ${NOT_SET}\n        BARE: $HOME/x\n        OPEN: ${HOME\n", []string{
		`rules.yaml:8:9: rules[0] (a): exec.env: "1X" is not a variable name: letters, digits and _, not starting with a digit`,
		`rules.yaml:9:9: rules[0] (a): exec.env.EMPTY: has no value (write "" for an empty one)`,
		`rules.yaml:10:18: rules[0] (a): exec.env.MISSING: ${NOT_SET} is not set (looked in the environment)`,
		`rules.yaml:11:15: rules[0] (a): exec.env.BARE: $HOME is not expanded: write ${HOME}, or $$HOME for a literal dollar`,
		"rules.yaml:12:15: rules[0] (a): exec.env.OPEN: `${` has no closing `}` (write $$ for a literal dollar)",
	}},
	{"sizes and grace", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    exec:\n      argv: [true]\n      output_limit: 64KB\n      grace: -1s\n  - id: b\n    interval: 1s\n    type: normal\n    http: {url: http://x, output_limit: 65MiB}\n", []string{
		`rules.yaml:7:21: rules[0] (a): exec.output_limit: "64KB" is not a size (bytes, or with a unit: 512B, 64KiB, 1MiB)`,
		`rules.yaml:8:14: rules[0] (a): exec.grace: must not be negative, got -1s`,
		`rules.yaml:12:41: rules[1] (b): http.output_limit: "65MiB" is more than the limit of 64MiB`,
	}},
	{"http url missing", "rules:\n  - {id: a, interval: 1s, type: normal, http: {method: POST}}\n", []string{
		`rules.yaml:2:48: rules[0] (a): http.url: required`,
	}},
	{"http url scheme and host", "rules:\n  - {id: a, interval: 1s, type: normal, http: {url: \"ftp://x/${HOOK_KEY}\"}}\n  - {id: b, interval: 1s, type: normal, http: {url: \"http:///path\"}}\n", []string{
		`rules.yaml:2:53: rules[0] (a): http.url: "ftp://x/${HOOK_KEY}" must start with http:// or https://`,
		`rules.yaml:3:53: rules[1] (b): http.url: "http:///path" has no host`,
	}},
	{"http header mistakes", "rules:\n  - id: a\n    interval: 1s\n    type: normal\n    http:\n      url: http://x\n      method: GE T\n      headers:\n        Bad Name: x\n        X-Multi: \"${NL}\"\n        X-None:\n", []string{
		`rules.yaml:7:15: rules[0] (a): http.method: "GE T" is not an HTTP method (GET, POST, PUT, …)`,
		`rules.yaml:9:9: rules[0] (a): http.headers: "Bad Name" is not a header name`,
		`rules.yaml:10:18: rules[0] (a): http.headers.X-Multi: holds a line break or NUL once expanded`,
		`rules.yaml:11:9: rules[0] (a): http.headers.X-None: has no value (write "" for an empty one)`,
	}},
	{"http expect and timeout", "rules:\n  - {id: a, interval: 1s, type: normal, http: {url: http://x, expect: [200, 99, x], timeout: 0s}}\n  - {id: b, interval: 1s, type: normal, http: {url: http://x, expect: []}}\n", []string{
		`rules.yaml:2:77: rules[0] (a): http.expect[1]: 99 is not an HTTP status (100–599)`,
		`rules.yaml:2:81: rules[0] (a): http.expect[2]: must be a whole number, got "x"`,
		`rules.yaml:2:94: rules[0] (a): http.timeout: must be more than 0, got 0s`,
		`rules.yaml:3:71: rules[1] (b): http.expect: must list at least one status (leave it out to accept any 2xx)`,
	}},
	{"id problems", "rules:\n  - {id: \"\", interval: 1s, type: normal, exec: {argv: [true]}}\n  - {id: \"a\\tb\", interval: 1s, type: normal, exec: {argv: [true]}}\n  - {id: [a], interval: 1s, type: normal, exec: {argv: [true]}}\n  - {id: \"" + strings.Repeat("x", 257) + "\", interval: 1s, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:10: rules[0].id: must not be empty`,
		`rules.yaml:3:10: rules[1] ("a\tb"): id: holds a control character ("a\tb"): a newline or NUL cannot be stored by every dictionary, nor shown in one log line`,
		`rules.yaml:4:10: rules[2].id: must be a string, got a list`,
		`rules.yaml:5:10: rules[3] (xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (257 bytes)): id: is 257 bytes, more than 256`,
	}},
	{"anchors, aliases, merge keys, tags", "rules:\n  - &base {id: a, interval: 1s, type: normal, exec: {argv: [true]}}\n  - <<: *base\n    id: b\n  - {id: c, interval: !!str 1s, type: normal, exec: {argv: [true]}}\n", []string{
		`rules.yaml:2:12: rules[0] (a): YAML anchors (&base) are not supported: write each rule out in full`,
		`rules.yaml:3:5: rules[1] (b): YAML merge keys (<<) are not supported: write each rule out in full`,
		`rules.yaml:3:5: rules[1] (b): type: required (normal: every worker runs it; preemption: one worker of the fleet does)`,
		`rules.yaml:3:5: rules[1] (b): interval: required (e.g. interval: 30s), or a schedule: (e.g. schedule: "0 2 * * 1-5")`,
		`rules.yaml:3:5: rules[1] (b): needs exec: (run a program) or http: (send a request)`,
		`rules.yaml:5:23: rules[2] (c): interval: YAML tags (!!str) are not supported: quote a value to make it text`,
	}},
	{"exec and http unknown keys", "rules:\n  - {id: a, interval: 1s, type: normal, exec: {agrv: [true]}}\n  - {id: b, interval: 1s, type: normal, http: {url: http://x, header: {A: b}}}\n", []string{
		"rules.yaml:2:48: rules[0] (a): exec: unknown field `agrv`, did you mean `argv`?",
		`rules.yaml:2:48: rules[0] (a): exec: needs argv: [prog, arg…] (or command: "…" with shell: true)`,
		"rules.yaml:3:63: rules[1] (b): http: unknown field `header`, did you mean `headers`?",
	}},
	{"key that is not a name", "rules:\n  - {id: a, interval: 1s, type: normal, exec: {argv: [true], env: {[A]: b}}}\n", []string{
		`rules.yaml:2:68: rules[0] (a): exec.env: a key must be a name, got a list`,
	}},
	{"nested too deep", "rules: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n", []string{
		"rules.yaml:1:72: nested more than 64 levels deep; a rule file needs six",
	}},
	{"nested too deep on one line", strings.Repeat("- ", 65) + "x\n", []string{
		"rules.yaml:1:129: nested more than 64 levels deep; a rule file needs six",
	}},
	{"exec env_file missing", "rules:\n  - {id: a, interval: 1s, type: normal, exec: {argv: [true], env_file: other.env}}\n", []string{
		`rules.yaml:2:72: rules[0] (a): exec.env_file: cannot read "other.env": file does not exist`,
	}},
}

func TestInvalidFilesGiveTheirExactMessagesAndNoFile(t *testing.T) {
	for _, tc := range invalidFiles {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("rules.yaml", []byte(tc.yaml), testEnv())
			if err == nil {
				t.Fatalf("parsed: %+v", f)
			}
			if f != nil {
				t.Errorf("got a File along with the error")
			}
			got := messages(t, err)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
