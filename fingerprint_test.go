package ngxtasks_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestFleetThatDisagreesAboutARuleIsReported: two workers whose rule has
// the same identifier but another Version (a half-reloaded fleet): the
// one that loses a claim finds the other's Version in it, logs it once
// (naming the other worker and the two versions by tags, never the
// versions), and Stats show it; Winner still names the winner alone.
func TestFleetThatDisagreesAboutARuleIsReported(t *testing.T) {
	clock := newFakeClock(time.Unix(1_800_000_000, 0))
	d := &ngxtasks.MemoryDict{Clock: clock}
	defer d.Close()
	var logs [2]bytes.Buffer
	var mus [2]sync.Mutex
	var ms [2]*ngxtasks.Manager
	for i, version := range []string{"secret-definition-one", "secret-definition-two"} {
		m := &ngxtasks.Manager{Dict: d, Clock: clock, Worker: []string{"old", "new"}[i],
			Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs[i], mu: &mus[i]}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
		if err := m.Push(ngxtasks.Rule{Identifier: "job", Interval: time.Second, Type: ngxtasks.Preemption, Version: version, Callback: noop}); err != nil {
			t.Fatal(err)
		}
		shutdown(t, m)
		ms[i] = m
	}
	for range 5 {
		for _, m := range ms {
			if err := m.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		clock.Add(time.Second)
	}
	loser := ms[1] // "old" drives first and wins every slot
	waitFor(t, func() bool { return loser.Stats()[0].Disagreement != nil })
	dis := loser.Stats()[0].Disagreement
	if dis.Worker != "old" || dis.Ours == dis.Theirs || dis.Ours == "" {
		t.Errorf("disagreement %+v; want the worker old and two different tags", dis)
	}
	mus[1].Lock()
	out := logs[1].String()
	mus[1].Unlock()
	if n := strings.Count(out, "the fleet disagrees"); n != 1 {
		t.Errorf("logged %d times; want once:\n%s", n, out)
	}
	if strings.Contains(out, "secret-definition") || !strings.Contains(out, dis.Theirs) {
		t.Errorf("the log shows a version, or not its tag:\n%s", out)
	}
	if w, ok, err := loser.Winner(context.Background(), "job", clock.Now().Add(-time.Second)); err != nil || !ok || w != "old" {
		t.Errorf("Winner = %q, %v, %v; want old", w, ok, err)
	}
	if ms[0].Stats()[0].Disagreement != nil {
		t.Error("the winner, which lost no claim, reports a disagreement")
	}
}
