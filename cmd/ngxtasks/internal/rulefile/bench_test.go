package rulefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// realisticRule is one rule as a generated 10,000-rule file writes it
// (see cmd/ngxtasks/internal/worker/reload_bench_test.go): block style,
// alternating exec and http, with the keys such files use.
func realisticRule(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("  - id: r%d\n    name: rule %d\n    interval: %dm\n    type: normal\n    timeout: 30s\n    exec:\n      argv: [/usr/local/bin/job, --shard, \"%d\"]\n      env: {SHARD: \"%d\"}\n", i, i, i%60+1, i, i)
	}
	return fmt.Sprintf("  - id: r%d\n    interval: 24h\n    type: preemption\n    spread: true\n    http: {url: \"http://127.0.0.1:1/x/%d\", method: POST, expect: [200, 204]}\n", i, i)
}

// realisticFile is a rule file of n rules, or of as many as fit in
// limit bytes when n < 0.
func realisticFile(n, limit int) []byte {
	var b strings.Builder
	b.WriteString("workers: 4\nlisten: off\nrules:\n")
	for i := 0; n < 0 || i < n; i++ {
		r := realisticRule(i)
		if n < 0 && b.Len()+len(r) > limit {
			break
		}
		b.WriteString(r)
	}
	return []byte(b.String())
}

// benchLoad loads data from a file on disk, as validate does, reporting
// ns/byte, the rule count, and the peak heap a load takes (sampled).
func benchLoad(b *testing.B, data []byte, rules int) {
	path := filepath.Join(b.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var peak uint64
	cpu := cpuTime(b)
	for b.Loop() {
		p := heapPeak(func() {
			f, err := Load(path)
			if err != nil {
				b.Fatal(err)
			}
			if len(f.Rules) != rules {
				b.Fatalf("%d rules, want %d", len(f.Rules), rules)
			}
		})
		peak = max(peak, p)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// cpuTime is the CPU time the process has used, in all its threads: on
// a machine shared with other work it says what a load costs better than
// the time it takes.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapPeak runs fn and returns the most heap its objects took above
// what was live before, sampled every millisecond (runtime/metrics reads
// without stopping the world).
func heapPeak(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > base {
				peak = max(peak, v-base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	return peak
}

// BenchmarkLoad10k is validate of a realistic 10,000-rule file.
func BenchmarkLoad10k(b *testing.B) {
	benchLoad(b, realisticFile(10_000, 0), 10_000)
}

// BenchmarkLoad8MiB is validate of the largest file Load takes.
func BenchmarkLoad8MiB(b *testing.B) {
	data := realisticFile(-1, maxFileSize)
	benchLoad(b, data, strings.Count(string(data), "\n  - id: "))
}

// BenchmarkLoad8MiBSmallRules is validate of the largest file Load takes
// written with small rules, one a line: more rules (about 115,000) for
// the same size, as in the file of issue 15 (107,591 rules).
func BenchmarkLoad8MiBSmallRules(b *testing.B) {
	var buf strings.Builder
	buf.WriteString("rules:\n")
	for i := 0; ; i++ {
		r := fmt.Sprintf("  - {id: r%d, interval: %ds, type: normal, exec: {argv: [/bin/true]}}\n", i, i%60+1)
		if buf.Len()+len(r) > maxFileSize {
			benchLoad(b, []byte(buf.String()), i)
			return
		}
		buf.WriteString(r)
	}
}

// BenchmarkLoad8MiBMistakes is validate of the largest file Load takes
// with a mistake in one rule of a hundred: mistakes are found in the
// same time and memory as a valid file takes.
func BenchmarkLoad8MiBMistakes(b *testing.B) {
	data := realisticFile(-1, maxFileSize)
	var mistakes int
	data = regexp.MustCompile(`type: normal\n    timeout: 30s\n    exec:\n      argv: \[/usr/local/bin/job, --shard, "\d*00"\]`).
		ReplaceAllFunc(data, func(m []byte) []byte {
			mistakes++
			return bytes.Replace(m, []byte("normal"), []byte("nromal"), 1)
		})
	path := filepath.Join(b.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var peak uint64
	for b.Loop() {
		p := heapPeak(func() {
			_, err := Load(path)
			var list Errors
			if !errors.As(err, &list) || len(list) != mistakes {
				b.Fatalf("%d errors, want %d", len(list), mistakes)
			}
		})
		peak = max(peak, p)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkParseQuadratic parses `z: a: a: a: …`, which took goccy/go-yaml
// time quadratic in its length, and a normal file for comparison: ns/byte
// must be alike.
func BenchmarkParseQuadratic(b *testing.B) {
	for _, kb := range []int{90, 180, 360} {
		data := []byte("z: " + strings.Repeat("a: ", kb<<10/3) + "\n")
		b.Run(fmt.Sprintf("size=%dKB", kb), func(b *testing.B) {
			benchParse(b, data)
		})
	}
	b.Run("size=normal", func(b *testing.B) {
		benchParse(b, realisticFile(-1, 360<<10))
	})
}

func benchParse(b *testing.B, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Parse("rules.yaml", data, Env{})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
}
