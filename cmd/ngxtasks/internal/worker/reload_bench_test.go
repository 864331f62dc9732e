package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/logs"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// BenchmarkReload is a worker's part of a reload of 10,000 rules with
// one rule renamed: decoding the master's line, reparsing, Replace.
func BenchmarkReload(b *testing.B) {
	file := func(name string) []byte {
		var sb strings.Builder
		sb.WriteString("rules:\n")
		for i := range 10000 {
			fmt.Fprintf(&sb, "  - id: r%d\n    interval: 24h\n    type: normal\n    http: {url: \"http://127.0.0.1:1/x\"}\n", i)
			if i == 5000 {
				fmt.Fprintf(&sb, "    name: %s\n", name)
			}
		}
		return []byte(sb.String())
	}
	lines := make([][]byte, 2)
	for i := range lines {
		line, err := json.Marshal(wire.ToWorker{Config: &wire.Snapshot{Path: "/b/rules.yaml", Files: map[string][]byte{"/b/rules.yaml": file(fmt.Sprint("n", i))}}, Seq: 1})
		if err != nil {
			b.Fatal(err)
		}
		lines[i] = line
	}
	log := logs.New(io.Discard, "json", slog.LevelInfo, nil)
	w := &worker{hello: wire.Hello{Worker: "bench"}, out: wire.NewWriter[wire.ToMaster](io.Discard), log: log, client: actionClient()}
	w.m = &ngxtasks.Manager{Worker: "bench", Logger: log}
	defer w.m.Shutdown(context.Background())
	var first wire.ToWorker
	if err := json.Unmarshal(lines[0], &first); err != nil {
		b.Fatal(err)
	}
	f, err := parse(nil, first.Config)
	if err != nil {
		b.Fatal(err)
	}
	w.file = f
	rules, _, _, err := w.rules(f)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.m.Push(rules...); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		var msg wire.ToWorker
		if err := json.Unmarshal(lines[(i+1)%2], &msg); err != nil {
			b.Fatal(err)
		}
		if r := w.reload(int64(i), msg.Config); r.Error != "" || len(r.Changed) != 1 {
			b.Fatalf("reload: %+v", r)
		}
	}
}
