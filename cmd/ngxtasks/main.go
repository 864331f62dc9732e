// Command ngxtasks runs a rule file's periodic tasks in worker processes:
// normal rules in every worker each interval, preemption rules in exactly
// one worker of all that share the dictionary, nginx-style: a master
// process starts the workers, restarts those that die, reloads on SIGHUP
// and serves the status page and metrics of them all.
//
//	ngxtasks run -c rules.yaml [--workers N] [--dict URL] [--listen ADDR]
//	ngxtasks validate -c rules.yaml
//	ngxtasks next -c rules.yaml [RULE] [-n 5] [--from TIME] [--json]
//	ngxtasks status -c rules.yaml [--json]
//	ngxtasks reload -c rules.yaml
//	ngxtasks version
//
// The rule file's format is described in package rulefile, with an
// annotated example in docs/command.md. A file whose name ends in .lua is
// an ngx_tasks Lua rule file instead, run unchanged (package luarules;
// docs/migrating.md). "-c FILE" may be written as the first argument. Exit
// status: 0 done, 1 failed, 2 a bad command line or rule file (nothing
// was started).
//
// The subcommands, and the worker processes the master starts as
// "ngxtasks worker", are package cli's: main only calls cli.Main. The
// dictionaries the command can reach are linked in backends.go.
package main

import (
	"os"
	_ "time/tzdata" // every zone a schedule: names, also in a container without /usr/share/zoneinfo

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
