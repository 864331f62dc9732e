package luarules

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	lua "github.com/yuin/gopher-lua"
)

// Reading a rule table into an ngxtasks.Rule: the seed's fields, then
// ngxtasks's own, then the core's Validate, every problem named by the
// table's field.

// readRule checks a rule table. file and line are where it was pushed;
// the line naming its identifier in a table constructor is preferred.
func (e *env) readRule(L *lua.LState, tb *lua.LTable, file string, line int) (*ruleDef, []*Error) {
	id := tb.RawGetString("identifier")
	d := &ruleDef{table: tb}
	d.info.File, d.info.Line = file, line
	if f, l, ok := e.site(id, tb.RawGetString("name")); ok {
		d.info.File, d.info.Line = f, l
	}
	if d.info.File == "" {
		d.info.File = e.path
	}
	label := ""
	if s, ok := id.(lua.LString); ok {
		label = string(s)
	} else if s, ok := tb.RawGetString("name").(lua.LString); ok {
		label = string(s)
	}
	var errs []*Error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &Error{File: d.info.File, Line: d.info.Line, Rule: label, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch id := id.(type) {
	case lua.LString:
		d.info.Identifier = string(id)
	case *lua.LNilType:
		bad("identifier", "is missing: every rule needs a unique identifier string")
	default:
		bad("identifier", "must be a string, got a %s", id.Type())
	}
	switch n := tb.RawGetString("name").(type) {
	case *lua.LNilType:
	case lua.LString:
		d.info.Name = string(n)
	default:
		bad("name", "must be a string, got a %s", n.Type())
	}
	d.info.Interval = seconds(tb, "interval", true, bad)
	switch t := tb.RawGetString("typ").(type) {
	case lua.LString:
		typ, err := ngxtasks.ParseType(string(t))
		if err != nil {
			bad("typ", "must be 'normal' or 'preemption', got %q", string(t))
		}
		d.info.Type = typ
	case *lua.LNilType:
		bad("typ", "is missing: 'normal' (every worker) or 'preemption' (one worker)")
	default:
		bad("typ", "must be 'normal' or 'preemption', got a %s", t.Type())
	}
	switch cb := tb.RawGetString("callback").(type) {
	case *lua.LFunction:
		d.callback = cb
	case *lua.LNilType:
		bad("callback", "is missing: callback = function(self) … end")
	default:
		bad("callback", "must be a function, got a %s", cb.Type())
	}
	switch fl := tb.RawGetString("filter").(type) {
	case *lua.LNilType:
	case *lua.LFunction:
		d.filter = fl
		d.info.Filter = true
	default:
		bad("filter", "must be a function, got a %s", fl.Type())
	}
	// ngxtasks's own fields, which the seed's rules do not have.
	d.info.Timeout = e.file.opts.Timeout
	if tb.RawGetString("timeout") != lua.LNil {
		d.info.Timeout = seconds(tb, "timeout", false, bad)
	}
	if v := tb.RawGetString("drive"); v != lua.LNil {
		s, _ := v.(lua.LString)
		switch string(s) {
		case "any":
		case "timer":
			d.info.Drive = ngxtasks.DriveTimer
		case "request":
			d.info.Drive = ngxtasks.DriveRequest
		case "run":
			d.info.Drive = ngxtasks.DriveRun
		default:
			bad("drive", "must be 'any', 'timer', 'request' or 'run', got %s", L.ToStringMeta(v).String())
		}
	}
	d.info.Offset = seconds(tb, "offset", false, bad)
	d.info.Spread = flag(tb, "spread", bad)
	d.info.Background = flag(tb, "background", bad)
	d.rule = ngxtasks.Rule{
		Name: d.info.Name, Identifier: d.info.Identifier, Interval: d.info.Interval,
		Type: d.info.Type, Timeout: d.info.Timeout, Drive: d.info.Drive,
		Offset: d.info.Offset, Spread: d.info.Spread, Background: d.info.Background,
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// The core's own checks (identifier length, control characters…),
	// named by the rule table's field.
	check := d.rule
	check.Callback = func(context.Context, ngxtasks.Firing) error { return nil }
	if err := check.Validate(); err != nil {
		var re *ngxtasks.RuleError
		if errors.As(err, &re) {
			bad(luaField(re.Field), "%s", re.Problem)
		} else {
			bad("", "%v", err)
		}
		return nil, errs
	}
	return d, nil
}

// site finds where a rule table is written: the first table constructor
// not yet taken with the same identifier, or with the same name when the
// rule has no identifier.
func (e *env) site(id, name lua.LValue) (string, int, bool) {
	ids, _ := id.(lua.LString)
	names, _ := name.(lua.LString)
	if ids == "" && names == "" {
		return "", 0, false
	}
	for _, ch := range e.loaded {
		candidates := ch.scan.byID[string(ids)]
		if ids == "" {
			candidates = ch.scan.byName[string(names)]
		}
		for _, i := range candidates {
			if !e.taken[siteKey{ch, i}] {
				e.taken[siteKey{ch, i}] = true
				return ch.path, ch.scan.sites[i].line, true
			}
		}
	}
	return "", 0, false
}

type siteKey struct {
	ch *chunk
	i  int
}

// luaField is the rule table's name of a Rule field.
func luaField(goField string) string {
	if goField == "Type" {
		return "typ"
	}
	return strings.ToLower(goField)
}

// seconds reads a number of seconds (fractions allowed) as a duration.
// A numeric string ('60') is taken as Lua's arithmetic took it in the
// original.
func seconds(tb *lua.LTable, field string, required bool, bad func(string, string, ...any)) time.Duration {
	raw := tb.RawGetString(field)
	if s, ok := raw.(lua.LString); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64); err == nil {
			raw = lua.LNumber(f)
		}
	}
	switch v := raw.(type) {
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) || f*float64(time.Second) > math.MaxInt64 {
			bad(field, "must be a finite number of seconds, got %v", f)
			return 0
		}
		if required && f <= 0 {
			bad(field, "must be > 0 seconds, got %v", f)
			return 0
		}
		if f < 0 {
			bad(field, "must be >= 0 seconds, got %v", f)
			return 0
		}
		return time.Duration(f * float64(time.Second))
	case *lua.LNilType:
		if required {
			bad(field, "is missing: a number of seconds (fractions allowed)")
		}
	default:
		bad(field, "must be a number of seconds, got a %s", v.Type())
	}
	return 0
}

func flag(tb *lua.LTable, field string, bad func(string, string, ...any)) bool {
	switch v := tb.RawGetString(field).(type) {
	case *lua.LNilType:
		return false
	case lua.LBool:
		return bool(v)
	default:
		bad(field, "must be true or false, got a %s", v.Type())
	}
	return false
}
