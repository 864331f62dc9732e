package rulefile

import (
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

func execKeys() []string {
	return []string{"argv", "command", "shell", "env", "env_file", "dir", "output_limit", "grace"}
}

// exec decodes a rule's exec: section. The shell is opt-in twice over: a
// command string needs shell: true, and shell: true takes only a command
// string, so a list of arguments is never joined and re-split by a shell,
// and a string is never split by anything but one.
func (d *decoder) exec(n *node, pl place) *Exec {
	keys, ok := d.fields(n, pl, execKeys(), nil)
	if !ok {
		return nil
	}
	x := &Exec{OutputLimit: DefaultOutputLimit, Grace: DefaultGrace}

	if e, ok := keys.get("shell"); ok {
		x.Shell, _ = d.boolean(e.val, pl.field("shell"))
	}
	argv, hasArgv := keys.get("argv")
	cmd, hasCmd := keys.get("command")
	switch {
	case hasArgv && hasCmd:
		d.at(cmd.key, pl, "has both argv: and command:; use argv: [prog, arg…], or command: with shell: true")
	case hasArgv:
		if x.Shell {
			d.at(argv.key, pl.field("argv"), "cannot be used with shell: true, which takes command: \"…\" (one string for /bin/sh -c)")
		}
		x.Argv = d.argv(argv.val, pl.field("argv"))
	case hasCmd:
		if s, ok := d.str(cmd.val, pl.field("command")); ok {
			switch {
			case !x.Shell:
				d.at(cmd.key, pl.field("command"), "runs through /bin/sh, which needs shell: true; or give argv: [prog, arg…] to run without a shell")
			case strings.TrimSpace(s) == "":
				d.at(cmd.val, pl.field("command"), "must not be empty")
			case strings.ContainsRune(s, 0):
				d.at(cmd.val, pl.field("command"), "must not hold a NUL byte")
			default:
				x.Command = s
			}
		}
	default:
		d.atPos(posOf(n), pl, "needs argv: [prog, arg…] (or command: \"…\" with shell: true)")
	}

	var own envSource
	if e, ok := keys.get("env_file"); ok {
		own = d.envFile(e.val, pl.field("env_file"))
		x.EnvFile = own.name
		for _, v := range own.vars {
			x.Env = append(x.Env, Var{Name: v.name, Value: newText("(from "+own.name+")", v.value)})
		}
	}
	if e, ok := keys.get("env"); ok {
		x.Env = d.envMap(e.val, pl.field("env"), d.scope(own), x.Env)
	}
	slices.SortStableFunc(x.Env, func(a, b Var) int { return strings.Compare(a.Name, b.Name) })

	if e, ok := keys.get("dir"); ok {
		x.Dir, _ = d.filePath(e.val, pl.field("dir"))
	}
	if e, ok := keys.get("output_limit"); ok {
		if v, ok := d.size(e.val, pl.field("output_limit")); ok {
			x.OutputLimit = v
		}
	}
	if e, ok := keys.get("grace"); ok {
		if v, ok := d.nonNegativeDuration(e.val, pl.field("grace")); ok {
			x.Grace = v
		}
	}
	return x
}

// argv reads the argument list, which is passed as written: it is not
// expanded, because arguments are visible to every user of the host (ps),
// so a secret goes into env: and the program reads it there. ${…} is
// refused rather than passed on literally, since it is almost certainly
// meant as a reference.
func (d *decoder) argv(n *node, pl place) []string {
	if n.Kind != yaml.SequenceNode || refused(n) != "" {
		d.wrongType(n, pl, "a list such as [prog, arg]")
		return nil
	}
	if len(n.Content) == 0 {
		d.at(n, pl, "must name a program: [prog, arg…]")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		ipl := pl.index(i)
		s, ok := d.str(item, ipl)
		switch {
		case !ok:
		case i == 0 && s == "":
			d.at(item, ipl, "the program must not be empty")
		case strings.ContainsRune(s, 0):
			d.at(item, ipl, "must not hold a NUL byte")
		case hasReference(s):
			d.at(item, ipl, "%s: argv is not expanded (arguments show in ps); put the value in env: and read it from there", quote(s))
		case i == 0:
			out = append(out, d.program(s))
		default:
			out = append(out, s)
		}
	}
	return out
}

// program is argv[0] as it will be run. A path with a slash that is not
// absolute (./job.sh, bin/job) is taken from the rule file's directory,
// as dir and env_file are, not from wherever the command was started; a
// bare name (job) is looked up in PATH when the rule runs.
func (d *decoder) program(s string) string {
	if !strings.Contains(s, "/") || filepath.IsAbs(s) {
		return s
	}
	p := d.resolve(s)
	if !strings.Contains(p, "/") {
		p = "./" + p // still a path when the rule file's directory is "."
	}
	return p
}

// envMap reads env: on top of base (the env file's variables, which it
// overrides).
func (d *decoder) envMap(n *node, pl place, sc scope, base []Var) []Var {
	list, ok := d.pairs(n, pl)
	if !ok {
		return base
	}
	out := base
	for _, e := range list {
		vpl := pl.field(e.name)
		if !validName(e.name) {
			d.at(e.key, pl, "%s is not a variable name: letters, digits and _, not starting with a digit", quote(e.name))
			continue
		}
		if isNull(e.val) {
			d.at(e.key, vpl, "has no value (write \"\" for an empty one)")
			continue
		}
		t, ok := d.text(e.val, vpl, sc)
		if !ok {
			continue
		}
		if strings.ContainsRune(t.Expanded(), 0) {
			d.at(e.val, vpl, "holds a NUL byte once expanded, which no environment can carry")
			continue
		}
		out = slices.DeleteFunc(out, func(v Var) bool { return v.Name == e.name })
		out = append(out, Var{Name: e.name, Value: t})
	}
	return out
}
