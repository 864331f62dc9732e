package rulefile

import (
	"context"
	"errors"
	"fmt"

	"github.com/ngxtasks/ngxtasks"
	"go.yaml.in/yaml/v4"
)

func ruleKeys() []string {
	return []string{"id", "name", "interval", "schedule", "zone", "gap", "repeat", "jitter", "catch_up", "type", "overlap", "reruns", "retry", "timeout", "offset", "spread", "max_running", "exec", "http"}
}

// ruleHints place keys of exec: and http: written directly in the rule.
// They are checked before the closest-key suggestion: `url` in a rule is
// a misplaced key, not a typo of another.
func ruleHints() map[string]string {
	h := map[string]string{}
	for _, k := range execKeys() {
		h[k] = "`" + k + "` belongs under `exec:`"
	}
	for _, k := range httpKeys() {
		if _, both := h[k]; both {
			h[k] = "`" + k + "` belongs under `exec:` or `http:`"
		} else {
			h[k] = "`" + k + "` belongs under `http:`"
		}
	}
	delete(h, "timeout") // a rule has its own
	return h
}

// rules decodes the rule list. A rule with mistakes is reported and left
// out; ids are checked for duplicates across all rules, broken or not.
func (d *decoder) rules(n *node) []Rule {
	pl := place{path: "rules"}
	if n.Kind != yaml.SequenceNode || refused(n) != "" {
		d.wrongType(n, pl, "a list of rules (- id: …)")
		return nil
	}
	type first struct {
		index int
		pos   Pos
	}
	ids := make(map[string]first, d.ruleCount(n))
	rules := make([]Rule, 0, d.ruleCount(n))
	for i, item := range d.ruleNodes(n) {
		before := len(d.errs.errs)
		r, idNode := d.rule(item, i)
		if idNode != nil {
			if f, dup := ids[r.ID]; dup {
				d.at(idNode, place{path: "rules"}.index(i).field("id").ofRule(r.ID),
					"%s is already the id of rules[%d] (%s:%d:%d)", quote(r.ID), f.index, d.path, f.pos.Line, f.pos.Column)
			} else {
				ids[r.ID] = first{i, posOf(idNode)}
			}
		}
		if len(d.errs.errs) == before {
			rules = append(rules, r)
		}
	}
	return rules
}

// rule decodes one rule. It returns the id's node when the id is valid,
// for the duplicate check.
func (d *decoder) rule(n *node, i int) (Rule, *node) {
	pl := place{path: "rules"}.index(i)
	r := Rule{Pos: posOf(n), MaxRunning: d.maxRunningDefault}
	if n.Kind == yaml.MappingNode {
		// The id labels every message about the rule, wherever it is.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, _ := scalar(n.Content[i]); k == "id" {
				if id, ok := scalar(n.Content[i+1]); ok {
					pl = pl.ofRule(id)
				}
				break // the first id is the one used; a second is a duplicate
			}
		}
	}
	before := len(d.errs.errs)
	keys, ok := d.fields(n, pl, ruleKeys(), ruleHints)
	if !ok {
		return r, nil
	}

	var idNode *node
	if e, ok := keys.get("id"); !ok {
		d.atPos(r.Pos, pl.field("id"), "required")
	} else if id, ok := d.str(e.val, pl.field("id")); ok {
		if problem := idProblem(id); problem != "" {
			d.at(e.val, pl.field("id"), "%s", problem)
		} else {
			r.ID, idNode = id, e.val
		}
	}
	if e, ok := keys.get("name"); ok {
		r.Name, _ = d.str(e.val, pl.field("name"))
	}
	if e, ok := keys.get("type"); !ok {
		d.atPos(r.Pos, pl.field("type"), "required (normal: every worker runs it; preemption: one worker of the fleet does)")
	} else if s, ok := d.oneOf(e.val, pl.field("type"), "normal", "preemption"); ok {
		r.Type, _ = ngxtasks.ParseType(s)
	}
	if sched, ok := keys.get("schedule"); ok {
		if iv, ok := keys.get("interval"); ok {
			d.at(iv.key, pl, "has both interval: and schedule:; a rule has one of them")
		}
		d.schedule(&r, sched, keys, pl)
	} else {
		d.interval(&r, keys, pl)
	}
	if e, ok := keys.get("timeout"); ok {
		if v, ok := d.nonNegativeDuration(e.val, pl.field("timeout")); ok {
			r.Timeout = v
		}
	}
	if e, ok := keys.get("catch_up"); ok {
		if v, ok := d.nonNegativeDuration(e.val, pl.field("catch_up")); ok {
			r.CatchUp = v
		}
	}

	if e, ok := keys.get("overlap"); ok {
		if s, ok := d.oneOf(e.val, pl.field("overlap"), "skip", "buffer_one", "replace", "allow"); ok {
			r.Overlap, _ = ngxtasks.ParseOverlap(s)
		}
	}

	if e, ok := keys.get("reruns"); ok {
		if v, ok := d.integer(e.val, pl.field("reruns")); ok {
			if v < 0 || v > 255 {
				d.at(e.val, pl.field("reruns"), "must be between 0 and 255, got %d", v)
			} else {
				r.Reruns = uint8(v)
			}
		}
	}

	if e, ok := keys.get("retry"); ok {
		r.Retry = d.retry(e.val, pl.field("retry"))
	}

	if e, ok := keys.get("max_running"); ok {
		if v, ok := d.maxRunning(e.val, pl.field("max_running")); ok {
			r.MaxRunning = v
		}
	}

	ex, hasExec := keys.get("exec")
	ht, hasHTTP := keys.get("http")
	switch {
	case hasExec && hasHTTP:
		later := ht
		if posOf(ex.key).Line > posOf(ht.key).Line {
			later = ex
		}
		d.at(later.key, pl, "has both exec: and http:; a rule does one of them")
	case hasExec:
		r.Exec = d.exec(ex.val, pl.field("exec"))
	case hasHTTP:
		r.HTTP = d.http(ht.val, pl.field("http"), r.Timeout)
	default:
		d.atPos(r.Pos, pl, "needs exec: (run a program) or http: (send a request)")
	}

	if len(d.errs.errs) == before {
		if err := checkCore(&r); err != nil {
			d.atPos(r.Pos, pl, err.Error())
		}
		r.Fingerprint, d.fpBuf = fingerprint(&r, d.fpBuf)
	}
	return r, idNode
}

// idProblem applies ngxtasks' rule for identifiers, by asking it: the
// file accepts exactly the identifiers a Manager does.
func idProblem(id string) string {
	probe := Rule{ID: id, Interval: 1, Type: ngxtasks.Normal, Exec: &Exec{}}
	err := checkCore(&probe)
	if err == nil {
		return ""
	}
	if re := (*ngxtasks.RuleError)(nil); errors.As(err, &re) && re.Field == "Identifier" {
		return re.Problem
	}
	return err.Error()
}

// checkCore runs ngxtasks' own validation on a rule that passed the
// file's checks, so that the two cannot drift apart unnoticed: a rule this
// package accepts is one a Manager accepts.
func checkCore(r *Rule) error {
	c := r.Core()
	c.Callback = func(context.Context, ngxtasks.Firing) error { return nil }
	if err := c.Validate(); err != nil {
		return fmt.Errorf("ngxtasks refuses the rule: %w", err)
	}
	return nil
}
