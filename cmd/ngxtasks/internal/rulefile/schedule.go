package rulefile

import (
	"errors"
	"fmt"
	"time"

	"github.com/ngxtasks/ngxtasks/calendar"
)

// schedule decodes a rule's schedule: and the keys that go with it. A
// mistake is reported at the key it is about: the zone at zone:, the
// expression at schedule:. An interval's keys are refused.
func (d *decoder) schedule(r *Rule, sched entry, keys fieldSet, pl place) {
	for _, k := range []string{"offset", "spread"} {
		if e, ok := keys.get(k); ok {
			d.at(e.key, pl.field(k), "is for interval: rules; a schedule: places its own slots")
		}
	}
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
	if s, ok := d.schedules[scheduleKey{spec, o}]; ok {
		r.Schedule = s
		return
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
		if d.schedules == nil {
			d.schedules = map[scheduleKey]*calendar.Schedule{}
		}
		d.schedules[scheduleKey{spec, o}] = s
	}
}

// scheduleKey is a schedule as written: expression and options.
type scheduleKey struct {
	spec string
	o    calendar.Options
}

// interval decodes a rule's interval: and the keys that go with it. A
// schedule's keys are refused.
func (d *decoder) interval(r *Rule, keys fieldSet, pl place) {
	for _, k := range []string{"zone", "gap", "repeat", "jitter"} {
		if e, ok := keys.get(k); ok {
			d.at(e.key, pl.field(k), "is for a schedule: rule (e.g. schedule: \"0 2 * * *\" with zone: Europe/Berlin)")
		}
	}
	if e, ok := keys.get("interval"); !ok {
		d.atPos(r.Pos, pl.field("interval"), `required (e.g. interval: 30s), or a schedule: (e.g. schedule: "0 2 * * 1-5")`)
	} else if v, ok := d.duration(e.val, pl.field("interval")); ok {
		switch {
		case v <= 0:
			d.at(e.val, pl.field("interval"), "must be more than 0, got %v", v)
		case v < MinInterval:
			d.at(e.val, pl.field("interval"), "%s", tooShort(v))
		default:
			r.Interval = v
		}
	}
	if e, ok := keys.get("offset"); ok {
		if v, ok := d.nonNegativeDuration(e.val, pl.field("offset")); ok {
			if r.Interval > 0 && v >= r.Interval {
				d.at(e.val, pl.field("offset"), "must be less than the interval (%v), got %v", r.Interval, v)
			} else {
				r.Offset = v
			}
		}
	}
	if e, ok := keys.get("spread"); ok {
		r.Spread, _ = d.boolean(e.val, pl.field("spread"))
	}
}

// tooShort says why the command refuses an interval under MinInterval,
// in a YAML file and in a Lua file alike.
func tooShort(v time.Duration) string {
	return fmt.Sprintf("must be at least %v, got %v: a shorter interval has every worker start and log runs faster than anyone can use them", MinInterval, v)
}
