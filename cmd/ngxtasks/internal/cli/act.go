package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/master"
	"github.com/ngxtasks/ngxtasks/status"
)

// triggerCmd, pauseCmd and resumeCmd act on a rule of the running
// instance, for every worker sharing its dictionary: through the master of
// the file's state_dir (its control socket), or the listener given with
// --listen (its status page's act document, with the token of token_env).
// Exit 0: done; 1: refused (the reason is printed: already triggered,
// running elsewhere, paused, no such rule) or the instance could not be
// reached; 2: a bad command line or rule file.
func triggerCmd(args []string, stdout, stderr io.Writer) int {
	return actCmd(status.ActTrigger, args, stdout, stderr)
}

func pauseCmd(args []string, stdout, stderr io.Writer) int {
	return actCmd(status.ActPause, args, stdout, stderr)
}

func resumeCmd(args []string, stdout, stderr io.Writer) int {
	return actCmd(status.ActResume, args, stdout, stderr)
}

func actCmd(kind status.ActionKind, args []string, stdout, stderr io.Writer) int {
	name := string(kind)
	fs := flags(name, stderr)
	config := configFlag(fs)
	listen := fs.String("listen", "", "act through the listener at host:port (with the token of token_env) instead of the master of the file's state_dir")
	var note, until *string
	var force *bool
	switch kind {
	case status.ActTrigger:
		force = fs.Bool("force", false, "run it even while a run holds its lease (overlap: skip) or it is paused")
	case status.ActPause:
		until = fs.String("until", "", "the end of the pause: an RFC 3339 time (2026-12-08T10:00:00Z) or a duration from now (30m); default until resumed")
		note = fs.String("note", "", "why, for the log, the status page and the skipped slots")
	case status.ActResume:
		note = fs.String("note", "", "why, for the log")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of ngxtasks %s: ngxtasks %s -c rules.yaml RULE [flags]\n", name, name)
		fs.PrintDefaults()
	}
	// The rule may come before the flags or after them.
	var rules []string
	for range 3 {
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		rules = append(rules, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rules) != 1 || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ngxtasks %s: give one RULE: ngxtasks %s -c rules.yaml RULE\n", name, name)
		return 2
	}
	a := status.Action{Rule: rules[0], Kind: kind}
	if note != nil {
		a.Note = *note
	}
	if force != nil {
		a.Force = *force
	}
	if until != nil {
		t, err := status.ParseUntil(*until, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "ngxtasks %s: --%v\n", name, err)
			return 2
		}
		a.Until = t
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2
	}
	var ans *status.ActAnswer
	var err error
	if *listen == "" {
		ans, err = actOverSocket(f.StateDir, &a)
	} else {
		token, terr := master.Token(f.TokenEnv)
		if terr != nil {
			fmt.Fprintf(stderr, "ngxtasks %s: %v\n", name, terr)
			return 2
		}
		c := &client{hc: &http.Client{Timeout: 30 * time.Second}, base: "http://" + *listen + "/", token: token, tokenEnv: f.TokenEnv}
		ans, err = c.act(&a)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ngxtasks %s: %v\n", name, err)
		return 1
	}
	if !ans.OK {
		fmt.Fprintf(stderr, "ngxtasks %s: %s\n", name, ans.Message)
		return 1
	}
	fmt.Fprintln(stdout, ans.Message)
	return 0
}

// actOverSocket asks the master of stateDir, over its control socket.
func actOverSocket(stateDir string, a *status.Action) (*status.ActAnswer, error) {
	hc, err := master.ControlClient(stateDir)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://ngxtasks/act", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching the master: %w", err)
	}
	defer resp.Body.Close()
	var ans status.ActAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil {
		return nil, fmt.Errorf("the master's answer (%s): %w", resp.Status, err)
	}
	return &ans, nil
}

var csrfMeta = regexp.MustCompile(`<meta name="ngxtasks-csrf" content="([A-Za-z0-9_-]+)">`)

// act asks a listener: it loads the status page for its action token, as
// a browser would, then posts the action as the page's script does (with
// no Origin: it is no browser).
func (c *client) act(a *status.Action) (*status.ActAnswer, error) {
	page, err := c.get("")
	if err != nil {
		return nil, err
	}
	m := csrfMeta.FindSubmatch(page)
	if m == nil {
		return nil, errors.New(c.base + ": the status page offers no actions (an older ngxtasks?)")
	}
	body := map[string]any{"rule": a.Rule, "kind": a.Kind, "note": a.Note, "force": a.Force}
	if !a.Until.IsZero() {
		body["until"] = a.Until.Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, c.base+"act", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ngxtasks-Csrf", string(m[1]))
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is ngxtasks running? %w", err)
	}
	defer resp.Body.Close()
	var ans status.ActAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil || ans.Message == "" {
		return nil, fmt.Errorf("%sact: %s", c.base, resp.Status)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%sact: %s: %s", c.base, resp.Status, strings.TrimSpace(ans.Message))
	}
	return &ans, nil
}
