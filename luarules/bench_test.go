package luarules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// BenchmarkCallback: what calling a trivial callback costs, in Lua
// (function(self) end, through the worker's lock and a Lua thread) and
// in Go, in the same run.
func BenchmarkCallback(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "trivial.lua")
	src := `return {
    { identifier = 'trivial', interval = 1, typ = 'normal', callback = function(self) end },
    { identifier = 'logs', interval = 1, typ = 'normal', callback = function(self) ngx.log(ngx.DEBUG, 'x') end },
    { identifier = 'counts', interval = 1, typ = 'normal', n = 0, callback = function(self) self.n = self.n + 1 end },
}`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := luarules.Load(path, luarules.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	w, err := f.Worker(luarules.WorkerConfig{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	byID := map[string]ngxtasks.Func{}
	for _, r := range w.Rules() {
		byID[r.Identifier] = r.Callback
	}
	goCallback := ngxtasks.Func(func(context.Context, ngxtasks.Firing) error { return nil })
	for _, bc := range []struct {
		name string
		fn   ngxtasks.Func
	}{
		{"go", goCallback},
		{"lua", byID["trivial"]},
		{"lua-counter", byID["counts"]},
		{"lua-ngx.log-filtered", byID["logs"]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.fn(ctx, ngxtasks.Firing{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// thousandRules writes a rule file of n rules (1,000 in the benchmarks' name), each with its own callback
// closure, and returns its path.
func thousandRules(tb testing.TB, n int) string {
	var sb strings.Builder
	sb.WriteString("local rules = {}\n")
	for i := range n {
		typ := "normal"
		if i%2 == 1 {
			typ = "preemption"
		}
		fmt.Fprintf(&sb, "rules[#rules+1] = { name = 'rule %d', identifier = 'r%04d', interval = %d, typ = '%s', callback = function(self) ngx.log(ngx.INFO, self.identifier) end }\n", i, i, 1+i%60, typ)
	}
	sb.WriteString("return rules\n")
	path := filepath.Join(tb.TempDir(), "rules.lua")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkWorkerMemory: the heap a worker's Lua state holds for a file
// of 1 and of 1,000 rules (bytes/worker: the live heap after a GC with 8
// workers alive, divided by 8), and the time to make one (the file runs
// again in the new state; its compiled code is shared) and close it.
func BenchmarkWorkerMemory(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			path := thousandRules(b, n)
			f, err := luarules.Load(path, luarules.Options{Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			const alive = 8
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ws := make([]*luarules.Worker, alive)
			for i := range ws {
				if ws[i], err = f.Worker(luarules.WorkerConfig{ID: i, Logger: quiet()}); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perWorker := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / alive
			for _, w := range ws {
				_ = w.Close()
			}
			for b.Loop() {
				w, err := f.Worker(luarules.WorkerConfig{Logger: quiet()})
				if err != nil {
					b.Fatal(err)
				}
				_ = w.Close()
			}
			b.ReportMetric(perWorker, "bytes/worker")
			b.ReportMetric(perWorker/float64(n), "bytes/rule")
		})
	}
}

// BenchmarkLoad1000Rules: Load of a 1,000-rule file: parse, scan,
// compile, run and validate.
func BenchmarkLoad1000Rules(b *testing.B) {
	path := thousandRules(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := luarules.Load(path, luarules.Options{Logger: quiet()}); err != nil {
			b.Fatal(err)
		}
	}
}
