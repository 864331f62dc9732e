package master

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

// Overrides are the command line's settings, which win over the file's.
type Overrides struct {
	Workers int    // 0: the file's
	Dict    string // "": the file's
	Listen  string // "": the file's; "off" turns the listener off
}

// Settings are what a run uses: the file's settings with the overrides
// applied and checked.
type Settings struct {
	Workers int
	Dict    string // expanded: may hold a password; show it with ngxtasks.RedactURL
	Listen  string // "" when off
	Token   string // the listener's bearer token; "" for none
}

// Resolve applies o to f and checks what a run needs beyond the file's own
// rules: a dictionary the workers can share, and a token for a listener
// beyond loopback. Its errors say what to change.
func Resolve(f *rulefile.File, o Overrides) (Settings, error) {
	s := Settings{Workers: f.Workers, Dict: f.Dict.Expanded(), Listen: f.Listen}
	if o.Workers != 0 {
		s.Workers = o.Workers
	}
	if o.Dict != "" {
		s.Dict = o.Dict
	}
	switch o.Listen {
	case "":
	case "off":
		s.Listen = ""
	default:
		s.Listen = o.Listen
	}
	var errs []error
	token, err := Token(f.TokenEnv)
	if err != nil {
		errs = append(errs, err)
	}
	s.Token = token
	if s.Workers < 1 || s.Workers > 1024 {
		errs = append(errs, fmt.Errorf("--workers: %d is not in 1..1024", s.Workers))
	}
	errs = append(errs, checkDict(f, s)...)
	if s.Listen != "" {
		if err := checkListen(s.Listen, s.Token, f.TokenEnv); err != nil {
			errs = append(errs, err)
		}
	}
	if slices.Contains(f.Variables(), f.TokenEnv) {
		errs = append(errs, fmt.Errorf("the rules use ${%s}, the listener's token, which stays in the master (workers and their programs do not get it): give them a variable of their own", f.TokenEnv))
	}
	return s, errors.Join(errs...)
}

// checkDict refuses a dictionary the workers cannot share when a rule
// needs one shared.
func checkDict(f *rulefile.File, s Settings) []error {
	u, err := ngxtasks.ParseDictURL(s.Dict)
	if err != nil {
		return []error{fmt.Errorf("dict %s: %w", ngxtasks.RedactURL(s.Dict), err)}
	}
	if !slices.Contains(ngxtasks.Schemes(), u.Scheme) {
		return []error{fmt.Errorf("dict %s: unknown scheme %q (known: %s)", ngxtasks.RedactURL(s.Dict), u.Scheme, strings.Join(ngxtasks.Schemes(), ", "))}
	}
	if u.Scheme == "mem" && s.Workers > 1 {
		for _, r := range f.Rules {
			if r.Type == ngxtasks.Preemption {
				return []error{fmt.Errorf("dict %s: each worker process would have its own in-memory dictionary, so preemption rule %q would run once per worker, not once; use sqlite:// (one host) or a shared store, or --workers 1", ngxtasks.RedactURL(s.Dict), r.ID)}
			}
		}
	}
	return nil
}

// checkListen asks for a token when the listener is reachable from
// elsewhere: the status page names commands, hosts and failures.
func checkListen(addr, token, tokenEnv string) error {
	host, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Errorf("listen %q is not host:port or off (e.g. 127.0.0.1:9090, [::1]:9090, :9090 for every interface)", addr)
	}
	if token != "" || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("listen %q is beyond loopback: set a bearer token in $%s (token_env), or listen on 127.0.0.1", addr, tokenEnv)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
