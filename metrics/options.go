package metrics

import (
	"fmt"
	"path"
	"strings"

	"github.com/ngxtasks/ngxtasks"
)

// Options choose the rules that get series of their own. The zero value
// gives none: every rule is counted in its worker's aggregates, and a
// scrape is about a hundred series a worker whatever the rule count (see
// Aggregates and per-rule series in the package documentation).
type Options struct {
	// Rules selects, by identifier, the rules that get per-rule series:
	// patterns of [path.Match] ("backup", "billing-*", "nightly-?"), each
	// matched against the whole identifier. A rule matching any of them is
	// selected, while it is pushed: rules pushed later are matched at each
	// scrape. A pattern path.Match cannot parse is an error from New.
	// A '*' stops at a '/': to select every rule, set AllRules.
	Rules []string
	// AllRules gives every rule series of its own, as the Collector did
	// before aggregates (at 100,000 rules, 740,000 series a scrape).
	AllRules bool
}

// New returns a Collector of the managers' metrics, as the package-level
// [New] does, with per-rule series for the rules o selects. It fails on a
// pattern of o.Rules that path.Match cannot parse, naming it.
func (o Options) New(managers ...*ngxtasks.Manager) (*Collector, error) {
	sel, err := o.selector()
	if err != nil {
		return nil, err
	}
	return newCollector(sel, managers)
}

// A selector tells whether a rule gets series of its own.
type selector struct {
	all      bool
	patterns []pattern
}

// A pattern is one of Options.Rules, with its literal prefix: at each
// scrape every identifier is matched, and most fail on the prefix alone
// (at 100,000 rules, path.Match on each took 15 to 25 ms a scrape).
type pattern struct {
	glob    string
	prefix  string // glob up to its first special character
	literal bool   // glob has no special character: it is the identifier
}

func (o Options) selector() (selector, error) {
	sel := selector{all: o.AllRules}
	for _, g := range o.Rules {
		// path.Match checks the whole pattern, matching or not.
		if _, err := path.Match(g, ""); err != nil {
			return selector{}, fmt.Errorf("metrics: rule pattern %q: %w", g, err)
		}
		p := pattern{glob: g, prefix: g, literal: true}
		if i := strings.IndexAny(g, `*?[\`); i >= 0 {
			p.prefix, p.literal = g[:i], false
		}
		sel.patterns = append(sel.patterns, p)
	}
	return sel, nil
}

// selects is whether the rule with identifier id gets series of its own.
func (s *selector) selects(id string) bool {
	if s.all {
		return true
	}
	for _, p := range s.patterns {
		if !strings.HasPrefix(id, p.prefix) {
			continue
		}
		if p.literal {
			if id == p.glob {
				return true
			}
			continue
		}
		if ok, _ := path.Match(p.glob, id); ok { // checked by New
			return true
		}
	}
	return false
}
