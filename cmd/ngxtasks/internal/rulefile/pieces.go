package rulefile

import (
	"iter"
	"slices"

	"go.yaml.in/yaml/v4"
)

// A whole-document parse holds the YAML library's node tree of the whole
// file at once: for the largest file Load takes (8 MiB, 100,000 rules)
// about 250 MB, a hundred nodes and more per rule. A file that cuts
// cleanly (see cut: the usual block-style rules list) is therefore parsed
// in pieces: its head (the file without the rules' items) as one
// document, then the items a run at a time, each run walked and dropped
// before the next is parsed. Memory then grows with the rules' values,
// not with their syntax trees, and the collector has a small heap to
// scan.
//
// The pieces read as the whole file does. Cutting the text does not
// change its meaning: the `rules:` key is a key of the top-level block
// mapping (rulesHole checks it), the items start at one indentation in
// block context, and each ends before the next "- " at that indentation,
// which closes every block scalar, plain scalar and mapping of the item
// before; an item whose quotes or brackets run on into the next does
// not parse as an item of its own. Each node is placed where it is in the file,
// so the walk's messages are the whole parse's, in the same order. What
// the YAML parser itself says is not: its messages and positions depend
// on the text it was given. So when the head or a run of items is not
// YAML, or the head not as expected, the pieces are dropped and the
// whole file is parsed as one document, as it always was. FuzzParse
// checks that both ways agree, messages included.

// pieces is a file's rules list while it is parsed in pieces.
type pieces struct {
	list   *node // the head's node that stands for the items
	items  []item
	failed bool // a run of items did not parse as items
}

// parsePieces parses a file in pieces, as the comment above says. done
// is false when the file does not lend itself to it: then it is to be
// parsed whole.
func parsePieces(path, dir string, list listing, env Env) (done bool, f *File, err error) {
	if len(list.items) == 0 {
		return false, nil, nil
	}
	rec := newRecorder(env)
	d := &decoder{path: path, dir: dir, env: rec.env(), raw: env}
	head := make([]byte, 0, len(list.before)+len(list.after))
	head = append(append(head, list.before...), list.after...)
	body, ok := d.document(head)
	if !ok || body == nil {
		return false, nil, nil
	}
	// In head, after starts on the first item's line.
	shiftLines(body, list.items[0].line, list.afterLine-list.items[0].line)
	hole := rulesHole(body, list.rulesLine)
	if hole == nil {
		return false, nil, nil
	}
	// The hole becomes an empty list that stands for the items.
	*hole = node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: list.items[0].line, Column: hole.Column}
	d.pieces = &pieces{list: hole, items: list.items}
	f = d.file(body)
	if d.pieces.failed {
		return false, nil, nil
	}
	if err := d.errs.result(path); err != nil {
		return true, nil, err
	}
	f.src = newSource(dir, f, rec, &list)
	return true, f, nil
}

// rulesHole finds, in the head's top-level mapping, the value of the
// `rules:` key on rulesLine: with the items cut out it is empty. Anything
// else (the key nested elsewhere, the head not a block mapping: in a
// flow mapping `rules:` may start a line too, and block items are not
// allowed there) means the head does not read as the cut assumed, and
// nil sends the file to a whole parse.
func rulesHole(body *node, rulesLine int) *node {
	if body.Kind != yaml.MappingNode || body.Style&yaml.FlowStyle != 0 || refused(body) != "" {
		return nil
	}
	for i := 0; i+1 < len(body.Content); i += 2 {
		k, v := body.Content[i], body.Content[i+1]
		if k.Line != rulesLine || k.Column != 1 {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.Style == 0 && k.Value == "rules" && refused(k) == "" &&
			v.Kind == yaml.ScalarNode && v.Style == 0 && v.Tag == tagNull && v.Value == "" && refused(v) == "" {
			return v
		}
		return nil
	}
	return nil
}

// ruleNodes are a rules list's items with their indexes: n's own, or,
// when n stands for the items of a file parsed in pieces, the items
// parsed a run at a time (ahead of the walk, see ahead.go). Iteration
// stops at a run that does not parse as items: the pieces are then
// dropped for a whole parse.
func (d *decoder) ruleNodes(n *node) iter.Seq2[int, *node] {
	p := d.pieces
	if p == nil || p.list != n {
		return slices.All(n.Content)
	}
	return func(yield func(int, *node) bool) {
		var runs [][]item
		for rest := p.items; len(rest) > 0; {
			run := nextRun(rest)
			runs, rest = append(runs, run), rest[len(run):]
		}
		ahead := parseAhead(d.path, runs)
		defer ahead.close()
		i := 0
		for r := range runs {
			nodes, ok := ahead.run(r)
			if !ok {
				p.failed = true
				return
			}
			for _, n := range nodes {
				if !yield(i, n) {
					return
				}
				i++
			}
		}
	}
}

// ruleCount is how many items ruleNodes(n) has.
func (d *decoder) ruleCount(n *node) int {
	if p := d.pieces; p != nil && p.list == n {
		return len(p.items)
	}
	return len(n.Content)
}

// runBytes is about how much text of items is parsed at once. Parsing
// item by item would spend a third of the time setting up the YAML
// parser; a run of items is parsed in one go, and its node tree, a few
// megabytes, dropped before the next.
const runBytes = 64 << 10

// nextRun is the items at the start of items that make about runBytes,
// at least one.
func nextRun(items []item) []item {
	size := 0
	for i, it := range items {
		if size += len(it.text); size > runBytes && i > 0 {
			return items[:i]
		}
	}
	return items
}

// itemNodes parses a run of consecutive items as the items of a rules
// list (the YAML context they have in the file, one mapping level
// above, so that the nesting bound counts alike) and returns their
// nodes, placed as in the file. buf, when given, is reused for the text
// to parse: the YAML library copies what it keeps.
func (d *decoder) itemNodes(run []item, buf *[]byte) ([]*node, bool) {
	var text []byte
	if buf != nil {
		text = *buf
	}
	text = append(text[:0], "rules:\n"...)
	for _, it := range run {
		text = append(text, it.text...)
	}
	if buf != nil {
		*buf = text
	}
	body, ok := d.document(text)
	if !ok || body == nil || body.Kind != yaml.MappingNode || len(body.Content) != 2 {
		return nil, false
	}
	seq := body.Content[1]
	// As many entries as items: each item's "- " is an entry, none was
	// swallowed by the item before.
	if seq.Kind != yaml.SequenceNode || refused(seq) != "" || len(seq.Content) != len(run) {
		return nil, false
	}
	for _, n := range seq.Content {
		shiftLines(n, 1, run[0].line-2) // the text's line 2 is the run's first
	}
	return seq.Content, true
}

// shiftLines moves the nodes of n's tree placed on line from or after by
// lines.
func shiftLines(n *node, from, by int) {
	if n == nil || by == 0 {
		return
	}
	if n.Line >= from {
		n.Line += by
	}
	for _, c := range n.Content {
		shiftLines(c, from, by)
	}
}
