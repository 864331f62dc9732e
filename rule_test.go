package ngxtasks_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestB3_InvalidRulesAreRefusedNamingRuleAndField(t *testing.T) {
	good := ngxtasks.Rule{Identifier: "ok", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}
	with := func(f func(*ngxtasks.Rule)) ngxtasks.Rule { r := good; f(&r); return r }
	tests := []struct {
		name  string
		rule  ngxtasks.Rule
		field string
	}{
		{"empty identifier", with(func(r *ngxtasks.Rule) { r.Identifier = ""; r.Name = "nameless" }), "Identifier"},
		{"blank identifier", with(func(r *ngxtasks.Rule) { r.Identifier = "  " }), "Identifier"},
		{"long identifier", with(func(r *ngxtasks.Rule) { r.Identifier = strings.Repeat("x", 257) }), "Identifier"},
		{"zero interval", with(func(r *ngxtasks.Rule) { r.Interval = 0 }), "Interval"},
		{"negative interval", with(func(r *ngxtasks.Rule) { r.Interval = -time.Second }), "Interval"},
		{"no type", with(func(r *ngxtasks.Rule) { r.Type = 0 }), "Type"},
		{"unknown type", with(func(r *ngxtasks.Rule) { r.Type = 9 }), "Type"},
		{"no callback", with(func(r *ngxtasks.Rule) { r.Callback = nil }), "Callback"},
		{"negative timeout", with(func(r *ngxtasks.Rule) { r.Timeout = -1 }), "Timeout"},
		{"offset too large", with(func(r *ngxtasks.Rule) { r.Offset = time.Second }), "Offset"},
		{"negative offset", with(func(r *ngxtasks.Rule) { r.Offset = -time.Millisecond }), "Offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m ngxtasks.Manager
			err := m.Push(good, tt.rule)
			if !errors.Is(err, ngxtasks.ErrInvalidRule) {
				t.Fatalf("Push: %v, want ErrInvalidRule", err)
			}
			var re *ngxtasks.RuleError
			if !errors.As(err, &re) || re.Field != tt.field {
				t.Fatalf("Push: %v, want a RuleError on field %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), re.Rule[:min(len(re.Rule), 64)]) || re.Rule == "" { // long ones are cut
				t.Fatalf("error %q does not name the rule", err)
			}
			if n := len(m.Rules()); n != 0 {
				t.Fatalf("a refused Push added %d rules; it must add none", n)
			}
		})
	}
}

func TestB3_DuplicateIdentifiers(t *testing.T) {
	r := ngxtasks.Rule{Identifier: "dup", Interval: time.Second, Type: ngxtasks.Preemption, Callback: noop}
	var m ngxtasks.Manager
	if err := m.Push(r, r); !errors.Is(err, ngxtasks.ErrDuplicateRule) || !errors.Is(err, ngxtasks.ErrInvalidRule) {
		t.Fatalf("same identifier twice in one Push: %v", err)
	}
	if err := m.Push(r); err != nil {
		t.Fatal(err)
	}
	err := m.Push(r)
	if !errors.Is(err, ngxtasks.ErrDuplicateRule) || !strings.Contains(err.Error(), `"dup"`) {
		t.Fatalf("identifier already pushed: %v", err)
	}
	if !m.Remove("dup") || m.Remove("dup") {
		t.Fatal("Remove should report true once, then false")
	}
	if err := m.Push(r); err != nil {
		t.Fatalf("Push after Remove: %v", err)
	}
}

func TestB3_InvalidConfig(t *testing.T) {
	m := ngxtasks.Manager{SkewTolerance: -time.Second}
	r := ngxtasks.Rule{Identifier: "a", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop}
	if err := m.Push(r); !errors.Is(err, ngxtasks.ErrInvalidConfig) || !strings.Contains(err.Error(), "SkewTolerance") {
		t.Fatalf("Push with negative SkewTolerance: %v", err)
	}
	if err := m.Start(t.Context()); !errors.Is(err, ngxtasks.ErrInvalidConfig) {
		t.Fatalf("Start with negative SkewTolerance: %v", err)
	}
	if err := m.Run(t.Context()); !errors.Is(err, ngxtasks.ErrInvalidConfig) {
		t.Fatalf("Run with negative SkewTolerance: %v", err)
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]ngxtasks.Type{"normal": ngxtasks.Normal, "Preemption": ngxtasks.Preemption, " normal ": ngxtasks.Normal} {
		if got, err := ngxtasks.ParseType(in); err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ngxtasks.ParseType("preempt"); err == nil || !strings.Contains(err.Error(), "preempt") {
		t.Errorf("ParseType(preempt) = %v", err)
	}
	if ngxtasks.Normal.String() != "normal" || ngxtasks.Preemption.String() != "preemption" {
		t.Error("Type.String does not round-trip")
	}
}

func TestRulesListsCopiesInPushOrder(t *testing.T) {
	var m ngxtasks.Manager
	rs := []ngxtasks.Rule{
		{Identifier: "c", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop},
		{Identifier: "a", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: noop},
		{Identifier: "b", Interval: time.Hour, Type: ngxtasks.Normal, Callback: noop},
	}
	if err := m.Push(rs...); err != nil {
		t.Fatal(err)
	}
	rs[0].Interval = 99 // the manager keeps its own copy
	got := m.Rules()
	if len(got) != 3 || got[0].Identifier != "c" || got[1].Identifier != "a" || got[2].Identifier != "b" || got[0].Interval != time.Second {
		t.Fatalf("Rules() = %+v", got)
	}
}
