package worker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/logs"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// lockedBuffer is a log output read while workers write to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A reload of a changed Lua file gives the worker a new Lua state: the
// run going on in the old one ends there, and the old state is closed
// only after it; the next slot runs the new callback. A reload of the
// same file keeps the state.
func TestLuaReloadSwapsTheStateAndClosesTheOldOneAfterItsRun(t *testing.T) {
	defer func(d time.Duration) { retireDelay = d }(retireDelay)
	retireDelay = 10 * time.Millisecond
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.lua")
	write := func(tag string) {
		src := "local tag = '" + tag + "'\nrules = { { identifier = 'slow', interval = 1, typ = 'normal',\n" +
			"  callback = function(self) ngx.sleep(0.3); ngx.log(ngx.NOTICE, 'slow ', tag) end } }\n"
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("v1")
	f, _, _, err := rulefile.LoadFiles(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	log := logs.New(out, "json", slog.LevelInfo, nil)
	w := &worker{hello: wire.Hello{Worker: "t", Count: 1}, out: wire.NewWriter[wire.ToMaster](io.Discard), log: log, client: actionClient(), file: f}
	clock := &benchClock{}
	clock.ns.Store(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC).UnixNano())
	w.m = &ngxtasks.Manager{Clock: clock, Worker: "t", Keys: luaKeys{w}, Logger: slog.New(slog.DiscardHandler)}
	defer w.m.Shutdown(context.Background())
	defer w.closeLua()
	rules, first, fresh, err := w.rules(f)
	if err != nil || !fresh {
		t.Fatalf("rules: %v, fresh %v", err, fresh)
	}
	w.setLua(first)
	if err := w.m.Push(rules...); err != nil {
		t.Fatal(err)
	}

	ran := make(chan error, 1)
	go func() { ran <- w.m.Run(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		first.mu.Lock()
		n := first.runs
		first.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}

	reload := func(seq int64) *wire.Reloaded {
		t.Helper()
		nf, abs, files, err := rulefile.LoadFiles(path, w.file)
		if err != nil {
			t.Fatal(err)
		}
		return w.reload(seq, &wire.Snapshot{Path: abs, Files: files, Started: nf.Started.Unix()})
	}
	// The same file: the same state, the rule kept.
	if r := reload(1); r.Error != "" || r.Kept != 1 || w.currentLua() != first {
		t.Fatalf("reload of the same file: %+v", r)
	}
	write("v2")
	if r := reload(2); r.Error != "" || len(r.Changed) != 1 {
		t.Fatalf("reload: %+v", r)
	}
	second := w.currentLua()
	if second == first {
		t.Fatal("a changed file kept its Lua state")
	}
	time.Sleep(50 * time.Millisecond) // past retireDelay, the run still going
	first.mu.Lock()
	closedEarly := first.closed
	first.mu.Unlock()
	if closedEarly {
		t.Fatal("the old state was closed while a run went on in it")
	}
	if err := <-ran; err != nil {
		t.Fatalf("the run in the old state: %v", err)
	}
	first.mu.Lock()
	closed := first.closed
	first.mu.Unlock()
	if !closed {
		t.Error("the old state is still open after its run")
	}
	clock.ns.Add(int64(time.Second))
	if err := w.m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	logged := out.String()
	if !strings.Contains(logged, `"msg":"slow v1"`) || !strings.Contains(logged, `"msg":"slow v2"`) {
		t.Errorf("want the old run to say v1 and the next v2:\n%s", logged)
	}
}
