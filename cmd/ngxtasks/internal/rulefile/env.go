package rulefile

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// lookupFunc finds a variable's value; ok is false when it is not set.
type lookupFunc func(name string) (value string, ok bool)

// expand replaces ${NAME} in tmpl with lookup's value and $$ with $.
//
// $NAME without braces is refused rather than kept as is: in a header or a
// URL it is almost always a reference that lost its braces, and sending
// "Bearer $TOKEN" to a server is worse than an error at load time. Any
// other dollar ($5, a trailing $) is itself. The problems returned name
// variables, never values, so they can go into an error as they are.
func expand(tmpl string, lookup lookupFunc) (string, []string) {
	if !strings.Contains(tmpl, "$") {
		return tmpl, nil
	}
	var b strings.Builder
	var problems []string
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '$' || i+1 == len(tmpl) {
			b.WriteByte(c)
			continue
		}
		switch next := tmpl[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '{':
			end := strings.IndexByte(tmpl[i+2:], '}')
			if end < 0 {
				problems = append(problems, "`${` has no closing `}` (write $$ for a literal dollar)")
				return "", problems
			}
			name := tmpl[i+2 : i+2+end]
			i += 2 + end
			if !validName(name) {
				problems = append(problems, fmt.Sprintf("%s is not a variable reference: a name is letters, digits and _ and does not start with a digit (write $$ for a literal dollar)", quote("${"+name+"}")))
				continue
			}
			v, ok := lookup(name)
			if !ok {
				problems = append(problems, "${"+name+"} is not set")
				continue
			}
			b.WriteString(v)
		case isNameStart(next):
			j := i + 1
			for j < len(tmpl) && isNameByte(tmpl[j]) {
				j++
			}
			name := tmpl[i+1 : j]
			problems = append(problems, fmt.Sprintf("$%s is not expanded: write ${%s}, or $$%s for a literal dollar", clip(name), clip(name), clip(name)))
			b.WriteString(tmpl[i:j])
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	if problems != nil {
		return "", problems
	}
	return b.String(), nil
}

// hasReference reports whether tmpl would expand anything, so that a
// message about the expanded value knows whether it may show detail.
func hasReference(tmpl string) bool { return strings.Contains(tmpl, "${") }

// validName is the portable environment variable name: what a shell can
// export and a ${NAME} can reference.
func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameByte(c byte) bool  { return isNameStart(c) || '0' <= c && c <= '9' }

// envVar is one KEY=VALUE of an env file, with its line for messages.
type envVar struct {
	name, value string
	line        int
}

// parseEnvFile reads the env file syntax documented in doc.go. Its
// problems carry the env file's name and line; they never quote a value,
// which is the secret the file exists to hold.
func parseEnvFile(name string, data []byte) ([]envVar, []*Error) {
	var vars []envVar
	var errs []*Error
	seen := map[string]int{}
	bad := func(line, col int, format string, args ...any) {
		errs = append(errs, &Error{File: name, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	for n, raw := range strings.Split(string(data), "\n") {
		line := n + 1
		text := strings.TrimSuffix(raw, "\r")
		trimmed := strings.TrimLeft(text, " \t")
		col := len(text) - len(trimmed) + 1
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if rest, ok := strings.CutPrefix(trimmed, "export "); ok {
			col += len(trimmed) - len(strings.TrimLeft(rest, " \t"))
			trimmed = strings.TrimLeft(rest, " \t")
		}
		key, value, ok := strings.Cut(trimmed, "=")
		key = strings.TrimRight(key, " \t")
		if !ok {
			bad(line, col, "expected KEY=VALUE")
			continue
		}
		if !validName(key) {
			bad(line, col, "%s is not a variable name: letters, digits and _, not starting with a digit", quote(key))
			continue
		}
		value, problem := envValue(strings.Trim(value, " \t"))
		if problem != "" {
			bad(line, col, "%s: %s", key, problem)
			continue
		}
		if strings.ContainsRune(value, 0) {
			bad(line, col, "%s: the value holds a NUL byte, which no environment can carry", key)
			continue
		}
		if first, dup := seen[key]; dup {
			bad(line, col, "%s is set twice (first on line %d)", key, first)
			continue
		}
		seen[key] = line
		vars = append(vars, envVar{name: key, value: value, line: line})
	}
	return vars, errs
}

// envValue unquotes one value: bare values are taken as they are (a # in
// a password stays in it), single quotes keep everything literally, double
// quotes know \\ \" \n \r \t. After a closing quote only a # comment may
// follow.
func envValue(v string) (string, string) {
	if v == "" || (v[0] != '"' && v[0] != '\'') {
		return v, ""
	}
	q := v[0]
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == q:
			rest := strings.TrimLeft(v[i+1:], " \t")
			if rest != "" && rest[0] != '#' {
				return "", "only a # comment may follow the closing quote"
			}
			return b.String(), ""
		case c == '\\' && q == '"' && i+1 < len(v):
			i++
			switch v[i] {
			case '\\', '"':
				b.WriteByte(v[i])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				// The escaped character is part of the secret: not quoted.
				return "", `unknown escape in double quotes (known: \\ \" \n \r \t)`
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Sprintf("no closing %c quote (a value is one line)", q)
}

// envSource is one env file's variables.
type envSource struct {
	name string // resolved path; "" for none
	vars []envVar
}

func (s envSource) lookup(name string) (string, bool) {
	for _, v := range s.vars {
		if v.name == name {
			return v.value, true
		}
	}
	return "", false
}

// envFile reads an env file named in the rule file. A file that cannot be
// read is reported at the name; mistakes inside it at their own lines.
func (d *decoder) envFile(n *node, pl place) envSource {
	name, ok := d.filePath(n, pl)
	if !ok {
		return envSource{}
	}
	if d.env.ReadFile == nil {
		d.at(n, pl, "cannot read %s: this parse may not read files", quote(name))
		return envSource{name: name}
	}
	data, err := d.env.ReadFile(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		d.at(n, pl, "cannot read %s: %v", quote(name), err)
		return envSource{name: name}
	}
	vars, errs := parseEnvFile(name, data)
	for _, e := range errs {
		d.errs.add(e)
	}
	return envSource{name: name, vars: vars}
}

// scope is where ${VAR} looks: the process environment first (so that
// VAR=x ngxtasks … overrides a file, as in docker compose), then the
// rule's own env file, then the top-level one.
type scope struct {
	lookup  lookupFunc
	sources string // for "not set" messages
}

func (d *decoder) scope(own envSource) scope {
	names := []string{"the environment"}
	var used []envSource
	for _, f := range []envSource{own, d.top} {
		if f.name != "" {
			names = append(names, f.name)
			used = append(used, f)
		}
	}
	look := func(name string) (string, bool) {
		if d.env.Lookup != nil {
			if v, ok := d.env.Lookup(name); ok {
				return v, true
			}
		}
		for _, f := range used {
			if v, ok := f.lookup(name); ok {
				return v, true
			}
		}
		return "", false
	}
	return scope{lookup: look, sources: strings.Join(names, ", ")}
}
