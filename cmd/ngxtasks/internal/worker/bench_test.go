package worker

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/logs"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

type benchClock struct{ ns atomic.Int64 }

func (c *benchClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// BenchmarkExecTrue compares a firing of an exec rule running /bin/true
// through a worker — the manager's drive step, the line to the master, the
// action with its process group and output capture, the run's log line —
// with a bare loop running the same program. Compare the two with
// benchstat (-count 8); the target is at most 1.3x.
func BenchmarkExecTrue(b *testing.B) {
	b.Run("mode=bare", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mode=worker", func(b *testing.B) {
		f, err := rulefile.Parse("/bench/rules.yaml", []byte("rules:\n  - {id: t, interval: 1s, type: normal, exec: {argv: [/bin/true]}}\n"), rulefile.Env{})
		if err != nil {
			b.Fatal(err)
		}
		clock := &benchClock{}
		clock.ns.Store(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).UnixNano())
		log := logs.New(io.Discard, "json", slog.LevelInfo, nil)
		w := &worker{hello: wire.Hello{Worker: "bench"}, out: wire.NewWriter[wire.ToMaster](io.Discard), log: log, client: actionClient()}
		w.m = &ngxtasks.Manager{Clock: clock, Worker: "bench", Logger: slog.New(logs.Without(log.Handler(), "ngxtasks: finished"))}
		defer w.m.Shutdown(context.Background())
		rules, _, _, err := w.rules(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.m.Push(rules...); err != nil {
			b.Fatal(err)
		}
		defer w.m.Watch(w.announce)()
		ctx := context.Background()
		for b.Loop() {
			if err := w.m.Run(ctx); err != nil {
				b.Fatal(err)
			}
			clock.ns.Add(int64(time.Second))
		}
		if st := w.m.Stats()[0]; st.Succeeded != int64(b.N) {
			b.Fatalf("%d runs succeeded of %d", st.Succeeded, b.N)
		}
	})
}
