package luarules

import (
	lua "github.com/yuin/gopher-lua"
)

// The ngx_tasks module, as a rule file sees it through require: the seed's
// API (push, remove, run, dict, keys, base_time) with the drive taken over
// by Go. push and remove collect rules; run, which in nginx was the drive
// step, only marks its table (self) as one whose array part holds rules,
// for the "rules import" form setmetatable(require('rules'), {__index =
// require('ngx_tasks')}). Nothing runs at load: the Manager drives.

// tasks is what one state's ngx_tasks module collected.
type tasks struct {
	module *lua.LTable   // the table require('ngx_tasks') returns
	pushed []pushedRule  // push calls, in order, less those removed
	ran    []*lua.LTable // the tables passed to run as self
}

type pushedRule struct {
	table *lua.LTable
	file  string
	line  int
}

// defaultDictName is the seed's default shared dictionary.
const defaultDictName = "PreemptionTasks"

func (e *env) tasksModule(L *lua.LState) *lua.LTable {
	t := &e.tasks
	m := L.NewTable()
	m.RawSetString("dict", lua.LString(defaultDictName))
	// push accepts tasks:push(rule) and tasks.push(rule), as the seed's
	// README writes both.
	m.RawSetString("push", L.NewFunction(func(L *lua.LState) int {
		rule := L.Get(1)
		if L.GetTop() >= 2 {
			rule = L.Get(2)
		}
		tb, ok := rule.(*lua.LTable)
		if !ok {
			L.RaiseError("ngx_tasks.push: the rule must be a table, got %s", rule.Type())
		}
		file, line := where(L)
		t.pushed = append(t.pushed, pushedRule{table: tb, file: file, line: line})
		return 0
	}))
	// remove accepts tasks:remove(id) and tasks.remove(id).
	m.RawSetString("remove", L.NewFunction(func(L *lua.LState) int {
		id := L.Get(L.GetTop())
		kept := t.pushed[:0]
		for _, p := range t.pushed {
			if p.table.RawGetString("identifier") != id {
				kept = append(kept, p)
			}
		}
		t.pushed = kept
		return 0
	}))
	m.RawSetString("run", L.NewFunction(func(L *lua.LState) int {
		if self, ok := L.Get(1).(*lua.LTable); ok && self != t.module {
			t.ran = append(t.ran, self)
		}
		return 0
	}))
	return m
}

// holders are the tables that may carry keys, base_time and dict, in the
// order they are looked at: the tables run was called on (the seed's
// rules import), the file's returned table, the module itself.
func (t *tasks) holders(ret lua.LValue) []*lua.LTable {
	var hs []*lua.LTable
	hs = append(hs, t.ran...)
	if r, ok := ret.(*lua.LTable); ok {
		hs = append(hs, r)
	}
	return append(hs, t.module)
}
