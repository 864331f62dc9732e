package master

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

const reloadFile = `
workers: 3
dict: mem://
listen: off
token_env: TEST_RELOAD_TOKEN
rules:
  - {id: kept, interval: 1s, type: normal, exec: {argv: ["true"]}}
  - {id: changed, interval: 1s, type: normal, exec: {argv: ["true"]}}
  - {id: removed, interval: 1s, type: normal, exec: {argv: ["true"]}}
`

const reloadedFile = `
workers: 3
dict: mem://
listen: off
token_env: TEST_RELOAD_TOKEN
rules:
  - {id: kept, interval: 1s, type: normal, exec: {argv: ["true"]}}
  - {id: changed, interval: 2s, type: normal, exec: {argv: ["true"]}}
  - {id: added, interval: 1s, type: normal, exec: {argv: ["true"]}}
`

// newTestMaster is a master of a rule file written with text, whose
// workers are places with no process; it starts nothing.
func newTestMaster(t *testing.T, text string) *Master {
	t.Helper()
	t.Setenv("TEST_RELOAD_TOKEN", "") // restored after the test
	os.Unsetenv("TEST_RELOAD_TOKEN")
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, path, text)
	m, err := New(Options{Config: path, Exe: "/bin/true", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.settings.Workers {
		m.workers = append(m.workers, &proc{index: i, name: "w" + string(rune('0'+i)), groups: map[int]bool{}, awaited: map[int64]bool{}})
	}
	return m
}

func writeRules(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reloadNow reloads m's file, now text, giving up after a while.
func reloadNow(t *testing.T, m *Master, text string) ReloadResult {
	t.Helper()
	writeRules(t, m.opts.Config, text)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := m.reload(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the reload waited until the test gave up: %+v", res)
	}
	return res
}

// up gives p a running process, which does what answer says with each
// line it reads.
func up(m *Master, p *proc, answer func(msg wire.ToWorker)) {
	r, w := io.Pipe()
	p.to = wire.NewWriter[wire.ToWorker](w)
	p.up = true
	go func() {
		in := wire.NewReader[wire.ToWorker](r)
		for {
			msg, err := in.Read()
			if err != nil {
				return
			}
			answer(msg)
		}
	}()
}

// TestReloadWithNoWorkerUpIsAppliedAtOnce: between processes a worker is not
// waited for; the reload is applied at once, and the next hello carries the
// file.
func TestReloadWithNoWorkerUpIsAppliedAtOnce(t *testing.T) {
	m := newTestMaster(t, reloadFile)
	res := reloadNow(t, m, reloadedFile)
	if res.Refused || res.Seq != 1 || res.Workers != 0 || res.Failed != 0 || res.Pending != 0 {
		t.Fatalf("%+v", res)
	}
	if !slices.Equal(res.Added, []string{"added"}) || !slices.Equal(res.Changed, []string{"changed"}) || !slices.Equal(res.Removed, []string{"removed"}) {
		t.Fatalf("diff %v %v %v", res.Added, res.Changed, res.Removed)
	}
	if len(m.pending) != 0 {
		t.Fatalf("pending reloads %v", m.pending)
	}
	if !strings.Contains(string(m.snap.Files[m.snap.Path]), "id: added") {
		t.Fatal("the next hello does not carry the new file")
	}
}

// TestReloadEndsOnceEveryWorkerUpHasAnswered: a reload is done when every
// worker up has answered — by applying it, by refusing it (counted failed),
// or by exiting, before or after the file reached it; one between processes
// is not waited for.
func TestReloadEndsOnceEveryWorkerUpHasAnswered(t *testing.T) {
	m := newTestMaster(t, reloadFile)
	applies, refuses, exits := m.workers[0], m.workers[1], m.workers[2]
	up(m, applies, func(msg wire.ToWorker) { m.reloaded(applies, &wire.Reloaded{Seq: msg.Seq, Kept: 1}) })
	up(m, refuses, func(msg wire.ToWorker) { m.reloaded(refuses, &wire.Reloaded{Seq: msg.Seq, Error: "bad"}) })
	up(m, exits, func(wire.ToWorker) { m.exited(exits) })
	gone := &proc{index: 3, name: "w3", awaited: map[int64]bool{}, groups: map[int]bool{}}
	r, w := io.Pipe()
	r.Close() // its process exited as the reload was sent: the write fails
	gone.to = wire.NewWriter[wire.ToWorker](w)
	m.workers = append(m.workers, gone, &proc{index: 4, name: "w4", awaited: map[int64]bool{}, groups: map[int]bool{}})

	res := reloadNow(t, m, reloadedFile)
	if res.Refused || res.Workers != 4 || res.Failed != 1 || res.Pending != 0 {
		t.Fatalf("%+v; want 4 workers sent the file, 1 failed, none pending", res)
	}
	if len(m.pending) != 0 {
		t.Fatalf("pending reloads %v", m.pending)
	}
	for _, p := range m.workers {
		if len(p.awaited) != 0 {
			t.Errorf("%s still awaits %v", p.name, p.awaited)
		}
	}
	if exits.to != nil || exits.up {
		t.Error("an exited process is still written to")
	}
}

// TestReloadCountsUnansweredWorkersPendingUntilTheirLateAnswer: a reload is
// given with the workers that have not answered yet counted pending; their
// late answer closes it.
func TestReloadCountsUnansweredWorkersPendingUntilTheirLateAnswer(t *testing.T) {
	m := newTestMaster(t, reloadFile)
	m.workers = m.workers[:1]
	p := m.workers[0]
	ctx, cancel := context.WithCancel(context.Background())
	up(m, p, func(wire.ToWorker) { cancel() }) // the master stops before the answer comes
	writeRules(t, m.opts.Config, reloadedFile)
	if res := m.reload(ctx); res.Workers != 1 || res.Pending != 1 {
		t.Fatalf("%+v; want the one worker pending", res)
	}
	r := m.pending[1]
	m.answered(2, true) // another reload's: not this one's
	m.reloaded(p, &wire.Reloaded{Seq: 1})
	select {
	case <-r.done:
	default:
		t.Fatal("the late answer did not close the reload")
	}
	if len(m.pending) != 0 || r.failed != 0 {
		t.Fatalf("pending %v, failed %d", m.pending, r.failed)
	}
}

// TestReloadRefusesAFileWithMistakesAndKeepsWhatRuns: a file with mistakes
// is refused, each mistake a line, and what runs stays.
func TestReloadRefusesAFileWithMistakesAndKeepsWhatRuns(t *testing.T) {
	m := newTestMaster(t, reloadFile)
	before := m.file
	res := reloadNow(t, m, reloadFile+"  - {id: bad, interval: 2x, type: normal, exec: {argv: [\"true\"]}}\n")
	if !res.Refused || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], `"2x" is not a duration`) {
		t.Fatalf("%+v", res)
	}
	if m.file != before || m.seq != 0 {
		t.Fatal("a refused file replaced what runs")
	}
}

// TestReloadNamesTheSettingsThatNeedARestart names the settings a reload
// does not apply, compared with what runs: a file back to what runs names
// none.
func TestReloadNamesTheSettingsThatNeedARestart(t *testing.T) {
	m := newTestMaster(t, reloadFile)
	changed := strings.NewReplacer("workers: 3", "workers: 2", "dict: mem://", "dict: mem://b").Replace(reloadFile) +
		"namespace: other\nstate_dir: /tmp/elsewhere\nname: renamed\nskew_tolerance: 1s\nmetrics: {rules: all}\nlog: {level: debug}\n"
	res := reloadNow(t, m, changed)
	want := []string{"workers", "dict", "namespace", "state_dir", "log", "name", "skew_tolerance", "metrics"}
	if !slices.Equal(res.Restart, want) {
		t.Fatalf("restart %v, want %v (%+v)", res.Restart, want, res)
	}
	if res := reloadNow(t, m, reloadFile); len(res.Restart) != 0 {
		t.Fatalf("back to what runs: restart %v", res.Restart)
	}
	m.opts.Overrides = Overrides{Listen: "127.0.0.1:1"}
	if res := reloadNow(t, m, reloadFile); !slices.Equal(res.Restart, []string{"listen"}) {
		t.Fatalf("a listen override that differs: restart %v", res.Restart)
	}
}
