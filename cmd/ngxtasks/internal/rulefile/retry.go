package rulefile

import (
	"github.com/ngxtasks/ngxtasks"
)

func retryKeys() []string { return []string{"attempts", "backoff", "max_backoff"} }

// retry reads retry: {attempts: n, backoff: d, max_backoff: d}, the
// rule's ngxtasks.Retry. attempts is required; the rest have the
// library's defaults.
func (d *decoder) retry(n *node, pl place) *ngxtasks.Retry {
	keys, ok := d.fields(n, pl, retryKeys(), nil)
	if !ok {
		return nil
	}
	r := &ngxtasks.Retry{}
	if e, ok := keys.get("attempts"); !ok {
		d.at(n, pl, "needs attempts: (how many times a failed run is tried again, 1 to %d)", ngxtasks.MaxRetries)
		return nil
	} else if v, ok := d.integer(e.val, pl.field("attempts")); ok {
		if v < 1 || v > ngxtasks.MaxRetries {
			d.at(e.val, pl.field("attempts"), "must be between 1 and %d, got %d", ngxtasks.MaxRetries, v)
			return nil
		}
		r.Attempts = int(v)
	}
	if e, ok := keys.get("backoff"); ok {
		r.Backoff, _ = d.nonNegativeDuration(e.val, pl.field("backoff"))
	}
	if e, ok := keys.get("max_backoff"); ok {
		r.MaxBackoff, _ = d.nonNegativeDuration(e.val, pl.field("max_backoff"))
	}
	return r
}
