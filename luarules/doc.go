// Package luarules runs ngx_tasks rule files, the Lua of OpenResty users,
// unchanged on ngxtasks: Load reads a file into rules, and each worker's
// Manager gets a Lua state of its own (File.Worker) in which the rules'
// callbacks run.
//
//	f, err := luarules.Load("rules.lua", luarules.Options{})
//	// for each worker:
//	w, err := f.Worker(luarules.WorkerConfig{ID: i, Dict: dict})
//	m := &ngxtasks.Manager{Dict: dict, Keys: w.Keys()}
//	err = m.Push(w.Rules()...)
//
// # What a file may be
//
// Both shapes of the seed: a module returning an array of rule tables
// (rules = {…}; return rules), and a script using the ngx_tasks module:
// tasks = require('ngx_tasks'); tasks:push(rule) (or tasks.push(rule));
// tasks.keys = function(self, task, now) … end; tasks.base_time = …;
// tasks = setmetatable(require('rules'), {__index = require('ngx_tasks')});
// tasks:run(). A file that only sets a global `rules` (the seed's DING/DONG
// snippet) has those rules, and so has a module required by that name.
// require finds sibling modules in the file's folder, nowhere else, so a
// file means the same on every host; require('ngx_tasks') is always the
// shim, even with a copy of the original ngx_tasks.lua in that folder.
// tasks:run() runs nothing: the Manager drives (its timer, Middleware or
// Run); tasks.dict is recorded (File.DictName), claims going to the
// Manager's Dict.
//
// A rule table has the seed's fields: identifier, name, interval (seconds,
// fractions allowed, a numeric string too), typ ('normal' or 'preemption'), callback =
// function(self) … end, and optionally filter = function(self) … end,
// asked before a claim (a false or nil result vetoes the run). ngxtasks's
// own fields may be added: timeout (seconds), drive ('any', 'timer',
// 'request', 'run'), offset (seconds), spread and background (booleans).
// Other fields are the user's, and self carries them.
//
// # The ngx shim
//
// Callbacks see an ngx table with what ngx_tasks callbacks use: ngx.log
// and its levels (into slog; print logs at NOTICE, as in OpenResty), ngx.now, time, today, localtime, utctime,
// update_time, sleep (which returns when the run's context ends),
// ngx.worker.id/pid/count, ngx.shared.DICT:get/set/add/incr/delete (kept in
// WorkerConfig.Dict), and for a run driven by a request ngx.var,
// ngx.req.get_headers/get_method/get_uri_args/set_header/clear_header,
// ngx.header, ngx.status, ngx.say, ngx.print, ngx.exit and ngx.redirect,
// which rewrite the response through the request's ngxtasks.Exchange. Load reports every other ngx field a file
// reads, with its file and line, before anything runs; one the scan
// cannot see (ngx[name]) fails when read, naming it.
//
// # Why gopher-lua
//
// github.com/yuin/gopher-lua is a Lua 5.1 virtual machine in pure Go: the
// dialect of LuaJIT, which OpenResty runs, with no cgo, so that programs
// cross-compile and build in scratch images as the rest of ngxtasks does.
// Its compiled code can be shared between states (one compile per file,
// one state per worker), and a state takes a context that stops a
// runaway callback at its next instruction. It is slower than LuaJIT;
// callbacks that need speed belong in Go. This package is a module of its
// own, so that only programs loading Lua rules link an interpreter.
//
// # Runs
//
// A file's top level runs once in Load, to validate it, and once in each
// Worker, as an nginx worker runs its init_worker_by_lua (twice there when
// the file sets tasks.keys: the generator has a state of its own). Top
// level code with effects beyond its state (ngx.shared, files) sees them
// repeated.
//
// Every Lua state belongs to one worker and runs one Lua function at a
// time (see Worker). A callback's failure (error(), a runtime error, a
// panic in the interpreter) is its run's error, an *Error naming the rule,
// the file and line of the rule and those of the failure; the process
// never crashes for it. A callback that outlives its rule's timeout is
// stopped at its next instruction, and its error matches
// context.DeadlineExceeded and ngxtasks.ErrTimeout.
package luarules
