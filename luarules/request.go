package luarules

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/ngxtasks/ngxtasks"
	lua "github.com/yuin/gopher-lua"
)

// Per-request mode: a rule driven by an HTTP request (Manager.Middleware)
// sees the request through ngx.var, ngx.req and reads and writes its
// response through ngx.header, ngx.status, ngx.say, ngx.print and
// ngx.exit, as a rewrite_by_lua handler does in nginx. All of it maps onto
// the run's ngxtasks.Exchange: headers are set on the response as the
// callback sets them; once the callback returns, a body (ngx.say, ngx.print)
// or ngx.exit with a status of 200 or more answers the request in place of
// the handler (Exchange.Respond), and ngx.status alone changes the
// handler's status (Exchange.Rewrite); ngx.redirect sets Location and
// exits with its status; ngx.req.set_header changes the request the
// handler gets. A callback that fails changes no status and no body.

// run is one call of a Lua function of a rule, in one thread of the
// worker's state.
type run struct {
	ctx    context.Context
	def    *ruleDef
	ex     *ngxtasks.Exchange
	status int    // ngx.status
	body   []byte // ngx.say and ngx.print
	said   bool
	exit   int // ngx.exit's status
	exited bool
}

// runOf is the run of the thread L, or of the thread that resumed the
// coroutine L is; nil outside a run.
func (e *env) runOf(L *lua.LState) *run {
	for l, depth := L, 0; l != nil && depth < 256; l, depth = l.Parent, depth+1 {
		if tr := e.runs[l]; tr != nil && tr.active {
			return &tr.run
		}
	}
	return nil
}

// request is the run of the thread L, which must have a request; what
// names the ngx field for the error.
func (e *env) request(L *lua.LState, what string) *run {
	r := e.runOf(L)
	if r == nil {
		L.RaiseError("%s is only available in a callback run by a request", what)
	}
	if r.ex == nil {
		L.RaiseError("%s needs a request, and rule %q ran without one (driven by a timer or Run, or background); give it drive = 'request'", what, r.def.info.Identifier)
	}
	return r
}

// finish applies what the run's callback wrote to the exchange.
func (r *run) finish() {
	if r.ex == nil {
		return
	}
	switch {
	case r.said || (r.exited && r.exit >= 200):
		status := r.status
		if r.exited && r.exit >= 200 {
			status = r.exit
		}
		if status == 0 {
			status = http.StatusOK
		}
		r.ex.Respond(status, r.body)
	case r.status != 0:
		st := r.status
		r.ex.Rewrite(func(res *ngxtasks.Response) { res.Status = st })
	}
}

// output is ngx.say (newline) and ngx.print: strings, numbers, booleans,
// nil, and arrays of them, as nginx flattens them.
func (e *env) output(L *lua.LState, newline bool) int {
	r := e.request(L, "ngx.say/ngx.print")
	var add func(v lua.LValue)
	add = func(v lua.LValue) {
		switch v := v.(type) {
		case *lua.LTable:
			for i := 1; i <= v.Len(); i++ {
				add(v.RawGetInt(i))
			}
		case *lua.LNilType:
			r.body = append(r.body, "nil"...)
		default:
			r.body = append(r.body, L.ToStringMeta(v).String()...)
		}
	}
	for i := 1; i <= L.GetTop(); i++ {
		add(L.Get(i))
	}
	if newline {
		r.body = append(r.body, '\n')
	}
	r.said = true
	L.Push(lua.LNumber(1))
	return 1
}

// ngxExit is ngx.exit(status): it ends the callback there, as in nginx,
// where a timer's handler may call it too; the status then goes nowhere.
func (e *env) ngxExit(L *lua.LState) int {
	r := e.runOf(L)
	if r == nil {
		L.RaiseError("ngx.exit is only available in a callback")
	}
	r.exit = L.CheckInt(1)
	r.exited = true
	L.Error(e.exitMarker, 0)
	return 0
}

// ngxRedirect is ngx.redirect(uri, status): Location, and ngx.exit with
// the status (302 by default).
func (e *env) ngxRedirect(L *lua.LState) int {
	r := e.request(L, "ngx.redirect")
	uri := L.CheckString(1)
	status := L.OptInt(2, http.StatusFound)
	switch status {
	case 301, 302, 303, 307, 308:
	default:
		L.ArgError(2, "ngx.redirect: status must be 301, 302, 303, 307 or 308")
	}
	r.ex.Header().Set("Location", uri)
	r.exit = status
	r.exited = true
	L.Error(e.exitMarker, 0)
	return 0
}

// varTable is ngx.var: request variables by nginx's names.
func (e *env) varTable(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(2)
		req := e.request(L, "ngx.var."+name).ex.Request
		v, ok := variable(req, name)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LString(v))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("ngx.var.%s cannot be set here", L.CheckString(2))
		return 0
	}))
	L.SetMetatable(t, mt)
	return t
}

// variable is nginx's variable name of the request.
func variable(r *http.Request, name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, "arg_"):
		q := r.URL.Query()
		if vs, ok := q[name[4:]]; ok && len(vs) > 0 {
			return vs[0], true
		}
		return "", false
	case strings.HasPrefix(name, "http_"):
		v := r.Header.Values(strings.ReplaceAll(name[5:], "_", "-"))
		if len(v) == 0 {
			return "", false
		}
		return strings.Join(v, ", "), true
	case strings.HasPrefix(name, "cookie_"):
		c, err := r.Cookie(name[7:])
		if err != nil {
			return "", false
		}
		return c.Value, true
	}
	switch name {
	case "uri", "document_uri":
		return r.URL.Path, true
	case "request_uri":
		return r.URL.RequestURI(), true
	case "args", "query_string":
		return r.URL.RawQuery, r.URL.RawQuery != ""
	case "is_args":
		if r.URL.RawQuery != "" {
			return "?", true
		}
		return "", true
	case "host":
		h := r.Host
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		return h, true
	case "request_method":
		return r.Method, true
	case "scheme":
		if r.TLS != nil {
			return "https", true
		}
		return "http", true
	case "server_protocol":
		return r.Proto, true
	case "remote_addr", "remote_port":
		host, port, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr, name == "remote_addr"
		}
		if name == "remote_port" {
			return port, true
		}
		return host, true
	case "content_type":
		v := r.Header.Get("Content-Type")
		return v, v != ""
	case "content_length":
		if r.ContentLength < 0 {
			return "", false
		}
		return strconv.FormatInt(r.ContentLength, 10), true
	}
	return "", false
}

// headerName is nginx's spelling of a header in ngx.header and
// get_headers: underscores stand for hyphens, case does not matter.
func headerName(k string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-"))
}

// headerTable is ngx.header: the response's headers.
func (e *env) headerTable(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		k := L.CheckString(2)
		h := e.request(L, "ngx.header").ex.Header()
		L.Push(headerValue(L, h.Values(headerName(k))))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		k := headerName(L.CheckString(2))
		h := e.request(L, "ngx.header").ex.Header()
		switch v := L.Get(3).(type) {
		case *lua.LNilType:
			h.Del(k)
		case *lua.LTable:
			h.Del(k)
			for i := 1; i <= v.Len(); i++ {
				h.Add(k, L.ToStringMeta(v.RawGetInt(i)).String())
			}
		default:
			h.Set(k, L.ToStringMeta(v).String())
		}
		return 0
	}))
	L.SetMetatable(t, mt)
	return t
}

// headerValue is a header's values as ngx_lua gives them: nil, a string,
// or an array of strings.
func headerValue(L *lua.LState, vs []string) lua.LValue {
	switch len(vs) {
	case 0:
		return lua.LNil
	case 1:
		return lua.LString(vs[0])
	}
	t := L.CreateTable(len(vs), 0)
	for _, v := range vs {
		t.Append(lua.LString(v))
	}
	return t
}

// reqTable is ngx.req.
func (e *env) reqTable(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("get_headers", L.NewFunction(func(L *lua.LState) int {
		req := e.request(L, "ngx.req.get_headers").ex.Request
		out := L.CreateTable(0, len(req.Header))
		for _, k := range sortedKeys(req.Header) {
			out.RawSetString(strings.ToLower(k), headerValue(L, req.Header[k]))
		}
		if req.Host != "" && out.RawGetString("host") == lua.LNil {
			out.RawSetString("host", lua.LString(req.Host))
		}
		// h["Content-Type"] and h.content_type find "content-type", as in ngx_lua.
		mt := L.NewTable()
		mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
			k := strings.ToLower(strings.ReplaceAll(L.CheckString(2), "_", "-"))
			L.Push(L.RawGet(L.CheckTable(1), lua.LString(k)))
			return 1
		}))
		L.SetMetatable(out, mt)
		L.Push(out)
		return 1
	}))
	// set_header and clear_header change the request the handler gets.
	t.RawSetString("set_header", L.NewFunction(func(L *lua.LState) int {
		req := e.request(L, "ngx.req.set_header").ex.Request
		k := headerName(L.CheckString(1))
		switch v := L.Get(2).(type) {
		case *lua.LNilType:
			req.Header.Del(k)
		case *lua.LTable:
			req.Header.Del(k)
			for i := 1; i <= v.Len(); i++ {
				req.Header.Add(k, L.ToStringMeta(v.RawGetInt(i)).String())
			}
		default:
			req.Header.Set(k, L.ToStringMeta(v).String())
		}
		return 0
	}))
	t.RawSetString("clear_header", L.NewFunction(func(L *lua.LState) int {
		e.request(L, "ngx.req.clear_header").ex.Request.Header.Del(headerName(L.CheckString(1)))
		return 0
	}))
	t.RawSetString("get_method", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(e.request(L, "ngx.req.get_method").ex.Request.Method))
		return 1
	}))
	t.RawSetString("get_uri_args", L.NewFunction(func(L *lua.LState) int {
		q := e.request(L, "ngx.req.get_uri_args").ex.Request.URL.Query()
		out := L.CreateTable(0, len(q))
		for _, k := range sortedKeys(q) {
			vs := q[k]
			if len(vs) == 1 && vs[0] == "" {
				out.RawSetString(k, lua.LTrue) // ?flag, as ngx_lua gives it
				continue
			}
			out.RawSetString(k, headerValue(L, vs))
		}
		L.Push(out)
		return 1
	}))
	L.SetMetatable(t, strictMeta(L, "req"))
	return t
}
