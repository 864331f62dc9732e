package browsertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// The helpers below are copies of status's test helpers (status_test.go,
// bench_test.go), which a package of another module cannot import.

// t0 starts a 10-second slot (slots count from the Unix epoch).
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for the managers and their dictionary.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time             { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time)            { c.ns.Store(t.UnixNano()) }
func quiet() *slog.Logger                       { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func ok(context.Context, ngxtasks.Firing) error { return nil }

// manyRules is a manager of n rules driven through slots slots of each.
func manyRules(tb testing.TB, n, slots int) *ngxtasks.Manager {
	tb.Helper()
	clock := &fakeClock{}
	clock.Set(t0)
	m := &ngxtasks.Manager{Clock: clock, Worker: "bench", Logger: quiet()}
	boom := errors.New("upstream said 503")
	rules := make([]ngxtasks.Rule, n)
	for i := range rules {
		rules[i] = ngxtasks.Rule{Identifier: fmt.Sprintf("rule-%05d", i), Name: fmt.Sprintf("rule number %d", i),
			Interval: 10 * time.Second, Type: ngxtasks.Normal, Callback: ok}
		if i%10 == 0 {
			rules[i].Type = ngxtasks.Preemption
		}
		if i%7 == 0 {
			rules[i].Callback = func(context.Context, ngxtasks.Firing) error { return boom }
		}
	}
	if err := m.Push(rules...); err != nil {
		tb.Fatal(err)
	}
	for s := range slots {
		clock.Set(t0.Add(time.Duration(s)*10*time.Second + time.Duration(s%5)*time.Second))
		_ = m.Run(context.Background())
	}
	return m
}
