package rulefile

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

// document parses the YAML and returns its one document's body (nil for
// an empty file). The parser stops at the first syntax error, so a file
// that is not YAML gets one error; every other mistake is found by
// walking the tree. Duplicate keys are let through the parser and
// reported by the walk, with the others.
func (d *decoder) document(data []byte) (body *node, ok bool) {
	defer func() {
		// The YAML library is not ours; a panic in it must not take the
		// master down.
		if r := recover(); r != nil {
			d.atPos(Pos{1, 1}, place{}, fmt.Sprintf("the YAML parser failed on this file (%v)", r))
			body, ok = nil, false
		}
	}()
	if p, bad := firstInvalidUTF8(data); bad {
		d.atPos(p, place{}, "the file is not valid UTF-8 (a byte here is not part of any character); save it as UTF-8")
		return nil, false
	}
	var docs []node
	err := yaml.Load(data, &docs, yaml.WithAllDocuments(), yaml.WithUniqueKeys(false), yaml.WithPlugin(limits{}))
	if err != nil {
		p, msg := Pos{1, 1}, err.Error()
		var le *yaml.LoadError
		if errors.As(err, &le) {
			msg = le.Message
			if le.Mark.Line > 0 {
				p = Pos{le.Mark.Line, max(le.Mark.Column, 1)}
			}
		}
		if errors.Is(err, errTooDeep) || msg == errTooDeep.Error() { // the library keeps only the message
			d.atPos(p, place{}, fmt.Sprintf("nested more than %d levels deep; a rule file needs six", maxDepth))
		} else {
			d.atPos(p, place{}, "invalid YAML: "+msg)
		}
		return nil, false
	}
	var bodies []*node
	for i := range docs {
		if len(docs[i].Content) > 0 && docs[i].Content[0] != nil {
			bodies = append(bodies, docs[i].Content[0])
		}
	}
	switch len(bodies) {
	case 0:
		return nil, true
	case 1:
		return bodies[0], true
	}
	d.at(bodies[1], place{}, "a rule file is one YAML document; this is a second one (after ---)")
	return nil, false
}

// maxDepth bounds nesting, in flow collections ([[…]], {a: {…}}) and in
// indentation (a block sequence on one line, - - - x, nests too). A rule
// file nests six levels at most (rules, a rule, exec, env, …); the YAML
// library's own bound is 10,000.
const maxDepth = 64

var errTooDeep = errors.New("nested too deep")

// limits is the YAML library's loader-limits plugin with the file's
// nesting bound. It has nothing to say about aliases: the walk refuses
// them, and a tree of nodes does not expand them.
type limits struct{}

func (limits) CheckDepth(depth int, _ *yaml.DepthContext) error {
	if depth > maxDepth {
		return errTooDeep
	}
	return nil
}

func (limits) CheckAlias(aliasCount, constructCount int) error { return nil }

// firstInvalidUTF8 finds the first byte that is not part of a UTF-8
// character. A YAML file is text; a mangled byte in an id would otherwise
// become U+FFFD, and two ids could differ only in what was lost.
func firstInvalidUTF8(data []byte) (Pos, bool) {
	if utf8.Valid(data) {
		return Pos{}, false
	}
	p := Pos{1, 1}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return p, true
		}
		if r == '\n' {
			p.Line, p.Column = p.Line+1, 1
		} else {
			p.Column++
		}
		i += size
	}
	return Pos{}, false // not reached: utf8.Valid said otherwise
}
