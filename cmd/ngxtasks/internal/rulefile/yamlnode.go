package rulefile

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Pos is a place in the rule file, 1-based.
type Pos struct{ Line, Column int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// node is the YAML library's syntax tree node, named once here so that
// the walk reads as what it is.
type node = yaml.Node

// posOf is where a node starts as a reader sees it: a mapping is placed
// at its first key (a flow mapping's brace is not what a reader looks
// for), and a node without a position at 1:1 rather than nowhere, so that
// every error has a line.
func posOf(n *node) Pos {
	if n != nil && n.Kind == yaml.MappingNode && len(n.Content) > 0 && n.Content[0] != nil {
		n = n.Content[0]
	}
	if n == nil {
		return Pos{1, 1}
	}
	return Pos{max(n.Line, 1), max(n.Column, 1)}
}

// Scalar tags as the library resolves plain scalars (YAML 1.2's core
// schema: yes and on are text).
const (
	tagNull  = "!!null"
	tagBool  = "!!bool"
	tagInt   = "!!int"
	tagFloat = "!!float"
)

// isNull is a value left out (`timeout:`) or written as null or ~.
func isNull(n *node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == tagNull && refused(n) == ""
}

// describe names a node's YAML kind for "must be X, got Y" messages.
func describe(n *node) string {
	switch {
	case n == nil:
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	case n.Kind != yaml.ScalarNode:
		return "something else"
	case n.Tag == tagNull:
		return "null"
	case n.Tag == tagBool:
		return n.Value
	case n.Tag == tagInt, n.Tag == tagFloat:
		return "the number " + clip(n.Value)
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return "a block of text"
	}
	return quote(n.Value)
}

// scalar is a scalar's text. Numbers and booleans count as their source
// text, so that `id: 007` is "007" and `name: yes` is "yes": a field that
// wants text takes what the user typed. Null, collections and the YAML
// features the format refuses are not scalars.
func scalar(n *node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == tagNull || refused(n) != "" {
		return "", false
	}
	return n.Value, true
}

// parseInt reads an integer scalar as YAML 1.2 writes it: decimal, 0x, 0o.
func parseInt(s string) (int64, error) {
	digits, base := s, 10
	sign := ""
	if rest, ok := strings.CutPrefix(digits, "-"); ok {
		sign, digits = "-", rest
	} else {
		digits = strings.TrimPrefix(digits, "+")
	}
	if rest, ok := strings.CutPrefix(digits, "0x"); ok {
		digits, base = rest, 16
	} else if rest, ok := strings.CutPrefix(digits, "0o"); ok {
		digits, base = rest, 8
	}
	return strconv.ParseInt(sign+digits, base, 64)
}

// refused says why a node uses a YAML feature the format does not take,
// or "" when it does not. Anchors, aliases and merge keys would let one
// place in the file define a rule that reads elsewhere, and make expansion
// (and its cost) depend on references; tags would change how a value is
// read. A rule file spells every rule out.
func refused(n *node) string {
	switch {
	case n == nil:
		return ""
	case n.Anchor != "":
		return "YAML anchors (&" + clip(n.Anchor) + ") are not supported: write each rule out in full"
	case n.Kind == yaml.AliasNode:
		return "YAML aliases (*" + clip(n.Value) + ") are not supported: write each rule out in full"
	case n.Kind == yaml.ScalarNode && n.Tag == "!!merge" && n.Value == "<<":
		return "YAML merge keys (<<) are not supported: write each rule out in full"
	case n.Style&yaml.TaggedStyle != 0:
		return "YAML tags (" + clip(n.Tag) + ") are not supported: quote a value to make it text"
	}
	return ""
}
