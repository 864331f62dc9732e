package rulefile

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"slices"
)

// A rule file of 10,000 rules takes the YAML parser a few hundred
// milliseconds, and a reload usually changes a few rules. Reparse parses
// only those, when the file allows it: its rules list is in block style,
// each rule an item starting with "- " at one indentation, so that the
// text of each rule can be cut out without a parser; everything else
// (the head) is unchanged; and what the last parse read from outside —
// env files and variables — reads the same. Otherwise it parses the
// whole file, as Parse does. Either way the result is what Parse returns.

// source is what a parse leaves for Reparse. It holds no secret: what
// was read from env files and variables is kept as hashes, so that a
// File printed whole (fmt reaches unexported fields) shows none.
type source struct {
	dir     string
	head    string            // the file without its rules' items
	rules   map[string]*Rule  // by the text of its item; nil when the file did not cut cleanly
	topFile string            // the top-level env_file, read again for a changed rule
	reads   map[string]digest // env files read, by path
	looks   map[string]digest // variables looked up, by name; unset ones as notSet
}

// digest stands for a value read from outside.
type digest [sha256.Size]byte

var notSet = digest{}

func digestOf(s string) digest {
	d := sha256.Sum256([]byte(s))
	d[0] |= 1 // never notSet
	return d
}

// Variables lists, sorted, the environment variables the parse looked up:
// the names of the file's ${VAR} references, and STATE_DIRECTORY when
// state_dir is left out.
func (f *File) Variables() []string {
	if f.src == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(f.src.looks))
}

// maxReparsed is how many changed rules Reparse parses one by one before
// it parses the whole file instead.
const maxReparsed = 256

// Reparse parses data, a new version of f's file, as Parse(f.Path, data,
// env) would, parsing again only the rules whose text changed when it
// can (see above). env must read files and variables as the environment
// of the process does: what f's parse read is read again and compared.
func (f *File) Reparse(data []byte, env Env) (*File, error) {
	if env.Started.IsZero() {
		env.Started = f.Started
	}
	if nf, ok := f.reparse(data, env); ok {
		return nf, nil
	}
	dir := ""
	if f.src != nil {
		dir = f.src.dir
	}
	return parse(f.Path, dir, data, env)
}

func (f *File) reparse(data []byte, env Env) (*File, bool) {
	src := f.src
	if src == nil || src.rules == nil || env.ReadFile == nil || f.Lua != nil {
		return nil, false // a Lua file (lua:) may have changed whatever the text says
	}
	for path, was := range src.reads {
		b, err := env.ReadFile(path)
		if err != nil || digestOf(string(b)) != was {
			return nil, false
		}
	}
	for name, was := range src.looks {
		v, ok := lookup(env, name)
		if !ok && was != notSet || ok && digestOf(v) != was {
			return nil, false
		}
	}
	top, ok := src.top(env)
	if !ok {
		return nil, false
	}
	list, ok := cut(data)
	if !ok {
		return nil, false
	}
	head, items := list.head(), list.items
	if head != src.head {
		return nil, false
	}
	rec := newRecorder(env)
	rec.reads, rec.looks = maps.Clone(src.reads), maps.Clone(src.looks)
	next := &source{dir: src.dir, head: head, rules: make(map[string]*Rule, len(items)), topFile: src.topFile}
	rules := make([]Rule, len(items))
	ids := make(map[string]bool, len(items))
	parsed := 0
	for i, it := range items {
		r, known := src.rules[it.text]
		if !known {
			if parsed++; parsed > maxReparsed {
				return nil, false
			}
			if r, ok = parseItem(f.Path, src.dir, top, f.MaxRunning, rec.env(), it); !ok {
				return nil, false // its errors come from a whole parse, placed in the file
			}
		}
		if ids[r.ID] {
			return nil, false // a duplicate id: a whole parse reports it
		}
		ids[r.ID] = true
		next.rules[it.text] = r
		rules[i] = *r
		rules[i].Pos.Line = it.line
	}
	next.reads, next.looks = rec.reads, rec.looks
	nf := *f
	nf.Rules, nf.src = rules, next
	return &nf, true
}

// top reads the top-level env file again (its contents were checked to
// be what they were).
func (src *source) top(env Env) (envSource, bool) {
	if src.topFile == "" {
		return envSource{}, true
	}
	data, err := env.ReadFile(src.topFile)
	if err != nil {
		return envSource{}, false
	}
	vars, errs := parseEnvFile(src.topFile, data)
	return envSource{name: src.topFile, vars: vars}, len(errs) == 0
}

// parseItem parses one rule's item alone, as the only item of a rules
// list, with the file's top-level env_file and max_running.
func parseItem(path, dir string, top envSource, maxRunning int, env Env, it item) (*Rule, bool) {
	d := &decoder{path: path, dir: dir, env: env, top: top, maxRunningDefault: maxRunning}
	nodes, ok := d.itemNodes([]item{it}, nil)
	if !ok {
		return nil, false
	}
	r, _ := d.rule(nodes[0], 0)
	if len(d.errs.errs) > 0 || r.Pos.Line != it.line {
		return nil, false
	}
	return &r, true
}

// item is one rule's text in the file, from its "- " to the next item.
type item struct {
	text string
	line int // of its first line, 1-based
}

// listing is the rules list of a file as cut finds it: its items, and
// the text around them.
type listing struct {
	items     []item
	before    []byte // the file up to the first item
	after     []byte // the file from the line that ends the list
	afterLine int    // the line after starts on, 1-based
	rulesLine int    // the `rules:` line, 1-based
}

// head is the file with the items' text left out: the text before them,
// a mark where they were, and the text after them.
func (l listing) head() string {
	return string(l.before) + "\x00items\x00" + string(l.after)
}

// cut finds the rules list's items. It succeeds only for the plain shape:
// a top-level `rules:` line with nothing after the colon but a comment,
// followed by items that each start with "- " at one indentation, lines
// between them indented deeper (or blank, or comments), and the list ending
// at the next line that starts in the first column. Lines end in LF (or
// CRLF): YAML also ends them at a lone CR, NEL, LS and PS, which the cut
// would not count, placing the rules after one on the wrong line. A file
// with a directive (%TAG, %YAML) does not cut.
func cut(data []byte) (listing, bool) {
	if otherBreaks(data) {
		return listing{}, false
	}
	// lines[i] is the offset where line i+1 starts.
	lines := make([]int, 0, bytes.Count(data, []byte("\n"))+2)
	for off := 0; off < len(data); {
		lines = append(lines, off)
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	lines = append(lines, len(data))
	line := func(i int) []byte { return data[lines[i]:lines[i+1]] }
	n := len(lines) - 1

	start := -1
	for i := range n {
		if l := line(i); len(l) > 0 && l[0] == '%' {
			return listing{}, false // a directive: it would apply to the head and not to an item alone
		}
		if isRulesKey(line(i)) {
			if start >= 0 {
				return listing{}, false
			}
			start = i
		}
	}
	if start < 0 {
		return listing{}, false
	}
	first, end, indent := -1, n, -1
	var begins []int // the lines where items begin
	for i := start + 1; i < n; i++ {
		l := line(i)
		trimmed := bytes.TrimLeft(l, " ")
		if len(bytes.TrimSpace(l)) == 0 || trimmed[0] == '#' {
			continue // blank or a comment: with the item before, or the head
		}
		k := len(l) - len(trimmed)
		if k == 0 {
			end = i // the next top-level key
			break
		}
		if trimmed[0] == '\t' {
			return listing{}, false
		}
		if indent < 0 {
			indent, first = k, i
		}
		switch {
		case k == indent && bytes.HasPrefix(trimmed, []byte("- ")):
			begins = append(begins, i)
		case k > indent && len(begins) > 0:
		default:
			return listing{}, false
		}
	}
	if first < 0 {
		first = end
	}
	// One string for all the items' texts: they are kept together (in
	// source.rules) and dropped together, and one copy is one allocation
	// instead of one per rule.
	text := string(data)
	items := make([]item, len(begins))
	for j, b := range begins {
		until := end
		if j+1 < len(begins) {
			until = begins[j+1]
		}
		items[j] = item{text: text[lines[b]:lines[until]], line: b + 1}
	}
	return listing{
		items:     items,
		before:    data[:lines[first]],
		after:     data[lines[end]:],
		afterLine: end + 1,
		rulesLine: start + 1,
	}, true
}

// otherBreaks reports whether YAML breaks a line of data other than at
// an LF.
func otherBreaks(data []byte) bool {
	for rest := data; ; {
		i := bytes.IndexByte(rest, '\r')
		if i < 0 {
			break
		}
		if i+1 == len(rest) || rest[i+1] != '\n' {
			return true
		}
		rest = rest[i+2:]
	}
	for _, br := range []string{"\u0085", "\u2028", "\u2029"} {
		if bytes.Contains(data, []byte(br)) {
			return true
		}
	}
	return false
}

// isRulesKey matches "rules:" in the first column with nothing after it
// but spaces and a comment.
func isRulesKey(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("rules:"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#' && len(l) > len("rules:") && (l[len("rules:")] == ' ' || l[len("rules:")] == '\t')
}

// recorder remembers what a parse read from outside the rule file, so
// that Reparse can tell whether it still reads the same.
type recorder struct {
	inner Env
	reads map[string]digest
	looks map[string]digest
}

func newRecorder(env Env) *recorder {
	return &recorder{inner: env, reads: map[string]digest{}, looks: map[string]digest{}}
}

func (r *recorder) env() Env {
	e := Env{Lookup: func(name string) (string, bool) {
		v, ok := lookup(r.inner, name)
		if ok {
			r.looks[name] = digestOf(v)
		} else {
			r.looks[name] = notSet
		}
		return v, ok
	}}
	if r.inner.ReadFile != nil {
		e.ReadFile = func(path string) ([]byte, error) {
			b, err := r.inner.ReadFile(path)
			if err == nil {
				r.reads[path] = digestOf(string(b))
			}
			return b, err
		}
	}
	return e
}

func lookup(env Env, name string) (string, bool) {
	if env.Lookup == nil {
		return "", false
	}
	return env.Lookup(name)
}
