package rulefile

import (
	"errors"

	"github.com/ngxtasks/ngxtasks/calendar"
)

// scheduleKeys are the keys that belong to a schedule: rule.
var scheduleKeys = []string{"zone", "gap", "repeat", "jitter"}

// schedule decodes a rule's schedule: and the keys that go with it. A
// mistake is reported at the key it is about: the zone at zone:, the
// expression at schedule:.
func (d *decoder) schedule(r *Rule, sched entry, keys fieldSet, pl place) {
	spec, ok := d.str(sched.val, pl.field("schedule"))
	if !ok {
		return
	}
	var o calendar.Options
	zone, hasZone := keys.get("zone")
	if hasZone {
		if o.Zone, ok = d.str(zone.val, pl.field("zone")); !ok {
			return
		}
	}
	if e, ok := keys.get("gap"); ok {
		switch w, _ := d.oneOf(e.val, pl.field("gap"), "run", "skip"); w {
		case "skip":
			o.Gap = calendar.SkipGap
		case "":
			return
		}
	}
	if e, ok := keys.get("repeat"); ok {
		switch w, _ := d.oneOf(e.val, pl.field("repeat"), "first", "last", "both"); w {
		case "last":
			o.Repeat = calendar.LastPass
		case "both":
			o.Repeat = calendar.BothPasses
		case "":
			return
		}
	}
	if e, ok := keys.get("jitter"); ok {
		if r.Jitter, ok = d.nonNegativeDuration(e.val, pl.field("jitter")); !ok {
			return
		}
	}
	s, err := calendar.Parse(spec, o)
	var ce *calendar.Error
	switch {
	case errors.As(err, &ce) && ce.Field == "zone" && hasZone:
		d.at(zone.val, pl.field("zone"), "%s: %s (an IANA name, e.g. Europe/Berlin or UTC)", quote(ce.Value), ce.Problem)
	case errors.As(err, &ce):
		d.at(sched.val, pl.field("schedule"), "%s", ce.Problem)
	case err != nil:
		d.at(sched.val, pl.field("schedule"), "%v", err)
	default:
		r.Schedule = s
	}
}

// scheduleOnly reports the keys of a schedule: in a rule that has none.
func (d *decoder) scheduleOnly(keys fieldSet, pl place) {
	for _, k := range scheduleKeys {
		if e, ok := keys.get(k); ok {
			d.at(e.key, pl.field(k), "is for a schedule: rule (e.g. schedule: \"0 2 * * *\" with zone: Europe/Berlin)")
		}
	}
}
