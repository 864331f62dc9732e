package luarules

import (
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The ngx shim: what ngx_tasks callbacks use of OpenResty's ngx API, in Go.
// Reading a field the shim lacks raises an error naming it, from the
// table's __index, and Load reports such fields before anything runs
// (scan.go). Sorted lists below are the shim's whole surface.

// ngxFields are the fields of ngx itself.
var ngxFields = map[string]bool{
	"log": true, "STDERR": true, "EMERG": true, "ALERT": true, "CRIT": true, "ERR": true,
	"WARN": true, "NOTICE": true, "INFO": true, "DEBUG": true,
	"now": true, "time": true, "today": true, "localtime": true, "utctime": true,
	"update_time": true, "sleep": true, "worker": true, "shared": true,
	"var": true, "req": true, "header": true, "status": true,
	"say": true, "print": true, "exit": true, "redirect": true,
	"OK": true, "ERROR": true, "AGAIN": true, "DONE": true, "DECLINED": true,
}

// fixedTables are ngx's tables with a fixed set of fields, which the scan
// checks too; ngx.shared, ngx.var and ngx.header take any name.
var fixedTables = map[string]bool{"worker": true, "req": true}

var subFields = map[string]bool{
	"worker.id": true, "worker.pid": true, "worker.count": true,
	"req.get_headers": true, "req.get_method": true, "req.get_uri_args": true,
	"req.set_header": true, "req.clear_header": true,
}

// httpStatuses are ngx.HTTP_* constants.
var httpStatuses = map[string]int{
	"HTTP_CONTINUE": 100, "HTTP_OK": 200, "HTTP_CREATED": 201, "HTTP_ACCEPTED": 202,
	"HTTP_NO_CONTENT": 204, "HTTP_PARTIAL_CONTENT": 206, "HTTP_SPECIAL_RESPONSE": 300,
	"HTTP_MOVED_PERMANENTLY": 301, "HTTP_MOVED_TEMPORARILY": 302, "HTTP_SEE_OTHER": 303,
	"HTTP_NOT_MODIFIED": 304, "HTTP_TEMPORARY_REDIRECT": 307, "HTTP_PERMANENT_REDIRECT": 308,
	"HTTP_BAD_REQUEST": 400, "HTTP_UNAUTHORIZED": 401, "HTTP_PAYMENT_REQUIRED": 402,
	"HTTP_FORBIDDEN": 403, "HTTP_NOT_FOUND": 404, "HTTP_NOT_ALLOWED": 405,
	"HTTP_NOT_ACCEPTABLE": 406, "HTTP_REQUEST_TIMEOUT": 408, "HTTP_CONFLICT": 409,
	"HTTP_GONE": 410, "HTTP_TOO_MANY_REQUESTS": 429, "HTTP_INTERNAL_SERVER_ERROR": 500,
	"HTTP_NOT_IMPLEMENTED": 501, "HTTP_BAD_GATEWAY": 502, "HTTP_SERVICE_UNAVAILABLE": 503,
	"HTTP_GATEWAY_TIMEOUT": 504,
}

// hints say what to do instead, for ngx fields a rule file may well use.
var hints = map[string]string{
	"timer":    "ngxtasks drives the rules itself (Manager.Start, Middleware or Run): drop the ngx.timer call",
	"ctx":      "keep per-run state in the rule table (self) instead",
	"location": "subrequests are not provided",
	"socket":   "cosockets are not provided; call out from Go, or use os/io",
}

// known says whether the shim has ngx field f ("timer", "worker.count").
func known(f string) bool {
	if m, ok := strings.CutPrefix(f, "shared.DICT:"); ok {
		return sharedMethods[m]
	}
	if i := strings.IndexByte(f, '.'); i >= 0 {
		return subFields[f]
	}
	_, status := httpStatuses[f]
	return ngxFields[f] || status
}

// missing is the message for an ngx field the shim lacks.
func missing(f string) string {
	msg := fmt.Sprintf("ngx.%s is not provided by ngxtasks's ngx shim", f)
	top := f
	if i := strings.IndexByte(f, '.'); i >= 0 {
		top = f[:i]
	}
	if h, ok := hints[top]; ok {
		msg += " (" + h + ")"
	}
	return msg
}

// nginx's log levels, as ngx.log takes them.
var levels = []struct {
	name  string
	slog  slog.Level
	value int
}{
	{"STDERR", slog.LevelError, 0}, {"EMERG", slog.LevelError, 1}, {"ALERT", slog.LevelError, 2},
	{"CRIT", slog.LevelError, 3}, {"ERR", slog.LevelError, 4}, {"WARN", slog.LevelWarn, 5},
	{"NOTICE", slog.LevelInfo, 6}, {"INFO", slog.LevelInfo, 7}, {"DEBUG", slog.LevelDebug, 8},
}

// ngx builds the ngx table of a state.
func (e *env) ngx(L *lua.LState) *lua.LTable {
	n := L.NewTable()
	set := func(k string, fn lua.LGFunction) { n.RawSetString(k, L.NewFunction(fn)) }
	for _, l := range levels {
		n.RawSetString(l.name, lua.LNumber(l.value))
	}
	for k, v := range httpStatuses {
		n.RawSetString(k, lua.LNumber(v))
	}
	for k, v := range map[string]int{"OK": 0, "ERROR": -1, "AGAIN": -2, "DONE": -4, "DECLINED": -5} {
		n.RawSetString(k, lua.LNumber(v))
	}
	set("log", e.ngxLog)
	set("now", func(L *lua.LState) int {
		L.Push(lua.LNumber(float64(e.now().UnixMilli()) / 1000))
		return 1
	})
	set("time", func(L *lua.LState) int {
		L.Push(lua.LNumber(e.now().Unix()))
		return 1
	})
	set("today", func(L *lua.LState) int {
		L.Push(lua.LString(e.now().Local().Format("2006-01-02")))
		return 1
	})
	set("localtime", func(L *lua.LState) int {
		L.Push(lua.LString(e.now().Local().Format("2006-01-02 15:04:05")))
		return 1
	})
	set("utctime", func(L *lua.LState) int {
		L.Push(lua.LString(e.now().UTC().Format("2006-01-02 15:04:05")))
		return 1
	})
	set("update_time", func(*lua.LState) int { return 0 })
	set("sleep", e.ngxSleep)
	set("say", func(L *lua.LState) int { return e.output(L, true) })
	set("print", func(L *lua.LState) int { return e.output(L, false) })
	set("exit", e.ngxExit)
	set("redirect", e.ngxRedirect)

	worker := L.NewTable()
	worker.RawSetString("id", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(e.cfg.ID))
		return 1
	}))
	worker.RawSetString("pid", L.NewFunction(func(L *lua.LState) int {
		pid := e.cfg.PID
		if pid == 0 {
			pid = os.Getpid()
		}
		L.Push(lua.LNumber(pid))
		return 1
	}))
	worker.RawSetString("count", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(max(e.cfg.Count, 1)))
		return 1
	}))
	L.SetMetatable(worker, strictMeta(L, "worker"))
	n.RawSetString("worker", worker)
	n.RawSetString("shared", e.sharedTable(L))
	n.RawSetString("var", e.varTable(L))
	n.RawSetString("header", e.headerTable(L))
	n.RawSetString("req", e.reqTable(L))

	// ngx.status is read and written through the metatable, per run;
	// other missing fields are an error naming them.
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		k := L.CheckString(2)
		if k == "status" {
			r := e.request(L, "ngx.status")
			L.Push(lua.LNumber(r.status))
			return 1
		}
		L.RaiseError("%s", missing(k))
		return 0
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		k := L.Get(2)
		if k == lua.LString("status") {
			r := e.request(L, "ngx.status")
			r.status = L.CheckInt(3)
			return 0
		}
		L.RawSet(L.CheckTable(1), k, L.Get(3))
		return 0
	}))
	L.SetMetatable(n, mt)
	e.exitMarker = L.NewUserData()
	return n
}

// strictMeta makes reading a missing field of ngx.<table> an error.
func strictMeta(L *lua.LState, table string) *lua.LTable {
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s", missing(table+"."+L.CheckString(2)))
		return 0
	}))
	return mt
}

// ngxLog is ngx.log(level, ...): the arguments concatenated, as nginx
// does, logged at the slog level nearest nginx's, with the nginx level,
// the Lua file:line and the rule running.
func (e *env) ngxLog(L *lua.LState) int {
	e.logAt(L, L.CheckInt(1), 2)
	return 0
}

// luaPrint is Lua's print, which in OpenResty writes to the error log at
// NOTICE, as here: a worker's stdout may be no place for it.
func (e *env) luaPrint(L *lua.LState) int {
	e.logAt(L, 6, 1)
	return 0
}

// logAt logs the arguments from index first on at nginx level lvl.
func (e *env) logAt(L *lua.LState, lvl, first int) {
	sl, name := slog.LevelInfo, "INFO"
	for _, l := range levels {
		if l.value == lvl {
			sl, name = l.slog, l.name
		}
	}
	ctx := e.baseCtx(L)
	if !e.logger.Enabled(ctx, sl) {
		return
	}
	var b strings.Builder
	for i := first; i <= L.GetTop(); i++ {
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	file, line := where(L)
	attrs := []any{"ngx_level", strings.ToLower(name), "lua", fmt.Sprintf("%s:%d", file, line)}
	if r := e.runOf(L); r != nil {
		attrs = append(attrs, "rule", r.def.info.Identifier)
	}
	e.logger.Log(ctx, sl, b.String(), attrs...)
}

// ngxSleep is ngx.sleep(seconds). It lets go of the worker's Lua state
// while it waits, as a sleeping callback yields its nginx worker to the
// others, and returns early when the run's context ends (the callback's
// next instruction then stops it).
func (e *env) ngxSleep(L *lua.LState) int {
	d := time.Duration(float64(L.CheckNumber(1)) * float64(time.Second))
	r := e.runOf(L)
	if r == nil {
		L.RaiseError("ngx.sleep is only available in a callback")
	}
	if d <= 0 {
		return 0
	}
	t := time.NewTimer(d)
	defer t.Stop()
	// The state's record of the running coroutine is shared by its
	// threads: another callback may change it while this one sleeps.
	current := L.G.CurrentThread
	e.mu.Unlock()
	select {
	case <-t.C:
	case <-r.ctx.Done():
	}
	e.mu.Lock()
	L.G.CurrentThread = current
	if e.closed {
		L.RaiseError("the worker was closed while ngx.sleep waited")
	}
	return 0
}

// sortedKeys is for tables built from Go maps: the same order every run.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
