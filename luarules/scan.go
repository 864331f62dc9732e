package luarules

import (
	"github.com/yuin/gopher-lua/ast"
)

// A static look at a file's syntax tree, before any of it runs: which ngx
// fields it reads (so that a call the shim lacks is reported at load, with
// its line, even inside a callback that would run only hours later), and
// on which line each rule table names its identifier (for RuleInfo).

// ngxUse is one `ngx.X` (or `ngx.X.Y` under a table the shim fixes) in the source.
type ngxUse struct {
	field string // "timer", or "worker.count"
	line  int
}

// scan walks a chunk's syntax tree.
type scan struct {
	uses  []ngxUse
	sites []ruleSite // table constructors that look like rules, in source order
	// byID and byName index sites by identifier, and by name for sites
	// with no identifier: a file of many rules is matched in linear time.
	byID, byName map[string][]int
}

// ruleSite is a table constructor with a rule's fields: where a rule table
// is written. line is that of its identifier field, or of its first
// field when it names none.
type ruleSite struct {
	identifier, name string
	line             int
}

func scanChunk(chunk []ast.Stmt) *scan {
	s := &scan{byID: map[string][]int{}, byName: map[string][]int{}}
	s.stmts(chunk)
	for i, site := range s.sites {
		switch {
		case site.identifier != "":
			s.byID[site.identifier] = append(s.byID[site.identifier], i)
		case site.name != "":
			s.byName[site.name] = append(s.byName[site.name], i)
		}
	}
	return s
}

func (s *scan) stmts(list []ast.Stmt) {
	for _, st := range list {
		s.stmt(st)
	}
}

func (s *scan) exprs(list []ast.Expr) {
	for _, e := range list {
		s.expr(e)
	}
}

func (s *scan) stmt(st ast.Stmt) {
	switch st := st.(type) {
	case *ast.AssignStmt:
		s.exprs(st.Lhs)
		s.exprs(st.Rhs)
	case *ast.LocalAssignStmt:
		s.exprs(st.Exprs)
	case *ast.FuncCallStmt:
		s.expr(st.Expr)
	case *ast.DoBlockStmt:
		s.stmts(st.Stmts)
	case *ast.WhileStmt:
		s.expr(st.Condition)
		s.stmts(st.Stmts)
	case *ast.RepeatStmt:
		s.stmts(st.Stmts)
		s.expr(st.Condition)
	case *ast.IfStmt:
		s.expr(st.Condition)
		s.stmts(st.Then)
		s.stmts(st.Else)
	case *ast.NumberForStmt:
		s.expr(st.Init)
		s.expr(st.Limit)
		s.expr(st.Step)
		s.stmts(st.Stmts)
	case *ast.GenericForStmt:
		s.exprs(st.Exprs)
		s.stmts(st.Stmts)
	case *ast.FuncDefStmt:
		if st.Name != nil {
			s.expr(st.Name.Func)
			s.expr(st.Name.Receiver)
		}
		s.expr(st.Func)
	case *ast.ReturnStmt:
		s.exprs(st.Exprs)
	}
}

func (s *scan) expr(e ast.Expr) {
	switch e := e.(type) {
	case nil:
	case *ast.AttrGetExpr:
		if f, ok := ngxField(e); ok {
			s.uses = append(s.uses, ngxUse{field: f, line: e.Line()})
			return
		}
		s.expr(e.Object)
		s.expr(e.Key)
	case *ast.TableExpr:
		// gopher-lua gives a table constructor no line: its first field's is taken.
		site, isRule := ruleSite{}, false
		for _, f := range e.Fields {
			for _, x := range []ast.Expr{f.Key, f.Value} {
				if x != nil && x.Line() > 0 && (site.line == 0 || x.Line() < site.line) {
					site.line = x.Line()
				}
			}
			k, ok := f.Key.(*ast.StringExpr)
			if ok && ruleFields[k.Value] {
				isRule = true
			}
			if v, isStr := f.Value.(*ast.StringExpr); ok && isStr {
				switch k.Value {
				case "identifier":
					site.identifier = v.Value
				case "name":
					site.name = v.Value
				}
			}
			s.expr(f.Key)
			s.expr(f.Value)
		}
		if isRule {
			for _, f := range e.Fields {
				if k, ok := f.Key.(*ast.StringExpr); ok && k.Value == "identifier" && f.Value.Line() > 0 {
					site.line = f.Value.Line()
				}
			}
			s.sites = append(s.sites, site)
		}
	case *ast.FuncCallExpr:
		if dict, ok := e.Receiver.(*ast.AttrGetExpr); ok && e.Method != "" {
			if shared, ok := dict.Object.(*ast.AttrGetExpr); ok {
				if f, ok := ngxField(shared); ok && f == "shared" { // ngx.shared.DICT:method(…)
					line := e.Line()
					if line == 0 {
						line = dict.Line()
					}
					s.uses = append(s.uses, ngxUse{field: "shared.DICT:" + e.Method, line: line})
				}
			}
		}
		s.expr(e.Func)
		s.expr(e.Receiver)
		s.exprs(e.Args)
	case *ast.LogicalOpExpr:
		s.expr(e.Lhs)
		s.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		s.expr(e.Lhs)
		s.expr(e.Rhs)
	case *ast.StringConcatOpExpr:
		s.expr(e.Lhs)
		s.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		s.expr(e.Lhs)
		s.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		s.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		s.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		s.expr(e.Expr)
	case *ast.FunctionExpr:
		s.stmts(e.Stmts)
	}
}

// ruleFields mark a table constructor as a rule's.
var ruleFields = map[string]bool{"identifier": true, "interval": true, "typ": true, "callback": true}

// ngxField recognises ngx.X, and ngx.X.Y where X is one of the shim's
// tables with a fixed set of fields (ngx.worker, ngx.req). A local named
// ngx shadowing the global is taken for it: files that do so are rare, and
// at worst the scan reports a field the shim lacks.
func ngxField(e *ast.AttrGetExpr) (string, bool) {
	key, ok := e.Key.(*ast.StringExpr)
	if !ok {
		return "", false
	}
	switch obj := e.Object.(type) {
	case *ast.IdentExpr:
		if obj.Value == "ngx" {
			return key.Value, true
		}
	case *ast.AttrGetExpr:
		if id, ok := obj.Object.(*ast.IdentExpr); ok && id.Value == "ngx" {
			if k, ok := obj.Key.(*ast.StringExpr); ok && fixedTables[k.Value] {
				return k.Value + "." + key.Value, true
			}
		}
	}
	return "", false
}
