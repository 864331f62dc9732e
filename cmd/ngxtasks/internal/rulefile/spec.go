package rulefile

import (
	"log/slog"
	"net"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"go.yaml.in/yaml/v4"
)

// Defaults for what a rule file leaves out; doc.go explains each.
const (
	DefaultListen      = "127.0.0.1:9090"
	DefaultTokenEnv    = "NGXTASKS_TOKEN"
	DefaultNamespace   = "ngxtasks"
	DefaultOutputLimit = 64 << 10
	DefaultGrace       = 5 * time.Second
	DefaultHTTPTimeout = 30 * time.Second
	// MinInterval is the shortest interval the command runs. The library
	// takes any positive interval; a command that starts a program or a
	// request per slot, in every worker, and logs each, does not: at 1ns
	// it logged 2,700 lines a second and used 88% of a CPU.
	MinInterval = 100 * time.Millisecond
	// DefaultMaxRunning is how many programs and requests a worker runs
	// at once unless the file says otherwise: enough for most files, and
	// few enough that a start of thousands of rules is not a fork storm.
	DefaultMaxRunning = 32
	maxMaxRunning     = 4096
	maxSkewTolerance  = time.Hour
	maxWorkers        = 1024
)

// The keys each section knows, and hints for keys written in the wrong
// section. They are functions, not variables, so that nothing in the
// package can be changed at run time.
func topKeys() []string {
	return []string{"name", "dict", "namespace", "workers", "max_running", "listen", "state_dir", "token_env", "log", "env_file", "store_clock", "skew_tolerance", "metrics", "rules", "lua"}
}

func topHints() map[string]string {
	h := map[string]string{}
	for _, k := range ruleKeys() {
		h[k] = "`" + k + "` belongs to a rule, in the `rules:` list"
	}
	return h
}

func logKeys() []string { return []string{"format", "level"} }

func metricsKeys() []string { return []string{"rules"} }

// defaults is a File with every setting left out: a YAML file's before
// its keys are read, a Lua file's (which has rules only).
func (d *decoder) defaults() *File {
	return &File{
		Path:       d.path,
		Workers:    min(runtime.NumCPU(), maxWorkers),
		Listen:     DefaultListen,
		TokenEnv:   DefaultTokenEnv,
		Namespace:  DefaultNamespace,
		Log:        Log{Format: "text", Level: slog.LevelInfo},
		MaxRunning: DefaultMaxRunning,
	}
}

// defaultDict is the dictionary of a file that names none: an SQLite file
// in the state directory, which the processes of one host share.
func defaultDict(stateDir string) Text {
	return Literal(sqliteURL(filepath.Join(stateDir, "dict.db")))
}

// file decodes the document's body: the top-level mapping.
func (d *decoder) file(body *node) *File {
	f := d.defaults()
	if body == nil {
		d.atPos(Pos{1, 1}, place{}, "the file is empty: it needs a `rules:` list")
		return f
	}
	if body.Kind != yaml.MappingNode || refused(body) != "" {
		d.wrongType(body, place{}, "a mapping with a `rules:` list")
		return f
	}
	keys, _ := d.fields(body, place{}, topKeys(), topHints)

	// env_file first: dict below, and every rule, expand from it.
	if e, ok := keys.get("env_file"); ok {
		d.top = d.envFile(e.val, place{path: "env_file"})
		f.EnvFile = d.top.name
	}

	if e, ok := keys.get("workers"); ok {
		if n, ok := d.integer(e.val, place{path: "workers"}); ok {
			if n < 1 || n > maxWorkers {
				d.at(e.val, place{path: "workers"}, "must be between 1 and %d, got %d", maxWorkers, n)
			} else {
				f.Workers = int(n)
			}
		}
	}
	if e, ok := keys.get("listen"); ok {
		f.Listen = d.listen(e.val, place{path: "listen"})
	}
	if e, ok := keys.get("state_dir"); ok {
		f.StateDir, _ = d.filePath(e.val, place{path: "state_dir"})
	}
	if f.StateDir == "" {
		f.StateDir = d.defaultStateDir()
	}
	if e, ok := keys.get("dict"); ok {
		f.Dict = d.dict(e.val, place{path: "dict"}, d.scope(envSource{}))
	} else {
		f.Dict = defaultDict(f.StateDir)
	}
	if e, ok := keys.get("namespace"); ok {
		f.Namespace = d.name(e.val, "namespace", f.Namespace)
	}
	if e, ok := keys.get("name"); ok {
		f.Name = d.name(e.val, "name", f.Name)
	}
	if e, ok := keys.get("max_running"); ok {
		if n, ok := d.maxRunning(e.val, place{path: "max_running"}); ok {
			f.MaxRunning = n
		}
	}
	d.maxRunningDefault = f.MaxRunning // the rules' default, read before them
	if e, ok := keys.get("store_clock"); ok {
		f.StoreClock, _ = d.boolean(e.val, place{path: "store_clock"})
	}
	if e, ok := keys.get("skew_tolerance"); ok {
		pl := place{path: "skew_tolerance"}
		if v, ok := d.duration(e.val, pl); ok {
			if v <= 0 || v > maxSkewTolerance {
				d.at(e.val, pl, "must be more than 0 and at most %v, got %v (leave it out for the library's default, 5s)", maxSkewTolerance, v)
			} else {
				f.SkewTolerance = v
			}
		}
	}
	if e, ok := keys.get("metrics"); ok {
		f.Metrics = d.metrics(e.val, place{path: "metrics"})
	}
	if e, ok := keys.get("token_env"); ok {
		pl := place{path: "token_env"}
		if s, ok := d.str(e.val, pl); ok {
			if validName(s) {
				f.TokenEnv = s
			} else {
				d.at(e.val, pl, "%s is not a variable name: letters, digits and _, not starting with a digit", quote(s))
			}
		}
	}
	if e, ok := keys.get("log"); ok {
		pl := place{path: "log"}
		if ls, ok := d.fields(e.val, pl, logKeys(), nil); ok {
			if e, ok := ls.get("format"); ok {
				if s, ok := d.oneOf(e.val, pl.field("format"), "text", "json"); ok {
					f.Log.Format = s
				}
			}
			if e, ok := ls.get("level"); ok {
				if s, ok := d.oneOf(e.val, pl.field("level"), "debug", "info", "warn", "error"); ok {
					_ = f.Log.Level.UnmarshalText([]byte(s)) // one of slog's own names
				}
			}
		}
	}
	lua, hasLua := keys.get("lua")
	if e, ok := keys.get("rules"); ok {
		f.Rules = d.rules(e.val)
	} else if !hasLua {
		d.atPos(posOf(body), place{path: "rules"}, "required: list the rules under it (`rules: []` for none), or name a Lua file (`lua: rules.lua`)")
		return f
	}
	if hasLua {
		d.luaKey(f, lua.val)
	}
	return f
}

// luaKey reads lua:, an ngx_tasks Lua file whose rules run beside the
// file's own, with its settings (see lua.go).
func (d *decoder) luaKey(f *File, n *node) {
	pl := place{path: "lua"}
	path, ok := d.filePath(n, pl)
	if !ok {
		return
	}
	if !isLua(path) {
		d.at(n, pl, "%s is not a Lua file: its name must end in .lua", quote(path))
		return
	}
	read := d.raw.ReadFile
	if read == nil {
		read = readFile
	}
	data, err := read(path)
	if err != nil {
		d.at(n, pl, "%v", err)
		return
	}
	d.addLua(f, path, filepath.Dir(path), data)
}

// listen reads host:port or off. Only "off" turns the listener off: an
// empty value is more often a mistake than a wish.
func (d *decoder) listen(n *node, pl place) string {
	s, ok := d.str(n, pl)
	if !ok {
		return DefaultListen
	}
	if s == "off" {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || p < 1 || p > 65535 || strings.ContainsAny(host, " /") {
		d.at(n, pl, "%s is not host:port or off (e.g. 127.0.0.1:9090, [::1]:9090, :9090 for every interface)", quote(s))
		return DefaultListen
	}
	return s
}

// dict reads the dictionary URL, which may hold a password as ${VAR}.
// Messages show it as ngxtasks.RedactURL does, in case the password was
// written out.
func (d *decoder) dict(n *node, pl place, sc scope) Text {
	t, ok := d.text(n, pl, sc)
	if !ok {
		return t
	}
	// RedactURL shows "(a URL that cannot be parsed)" for what it cannot
	// parse; then the message names no URL at all.
	shown := ngxtasks.RedactURL(t.Template)
	if strings.HasPrefix(shown, "(") {
		shown = ""
	} else {
		shown = quote(shown) + " "
	}
	u, err := ngxtasks.ParseDictURL(t.Expanded())
	switch {
	case err != nil:
		d.at(n, pl, "%sis not a URL: %v", shown, err)
	case u.Scheme == "":
		d.at(n, pl, "%shas no scheme (e.g. sqlite:///var/lib/ngxtasks/dict.db, redis://host:6379/0)", shown)
	}
	return t
}

// defaultStateDir is systemd's StateDirectory= when the command runs
// under it, else the rule file's directory: a first run needs no setup.
func (d *decoder) defaultStateDir() string {
	if d.env.Lookup != nil {
		if v, ok := d.env.Lookup("STATE_DIRECTORY"); ok {
			if first, _, _ := strings.Cut(v, ":"); first != "" {
				return first
			}
		}
	}
	return d.dir
}

// sqliteURL names a database file the way sqlitedict reads it: three
// slashes before an absolute path, none before a relative one.
func sqliteURL(path string) string {
	if filepath.IsAbs(path) {
		return "sqlite://" + filepath.ToSlash(path)
	}
	return "sqlite:" + filepath.ToSlash(path)
}

func (d *decoder) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

// name reads the top-level key's namespace or instance name; a bad one is
// reported, and def kept.
func (d *decoder) name(n *node, key, def string) string {
	pl := place{path: key}
	s, ok := d.str(n, pl)
	if !ok {
		return def
	}
	if why := badName(s, key); why != "" {
		d.at(n, pl, "%s %s", quote(s), why)
		return def
	}
	return s
}

// badName says what is wrong with a namespace or an instance name, or
// "". Both go into every claim key, so they are held to what every
// dictionary can store.
func badName(s, key string) string {
	switch {
	case s == "":
		return "is empty; leave " + key + " out for the default"
	case len(s) > 64:
		return "is longer than 64 bytes"
	case strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r == 0x7f || r > 0x7e }) >= 0:
		return "may hold only printable ASCII without spaces"
	}
	return ""
}

// maxRunning reads a max_running: a count of runs at once.
func (d *decoder) maxRunning(n *node, pl place) (int, bool) {
	v, ok := d.integer(n, pl)
	if !ok {
		return 0, false
	}
	if v < 1 || v > maxMaxRunning {
		d.at(n, pl, "must be between 1 and %d, got %d", maxMaxRunning, v)
		return 0, false
	}
	return int(v), true
}

// metrics reads metrics: {rules: all | [pattern, …]}. Each pattern is
// checked as path.Match reads it, so that a typo is an error here rather
// than a rule silently left without its series.
func (d *decoder) metrics(n *node, pl place) MetricsRules {
	var m MetricsRules
	keys, ok := d.fields(n, pl, metricsKeys(), nil)
	if !ok {
		return m
	}
	e, ok := keys.get("rules")
	if !ok {
		return m
	}
	pl = pl.field("rules")
	if s, ok := scalar(e.val); ok && s == "all" && e.val.Kind == yaml.ScalarNode {
		m.All = true
		return m
	}
	if e.val.Kind != yaml.SequenceNode || refused(e.val) != "" {
		d.wrongType(e.val, pl, "all, or a list of rule id patterns such as [\"billing-*\", sync]")
		return m
	}
	for i, item := range e.val.Content {
		ipl := pl.index(i)
		s, ok := d.str(item, ipl)
		switch {
		case !ok:
		case s == "":
			d.at(item, ipl, "must not be empty")
		default:
			if _, err := path.Match(s, ""); err != nil {
				d.at(item, ipl, "%s is not a pattern (path.Match syntax: *, ?, [a-z], \\ to escape)", quote(s))
				continue
			}
			m.Patterns = append(m.Patterns, s)
		}
	}
	return m
}
