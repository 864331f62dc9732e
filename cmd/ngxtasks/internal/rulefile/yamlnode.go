package rulefile

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// Pos is a place in the rule file, 1-based.
type Pos struct{ Line, Column int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// posOf is where a node starts as a reader sees it. A block mapping's own
// token is its first colon, so a mapping is placed at its first key; a node
// without a token (go-yaml leaves some out) is placed at 1:1 rather than
// nowhere, so that every error has a line.
func posOf(n ast.Node) Pos {
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && m.Values[0] != nil && m.Values[0].Key != nil {
		n = m.Values[0].Key
	}
	if n == nil {
		return Pos{1, 1}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{1, 1}
	}
	return Pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
}

// describe names a node's YAML kind for "must be X, got Y" messages.
func describe(n ast.Node) string {
	switch n := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode:
		return "null"
	case *ast.BoolNode:
		return fmt.Sprintf("%v", n.Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + clip(n.GetToken().Value)
	case *ast.StringNode:
		return quote(n.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.AliasNode:
		return "an alias"
	case *ast.AnchorNode:
		return "an anchor"
	case *ast.TagNode:
		return "a tagged value"
	}
	return "something else"
}

// scalar is a scalar's text. Numbers and booleans count as their source
// text, so that `id: 007` is "007" and `name: yes` is "yes": a field that
// wants text takes what the user typed. Null, collections and the YAML
// features the format refuses are not scalars.
func scalar(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		if n.Value == nil {
			return "", true
		}
		return n.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		tk := n.GetToken()
		if tk == nil {
			return "", false
		}
		return tk.Value, true
	}
	return "", false
}

// refused says why a node uses a YAML feature the format does not take,
// or "" when it does not. Anchors, aliases and merge keys would let one
// place in the file define a rule that reads elsewhere, and make expansion
// (and its cost) depend on references; tags would change how a value is
// read. A rule file spells every rule out.
func refused(n ast.Node) string {
	switch n := n.(type) {
	case *ast.AnchorNode:
		return "YAML anchors (&" + anchorName(n.Name) + ") are not supported: write each rule out in full"
	case *ast.AliasNode:
		return "YAML aliases (*" + anchorName(n.Value) + ") are not supported: write each rule out in full"
	case *ast.MergeKeyNode:
		return "YAML merge keys (<<) are not supported: write each rule out in full"
	case *ast.TagNode:
		tag := ""
		if n.Start != nil {
			tag = n.Start.Value
		}
		return "YAML tags (" + clip(tag) + ") are not supported: quote a value to make it text"
	}
	return ""
}

func anchorName(n ast.Node) string {
	if n == nil {
		return ""
	}
	if s, ok := scalar(n); ok {
		return clip(s)
	}
	return ""
}
