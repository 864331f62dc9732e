package luarules

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
	lua "github.com/yuin/gopher-lua"
)

// Options tune Load.
type Options struct {
	// Logger receives ngx.log lines written while the file loads, and is
	// the workers' logger when WorkerConfig has none; nil is slog.Default().
	Logger *slog.Logger
	// Globals are set in every state before the file runs, for what nginx
	// set in init_by_lua (the seed's global_start_time). Values are
	// strings, booleans, integers, floats or time.Time (as Unix seconds).
	Globals map[string]any
	// Timeout is the Rule.Timeout of rules whose table has no timeout
	// field; zero is none, as in nginx. A callback past its timeout is
	// stopped at its next Lua instruction.
	Timeout time.Duration
	// LoadTimeout bounds running the file (its top level, not callbacks);
	// zero is 10 seconds.
	LoadTimeout time.Duration
}

// A File is a loaded and validated Lua rule file. It holds the compiled
// code of the file and of the sibling modules it required, and the rules'
// descriptions; Worker makes a Lua state that runs it. A File is safe for
// concurrent use.
type File struct {
	path    string
	opts    Options
	globals map[string]lua.LValue
	chunks  *chunks
	rules   []RuleInfo
	keys    bool
	dict    string
	// fingerprint identifies the sources Load ran (the file and its
	// modules, in the order they ran).
	fingerprint string
	incr        sync.Mutex // makes ngx.shared incr atomic among this File's workers
}

// RuleInfo describes a rule of a file, for validate and status pages.
type RuleInfo struct {
	Identifier string
	Name       string
	Interval   time.Duration
	Type       ngxtasks.Type
	Timeout    time.Duration // the rule's timeout field, or Options.Timeout
	Drive      ngxtasks.Drive
	Offset     time.Duration
	Spread     bool
	Background bool
	Filter     bool   // the rule has a filter function
	File       string // where the rule table names its identifier
	Line       int    // 0 when unknown
}

// Path is the file as Load was given it.
func (f *File) Path() string { return f.path }

// Rules describes the file's rules, in the order the file defines them.
func (f *File) Rules() []RuleInfo { return append([]RuleInfo(nil), f.rules...) }

// HasKeys reports whether the file sets tasks.keys: its workers' Keys is
// then the Lua generator, to give every Manager of those workers.
func (f *File) HasKeys() bool { return f.keys }

// Fingerprint is a short hash of the sources Load ran: the file and the
// modules it required. Two loads of unchanged files have the same one.
// It is not set as the rules' Version: a rule kept by Manager.Replace
// would keep its callback, bound to the Lua state of the Worker it came
// from; a program that reloads Lua rules should swap them, and close the
// old Worker once the old rules are out.
func (f *File) Fingerprint() string { return f.fingerprint }

// DictName is the tasks.dict the file set (the seed's default,
// "PreemptionTasks", when it set none). ngxtasks claims slots in the
// Manager's Dict whatever it says; it is kept for status pages.
func (f *File) DictName() string { return f.dict }

// Load reads a Lua rule file, and the sibling modules it requires from its
// folder, runs it once in a Lua state of its own and validates every rule.
// It returns every mistake it finds, each an *Error with file and line,
// joined: syntax errors, fields of the ngx table the shim lacks, rules
// with a missing or wrong field, a keys generator that fails.
func Load(path string, opts Options) (*File, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = 10 * time.Second
	}
	globals, err := convertGlobals(opts.Globals)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	f := &File{
		path:    path,
		opts:    opts,
		globals: globals,
		chunks:  &chunks{dir: filepath.Dir(path), all: map[string]*chunk{}},
	}
	e := f.newEnv(WorkerConfig{Logger: opts.Logger})
	L := newState(e)
	defer L.Close()
	defs, errs := e.load(L)
	f.chunks.mu.Lock()
	f.chunks.frozen = true
	f.chunks.mu.Unlock()
	errs = append(e.scanErrors(), errs...)
	if len(errs) == 0 && e.keysFn != nil {
		errs = append(errs, e.checkKeys(L, defs)...)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	for _, d := range defs {
		f.rules = append(f.rules, d.info)
	}
	f.keys = e.keysFn != nil
	f.dict = e.dictName
	h := sha256.New()
	for _, ch := range e.loaded {
		h.Write(ch.sum[:])
	}
	f.fingerprint = hex.EncodeToString(h.Sum(nil)[:8])
	return f, nil
}

// joinErrors joins errs, sorted by file and line.
func joinErrors(errs []*Error) error {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		return errs[i].Line < errs[j].Line
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

func convertGlobals(g map[string]any) (map[string]lua.LValue, error) {
	out := make(map[string]lua.LValue, len(g))
	for k, v := range g {
		switch v := v.(type) {
		case string:
			out[k] = lua.LString(v)
		case bool:
			out[k] = lua.LBool(v)
		case int:
			out[k] = lua.LNumber(v)
		case int64:
			out[k] = lua.LNumber(v)
		case float64:
			out[k] = lua.LNumber(v)
		case time.Time:
			out[k] = lua.LNumber(v.Unix())
		default:
			return nil, fmt.Errorf("Options.Globals[%q]: %T is not a string, boolean, number or time.Time", k, v)
		}
	}
	return out, nil
}

// env is what the Go functions of one Lua state share: the file, the
// worker's configuration, what ngx_tasks collected, and the runs in flight.
type env struct {
	file    *File
	path    string
	chunks  *chunks
	globals map[string]lua.LValue
	cfg     WorkerConfig
	logger  *slog.Logger
	incr    *sync.Mutex
	holder  string // names this state in the locks of incr across processes

	loaded     []*chunk // the files run in this state, the rule file first
	moduleErrs []*Error // modules require could not compile
	taken      map[siteKey]bool
	tasks      tasks

	keysFn   *lua.LFunction // tasks.keys, nil when unset
	keysSelf *lua.LTable    // the table holding it, passed as self
	dictName string

	// mu is the worker's lock on the state (nil in Load's state): held by
	// whoever runs Lua in it, let go by ngx.sleep.
	mu         *sync.Mutex
	runs       map[*lua.LState]*threadRun // by thread of the worker's state; only touched under mu
	exitMarker *lua.LUserData             // the error value of ngx.exit
	closed     bool                       // set under mu by Worker.Close
}

func (f *File) newEnv(cfg WorkerConfig) *env {
	logger := cfg.Logger
	if logger == nil {
		logger = f.opts.Logger
	}
	return &env{
		file: f, path: f.path, chunks: f.chunks, globals: f.globals,
		cfg: cfg, logger: logger, incr: &f.incr, holder: holderName(cfg.PID),
		runs: map[*lua.LState]*threadRun{}, taken: map[siteKey]bool{},
	}
}

func (e *env) now() time.Time {
	if e.cfg.Clock != nil {
		return e.cfg.Clock.Now()
	}
	return time.Now()
}

func (e *env) seen(ch *chunk) {
	for _, c := range e.loaded {
		if c == ch {
			return
		}
	}
	e.loaded = append(e.loaded, ch)
}

// scanErrors reports the ngx fields the loaded files use that the shim
// lacks.
func (e *env) scanErrors() []*Error {
	var errs []*Error
	for _, ch := range e.loaded {
		for _, u := range ch.scan.uses {
			if !known(u.field) {
				errs = append(errs, &Error{File: ch.path, Line: u.line, Field: "ngx." + u.field, Msg: missing(u.field)})
			}
		}
	}
	return errs
}

// ruleDef is a rule table read and checked.
type ruleDef struct {
	table    *lua.LTable
	callback *lua.LFunction
	filter   *lua.LFunction
	info     RuleInfo
	rule     ngxtasks.Rule // every field but Callback and Filter
}

// load runs the rule file in L and reads its rules.
func (e *env) load(L *lua.LState) ([]*ruleDef, []*Error) {
	main, err := e.chunks.get("", e.path)
	if err != nil {
		var le *Error
		if errors.As(err, &le) {
			return nil, []*Error{le}
		}
		return nil, []*Error{{File: e.path, Msg: err.Error()}}
	}
	e.seen(main)
	ctx, cancel := context.WithTimeout(context.Background(), e.file.opts.LoadTimeout)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	L.Push(L.NewFunctionFromProto(main.proto))
	if err := L.PCall(0, 1, nil); err != nil {
		if len(e.moduleErrs) > 0 {
			return nil, e.moduleErrs
		}
		return nil, []*Error{luaError(e.path, err, ctx)}
	}
	ret := L.Get(-1)
	L.Pop(1)

	holders := e.tasks.holders(ret)
	for _, h := range holders {
		if fn, ok := L.GetField(h, "keys").(*lua.LFunction); ok && e.keysFn == nil {
			e.keysFn, e.keysSelf = fn, h
		}
		if d, ok := L.GetField(h, "dict").(lua.LString); ok && e.dictName == "" {
			e.dictName = string(d)
		}
	}

	var (
		defs []*ruleDef
		errs []*Error
		seen = map[*lua.LTable]bool{}
		ids  = map[string]*ruleDef{}
	)
	add := func(tb *lua.LTable, file string, line int) {
		if seen[tb] {
			return
		}
		seen[tb] = true
		d, errs1 := e.readRule(L, tb, file, line)
		if len(errs1) > 0 {
			errs = append(errs, errs1...)
			return
		}
		if prev, dup := ids[d.info.Identifier]; dup {
			errs = append(errs, &Error{File: d.info.File, Line: d.info.Line, Rule: d.info.Identifier, Field: "identifier",
				Msg: fmt.Sprintf("is already the identifier of the rule at %s:%d", prev.info.File, prev.info.Line)})
			return
		}
		ids[d.info.Identifier] = d
		defs = append(defs, d)
	}
	addArray := func(t *lua.LTable, what string) {
		for i := 1; i <= t.Len(); i++ {
			tb, ok := t.RawGetInt(i).(*lua.LTable)
			if !ok {
				errs = append(errs, &Error{File: e.path, Msg: fmt.Sprintf("element %d of %s is a %s, not a rule table", i, what, t.RawGetInt(i).Type())})
				continue
			}
			add(tb, "", 0)
		}
	}
	for _, p := range e.tasks.pushed {
		add(p.table, p.file, p.line)
	}
	for _, t := range e.tasks.ran {
		addArray(t, "the table tasks:run() was called on")
	}
	if t, ok := ret.(*lua.LTable); ok && t != e.tasks.module {
		addArray(t, "the table the file returns")
	}
	// The seed's DING/DONG snippet only sets the global rules: as a file
	// of its own, its rules are that table.
	if len(defs) == 0 && len(errs) == 0 {
		if t, ok := L.GetGlobal("rules").(*lua.LTable); ok {
			addArray(t, "the global rules")
		}
	}
	if len(defs) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{File: e.path, Msg: "defines no rule: return an array of rule tables, push them with require('ngx_tasks'):push(rule), or call tasks:run() on such an array"})
	}
	return defs, errs
}

// holderName names a worker's state in the locks it takes: its process and
// a random part, unique across processes and hosts.
func holderName(pid int) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "lua-" + strconv.Itoa(pid) + "-" + hex.EncodeToString(b[:])
}
