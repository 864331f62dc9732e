package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/master"
)

// reloadCmd asks the running master of a rule file to reload it, through
// the control socket in the file's state_dir, and prints the result once
// every worker applied it or the master refused it. Exit 0: applied;
// 1: refused, or not applied by every worker; 2: a bad command line or a
// file this command cannot read.
func reloadCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("reload", stderr)
	config := configFlag(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2 // the master would refuse this file too
	}
	client, err := master.ControlClient(f.StateDir)
	if err != nil {
		fmt.Fprintln(stderr, "ngxtasks reload:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://ngxtasks/reload", nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "ngxtasks reload: reaching the master:", err)
		return 1
	}
	defer resp.Body.Close()
	var res master.ReloadResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&res); err != nil {
		fmt.Fprintf(stderr, "ngxtasks reload: the master's answer (%s): %v\n", resp.Status, err)
		return 1
	}
	return printReload(stdout, stderr, *config, &res)
}

func printReload(stdout, stderr io.Writer, config string, res *master.ReloadResult) int {
	if res.Refused {
		for _, e := range res.Errors {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "ngxtasks reload: refused; the old rules keep running\n")
		return 1
	}
	list := func(what string, ids []string) {
		if len(ids) > 0 {
			fmt.Fprintf(stdout, "  %s: %s\n", what, strings.Join(ids, ", "))
		}
	}
	fmt.Fprintf(stdout, "reloaded %s (reload %d): %d worker(s) in %v\n", config, res.Seq, res.Workers, res.Took.Round(time.Millisecond))
	list("added", res.Added)
	list("changed", res.Changed)
	list("removed", res.Removed)
	if len(res.Restart) > 0 {
		fmt.Fprintf(stderr, "ngxtasks reload: these settings changed and apply only at a restart: %s\n", strings.Join(res.Restart, ", "))
	}
	code := 0
	if res.Failed > 0 {
		fmt.Fprintf(stderr, "ngxtasks reload: %d worker(s) refused it; the master's log says why\n", res.Failed)
		code = 1
	}
	if res.Pending > 0 {
		fmt.Fprintf(stderr, "ngxtasks reload: %d worker(s) had not answered yet\n", res.Pending)
		code = 1
	}
	return code
}
