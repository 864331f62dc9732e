package rulefile

import (
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestOverlapAndRetryReachTheCoreRule: overlap: and retry: become the
// core rule's Overlap and Retry, and change the rule's fingerprint.
func TestOverlapAndRetryReachTheCoreRule(t *testing.T) {
	const plain = "rules:\n  - {id: a, interval: 1m, type: preemption, exec: {argv: [true]}}\n"
	const set = "rules:\n  - {id: a, interval: 1m, type: preemption, overlap: skip, retry: {attempts: 3, backoff: 2s, max_backoff: 10s}, exec: {argv: [true]}}\n"
	p, err := Parse("rules.yaml", []byte(plain), Env{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("rules.yaml", []byte(set), Env{})
	if err != nil {
		t.Fatal(err)
	}
	c := f.Rules[0].Core()
	if c.Overlap != ngxtasks.OverlapSkip || c.Retry == nil || *c.Retry != (ngxtasks.Retry{Attempts: 3, Backoff: 2 * time.Second, MaxBackoff: 10 * time.Second}) {
		t.Errorf("core rule: overlap %v, retry %+v", c.Overlap, c.Retry)
	}
	if pc := p.Rules[0].Core(); pc.Overlap != ngxtasks.OverlapDefault || pc.Retry != nil {
		t.Errorf("a rule without them: overlap %v, retry %+v", pc.Overlap, pc.Retry)
	}
	if p.Rules[0].Fingerprint == f.Rules[0].Fingerprint {
		t.Error("overlap and retry leave the fingerprint unchanged")
	}
}
