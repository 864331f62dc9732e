package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/master"
)

// statusCmd prints a running instance's workers and rules: from the
// master of the file's state_dir, over its control socket (no token
// needed: the socket is the master's user's), or from a listener given
// with --listen.
func statusCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("status", stderr)
	config := configFlag(fs)
	listen := fs.String("listen", "", "ask the listener at host:port (with the token of token_env) instead of the master of the file's state_dir")
	asJSON := fs.Bool("json", false, "print status.json as the instance serves it")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2
	}
	var c *client
	if *listen == "" {
		hc, err := master.ControlClient(f.StateDir)
		if err != nil {
			fmt.Fprintln(stderr, "ngxtasks status:", err)
			return 1
		}
		c = &client{hc: hc, base: "http://ngxtasks/"}
	} else {
		token, err := master.Token(f.TokenEnv)
		if err != nil {
			fmt.Fprintln(stderr, "ngxtasks status:", err)
			return 2
		}
		c = &client{hc: http.DefaultClient, base: "http://" + *listen + "/", token: token, tokenEnv: f.TokenEnv}
	}
	body, err := c.get("status.json")
	if err != nil {
		fmt.Fprintln(stderr, "ngxtasks status:", err)
		return 1
	}
	if *asJSON {
		_, _ = stdout.Write(body)
		return 0
	}
	var workers []master.WorkerInfo
	if wb, err := c.get("workers.json"); err == nil {
		_ = json.Unmarshal(wb, &workers)
	}
	var doc statusDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		fmt.Fprintln(stderr, "ngxtasks status: reading status.json:", err)
		return 1
	}
	printStatus(stdout, workers, &doc)
	return 0
}

// statusDoc is the part of status.json the table shows.
type statusDoc struct {
	Peers []struct {
		Address string `json:"address"`
		Error   string `json:"error"`
	} `json:"peers"`
	Rules []struct {
		Identifier string    `json:"identifier"`
		Type       string    `json:"type"`
		Interval   string    `json:"interval_text"`
		Worker     string    `json:"worker"`
		State      string    `json:"state"`
		Runs       int64     `json:"runs"`
		Errors     int64     `json:"errors"`
		Skips      int64     `json:"skips"`
		LastStart  time.Time `json:"last_start"`
		LastError  string    `json:"last_error"`
	} `json:"rules"`
}

func printStatus(w io.Writer, workers []master.WorkerInfo, doc *statusDoc) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(workers) > 0 {
		fmt.Fprintln(tw, "WORKER\tPID\tUP\tSINCE\tRESTARTS\tLAST EXIT")
		for _, p := range workers {
			fmt.Fprintf(tw, "%s\t%d\t%v\t%s\t%d\t%s\n", p.Name, p.PID, p.Up, shortTime(p.Since), p.Restarts, p.LastExit)
		}
		fmt.Fprintln(tw)
	}
	for _, p := range doc.Peers {
		if p.Error != "" {
			fmt.Fprintf(tw, "worker %s did not answer: %s\n", p.Address, p.Error)
		}
	}
	fmt.Fprintln(tw, "RULE\tTYPE\tINTERVAL\tWORKER\tSTATE\tRUNS\tERRORS\tSKIPS\tLAST START\tLAST ERROR")
	for _, r := range doc.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Identifier, r.Type, r.Interval, r.Worker, r.State,
			r.Runs, r.Errors, r.Skips, shortTime(r.LastStart), oneLine(r.LastError, 60))
	}
	_ = tw.Flush()
}

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("15:04:05.000")
}

// oneLine shows the start of s on one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// client asks a running instance, over its control socket or listener.
type client struct {
	hc          *http.Client
	base, token string
	tokenEnv    string // where token came from, for the errors
}

func (c *client) get(doc string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+doc, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	resp, err := c.hc.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("is ngxtasks running? %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && c.token == "":
		return nil, fmt.Errorf("%s: %s: the listener has a token; give it in $%s (token_env)", c.base+doc, resp.Status, c.tokenEnv)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%s: %s: the listener refused the token of $%s (token_env)", c.base+doc, resp.Status, c.tokenEnv)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", c.base+doc, resp.Status)
	}
	return body, nil
}
