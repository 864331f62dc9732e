package ngxtasks

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// An Opener opens a dictionary from a parsed URL. Backend packages register
// one per URL scheme in their init, as database/sql drivers do, so that a
// program names its dictionary as a string and links only the client it uses.
type Opener func(ctx context.Context, u *url.URL) (Dict, error)

// The registry is the one piece of package state: written by init functions,
// read afterwards.
var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{
		"mem": func(context.Context, *url.URL) (Dict, error) { return NewMemoryDict(), nil },
	}
)

// Register makes a dictionary available under a URL scheme. It panics if the
// scheme is registered twice or open is nil, as sql.Register does: both are
// programming errors found at start-up.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if open == nil {
		panic("ngxtasks: Register opener is nil")
	}
	if _, dup := openers[scheme]; dup {
		panic("ngxtasks: Register called twice for scheme " + scheme)
	}
	openers[scheme] = open
}

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	s := make([]string, 0, len(openers))
	for k := range openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// OpenDict opens the dictionary a URL names, e.g. "mem://",
// "sqlite:///var/lib/app/tasks.db", "redis://:secret@127.0.0.1:6379/0". The
// scheme's backend package must be imported (for its side effect) first.
// Errors show the URL as RedactURL does: never a password.
func OpenDict(ctx context.Context, rawURL string) (Dict, error) {
	u, err := ParseDictURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("ngxtasks: dictionary URL %s: %w", RedactURL(rawURL), err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("ngxtasks: dictionary URL %q has no scheme (known: %s)", RedactURL(rawURL), strings.Join(Schemes(), ", "))
	}
	openersMu.RLock()
	open := openers[u.Scheme]
	openersMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("ngxtasks: dictionary URL %q: unknown scheme %q (known: %s; is its package imported?)",
			RedactURL(rawURL), u.Scheme, strings.Join(Schemes(), ", "))
	}
	d, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("ngxtasks: open %s: %w", RedactURL(rawURL), err)
	}
	return d, nil
}
