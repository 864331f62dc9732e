package luarules

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// stateOptions keep a Lua state small: a rule file with 1,000 rules
// lives once per worker, and each concurrent run takes a thread (a state
// sharing the globals) with its own stacks. The registry grows when a
// callback needs more.
var stateOptions = lua.Options{
	CallStackSize:       200,
	RegistrySize:        1024,
	RegistryMaxSize:     1024 * 1024,
	MinimizeStackMemory: true,
	SkipOpenLibs:        true,
}

// libs are Lua 5.1's standard libraries, the ones LuaJIT gives an
// OpenResty worker; gopher-lua's own channel library is left out.
var libs = []struct {
	name string
	open lua.LGFunction
}{
	{lua.LoadLibName, lua.OpenPackage},
	{lua.BaseLibName, lua.OpenBase},
	{lua.TabLibName, lua.OpenTable},
	{lua.IoLibName, lua.OpenIo},
	{lua.OsLibName, lua.OpenOs},
	{lua.StringLibName, lua.OpenString},
	{lua.MathLibName, lua.OpenMath},
	{lua.DebugLibName, lua.OpenDebug},
	{lua.CoroutineLibName, lua.OpenCoroutine},
}

// chunk is one compiled Lua file, with what the scan found in it.
type chunk struct {
	path  string   // as the chunk is named in Lua's messages
	sum   [32]byte // SHA-256 of the source
	proto *lua.FunctionProto
	scan  *scan
}

// compile parses and compiles a file. A syntax error becomes an *Error at
// the line the parser stopped on.
func compile(path string) (*chunk, error) {
	src, err := readSource(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	stmts, err := parse.Parse(strings.NewReader(string(src)), path)
	if err != nil {
		if pe, ok := err.(*parse.Error); ok {
			line := pe.Pos.Line
			if line < 0 { // at the end of the file
				line = strings.Count(string(src), "\n") + 1
			}
			msg := pe.Message
			if pe.Token != "" {
				msg += fmt.Sprintf(" near %q", pe.Token)
			}
			return nil, &Error{File: path, Line: line, Msg: "syntax error: " + msg}
		}
		return nil, &Error{File: path, Msg: "syntax error: " + strings.TrimSpace(err.Error())}
	}
	proto, err := lua.Compile(stmts, path)
	if err != nil {
		return nil, &Error{File: path, Msg: strings.TrimSpace(err.Error())}
	}
	return &chunk{path: path, sum: sha256.Sum256(src), proto: proto, scan: scanChunk(stmts)}, nil
}

// chunks are the files of a rule file's state: the file and the sibling
// modules it requires. Load fills it; a Worker reads it (sharing compiled
// code between states is safe in gopher-lua) and compiles anything Load
// did not see, without keeping it.
type chunks struct {
	dir string
	mu  sync.Mutex
	all map[string]*chunk // by module name; "" is the file itself
	// frozen stops additions once Load is done: every worker then runs the
	// code Load validated, even if the files change on disk.
	frozen bool
}

func (c *chunks) get(name, path string) (*chunk, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.all[name]; ok {
		return ch, nil
	}
	ch, err := compile(path)
	if err != nil {
		return nil, err
	}
	if !c.frozen {
		c.all[name] = ch
	}
	return ch, nil
}

// newState makes a Lua state with the standard libraries, the globals of
// Options, the ngx shim and the ngx_tasks module, and a require that finds
// modules in the rule file's folder only.
func newState(e *env) *lua.LState {
	L := lua.NewState(stateOptions)
	for _, lib := range libs {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for k, v := range e.globals {
		L.SetGlobal(k, v)
	}
	// os.exit would end the process and every worker in it, where in
	// nginx it ended one worker process: refused.
	L.SetField(L.GetGlobal("os"), "exit", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("os.exit is refused: it would end every worker of this process")
		return 0
	}))
	L.SetGlobal("print", L.NewFunction(e.luaPrint))
	L.SetGlobal("ngx", e.ngx(L))
	pkg := L.GetGlobal("package").(*lua.LTable)
	L.SetField(pkg, "path", lua.LString(filepath.Join(e.chunks.dir, "?.lua")))
	L.SetField(pkg, "cpath", lua.LString(""))
	preload := L.GetField(pkg, "preload").(*lua.LTable)
	L.SetField(preload, "ngx_tasks", L.NewFunction(func(L *lua.LState) int {
		L.Push(e.tasks.module)
		return 1
	}))
	e.tasks.module = e.tasksModule(L)
	loaders := L.GetField(pkg, "loaders").(*lua.LTable)
	L.RawSetInt(loaders, 2, L.NewFunction(e.siblingLoader))
	for i := loaders.Len(); i > 2; i-- {
		L.RawSetInt(loaders, i, lua.LNil)
	}
	return L
}

// siblingLoader is require's second searcher (after package.preload): the
// module a.b is the file a/b.lua in the rule file's folder, and nowhere
// else, so that a rule file means the same on every host. A module that
// returns nothing but sets a global of its own name (the seed's rules
// snippet sets `rules`) is that global, as `require('rules')` expects.
func (e *env) siblingLoader(L *lua.LState) int {
	name := L.CheckString(1)
	rel := strings.ReplaceAll(name, ".", string(filepath.Separator)) + ".lua"
	path := filepath.Join(e.chunks.dir, rel)
	if _, err := os.Stat(path); err != nil {
		L.Push(lua.LString(fmt.Sprintf("no file %q (modules are looked up in the rule file's folder only)", path)))
		return 1
	}
	ch, err := e.chunks.get(name, path)
	if err != nil {
		// Reported at the module's own line, not at the require.
		var le *Error
		if errors.As(err, &le) {
			e.moduleErrs = append(e.moduleErrs, le)
		}
		L.RaiseError("%s", err.Error())
	}
	e.seen(ch)
	fn := L.NewFunctionFromProto(ch.proto)
	global := name[strings.LastIndexByte(name, '.')+1:]
	L.Push(L.NewFunction(func(L *lua.LState) int {
		L.Push(fn)
		L.Push(lua.LString(name))
		L.Call(1, 1)
		ret := L.Get(-1)
		if ret == lua.LNil {
			if g, ok := L.GetGlobal(global).(*lua.LTable); ok {
				L.Pop(1)
				L.Push(g)
			}
		}
		return 1
	}))
	return 1
}

// where is the file and line of the Lua code that called the Go function
// running in L.
func where(L *lua.LState) (string, int) {
	dbg, ok := L.GetStack(1)
	if !ok {
		return "", 0
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
		return "", 0
	}
	return dbg.Source, dbg.CurrentLine
}
