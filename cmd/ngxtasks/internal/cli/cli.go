// Package cli is the ngxtasks command's subcommands: run, validate, next,
// status, reload, trigger, pause, resume and version for people, and worker, which the master
// starts its worker processes with. Main is the command's one entry point.
// Each subcommand parses its own flags and returns the exit status: 0
// done, 1 failed, 2 a bad command line or rule file.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

const usage = `ngxtasks runs periodic tasks in worker processes: normal rules in every
worker, preemption rules in exactly one worker of all that share the dictionary.

Usage:
  ngxtasks run -c rules.yaml [--workers N] [--dict URL] [--listen ADDR|off]
  ngxtasks validate -c rules.yaml
  ngxtasks next -c rules.yaml [-n 5] [--from TIME] [--json] [RULE]
  ngxtasks status -c rules.yaml [--listen ADDR] [--json]
  ngxtasks reload -c rules.yaml
  ngxtasks trigger -c rules.yaml RULE [--force] [--listen ADDR]
  ngxtasks pause -c rules.yaml RULE [--until T] [--note TEXT] [--listen ADDR]
  ngxtasks resume -c rules.yaml RULE [--note TEXT] [--listen ADDR]
  ngxtasks version

The rule file is YAML, or Lua when its name ends in .lua: an ngx_tasks
rules module, run unchanged (docs/migrating.md). "-c FILE" may be written
as the first argument: ngxtasks run rules.lua.

"ngxtasks COMMAND -h" describes a command's flags.
`

// Main runs the subcommand args name and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	commands := map[string]func([]string, io.Writer, io.Writer) int{
		"run":      runCmd,
		"validate": validateCmd,
		"next":     nextCmd,
		"status":   statusCmd,
		"reload":   reloadCmd,
		"trigger":  triggerCmd,
		"pause":    pauseCmd,
		"resume":   resumeCmd,
		"version":  versionCmd,
		"worker":   workerCmd, // the master's; not in the usage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ngxtasks: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

// flags makes a subcommand's flag set, which reports to stderr.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ngxtasks "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses a subcommand's flags; ok false means exit with code. A
// subcommand with -c also takes the rule file as its first argument
// (ngxtasks run rules.lua), when -c is not given and the argument names a
// rule file by its extension (rulefile.Kind); flags may follow it.
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if c := fs.Lookup("c"); c != nil && c.Value.String() == "" && fs.NArg() > 0 {
		if _, known := rulefile.Kind(fs.Arg(0)); known {
			_ = c.Value.Set(fs.Arg(0))
			return parse(fs, fs.Args()[1:])
		}
	}
	return 0, true
}

// configFlag adds -c (and --config) to fs.
func configFlag(fs *flag.FlagSet) *string {
	const help = "the rule file: YAML (.yaml, .yml, or any other name) or Lua (.lua, the rules of an ngx_tasks module); may also be the first argument"
	p := fs.String("c", "", help)
	fs.StringVar(p, "config", "", "same as -c")
	return p
}

// loadFile loads the rule file; its error is a plain one when there is
// no file to load.
func loadFile(path string) (*rulefile.File, error) {
	if path == "" {
		return nil, errors.New("no rule file: give one with -c rules.yaml (or rules.lua)")
	}
	return rulefile.Load(path)
}

// load loads the rule file, writing its mistakes, one a line, to stderr.
func load(path string, stderr io.Writer) (*rulefile.File, bool) {
	f, err := loadFile(path)
	if err != nil {
		report(stderr, err)
		return nil, false
	}
	return f, true
}

// report writes an error: each mistake on its own line (those of a rule
// file with their positions), then how many there were. err may join
// several (errors.Join).
func report(stderr io.Writer, err error) {
	var lines []string
	inFile := false
	var walk func(error)
	walk = func(err error) {
		list, isFile := err.(rulefile.Errors)
		switch j, joined := err.(interface{ Unwrap() []error }); {
		case err == nil:
		case isFile:
			inFile = true
			for _, e := range list {
				lines = append(lines, e.Error())
			}
		case joined:
			for _, e := range j.Unwrap() {
				walk(e)
			}
		default:
			// The library's errors name it already.
			lines = append(lines, "ngxtasks: "+strings.TrimPrefix(err.Error(), "ngxtasks: "))
		}
	}
	walk(err)
	for _, l := range lines {
		fmt.Fprintln(stderr, l)
	}
	if inFile || len(lines) > 1 {
		fmt.Fprintf(stderr, "ngxtasks: %d mistake(s); nothing started\n", len(lines))
	}
}
