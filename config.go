package ngxtasks

import (
	"fmt"
	"reflect"
	"time"
)

// fields are a Manager's configuration fields as its first use found them.
// The manager runs on them; setting a field later would otherwise be
// silently ignored, or worse: a Dict set after the first Push leaves this
// manager claiming in a private dictionary, and the fleet runs its slots
// twice. Push, Start, Run and Middleware refuse to go on instead.
type fields struct {
	dict          Dict
	keys          KeyGenerator
	namespace     string
	worker        string
	tolerance     time.Duration
	clock         Clock
	useStoreClock bool
	history       int
	maxRunning    int
	leaseTTL      time.Duration
}

func (m *Manager) fieldsNow() fields {
	return fields{m.Dict, m.Keys, m.Namespace, m.Worker, m.SkewTolerance, m.Clock, m.UseStoreClock, m.HistoryLen, m.MaxRunning, m.LeaseTTL}
}

// changed reports a configuration field set after the manager's first use.
func (m *Manager) changed() error {
	now := m.fieldsNow()
	var name string
	switch was := m.fields; {
	case !same(was.dict, now.dict):
		name = "Dict"
	case !same(was.keys, now.keys):
		name = "Keys"
	case was.namespace != now.namespace:
		name = "Namespace"
	case was.worker != now.worker:
		name = "Worker"
	case was.tolerance != now.tolerance:
		name = "SkewTolerance"
	case !same(was.clock, now.clock):
		name = "Clock"
	case was.useStoreClock != now.useStoreClock:
		name = "UseStoreClock"
	case was.history != now.history:
		name = "HistoryLen"
	case was.maxRunning != now.maxRunning:
		name = "MaxRunning"
	case was.leaseTTL != now.leaseTTL:
		name = "LeaseTTL"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s was changed after the manager's first use; set every field before the first call to a method", ErrInvalidConfig, name)
}

// same compares two interface values without panicking on types that
// cannot be compared (those are taken as unchanged).
func same(a, b any) bool {
	if a == nil || b == nil {
		return a == b
	}
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) {
		return false
	}
	return !ta.Comparable() || a == b
}
