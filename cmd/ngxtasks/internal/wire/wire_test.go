package wire

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestLinesArriveWholeFromConcurrentWritersThenEOF: lines written at once by
// several goroutines come out whole, a line as big as a rule file passes,
// and the other side closing is io.EOF.
func TestLinesArriveWholeFromConcurrentWritersThenEOF(t *testing.T) {
	r, w := io.Pipe()
	out := NewWriter[ToMaster](w)
	big := strings.Repeat("x", 1<<20) // a Hello carries whole files
	go func() {
		var wg sync.WaitGroup
		for i := range 8 { // concurrent writers: lines stay whole
			wg.Go(func() { _ = out.Write(ToMaster{Fired: &Ran{Rule: "r", At: int64(i)}}) })
		}
		wg.Wait()
		w.Close()
	}()
	in := NewReader[ToMaster](r)
	seen := map[int64]bool{}
	for range 8 {
		m, err := in.Read()
		if err != nil || m.Fired == nil {
			t.Fatalf("read %+v, %v", m, err)
		}
		seen[m.Fired.At] = true
	}
	if len(seen) != 8 {
		t.Fatalf("lines %v", seen)
	}
	if _, err := in.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v, want io.EOF", err)
	}

	r, w = io.Pipe()
	go func() {
		_ = NewWriter[ToWorker](w).Write(ToWorker{Hello: &Hello{Worker: "w", Config: Snapshot{Path: "/p", Files: map[string][]byte{"/p": []byte(big)}}}})
		w.Close()
	}()
	if h, err := NewReader[ToWorker](r).Read(); err != nil || h.Hello == nil || string(h.Hello.Config.Files["/p"]) != big {
		t.Fatalf("hello: %v", err)
	}
}

// TestEncodedLineIsWrittenTheSameToEveryWriter: one encoded reload reaches
// several writers as the same line.
func TestEncodedLineIsWrittenTheSameToEveryWriter(t *testing.T) {
	line, err := Encode(ToWorker{Config: &Snapshot{Path: "/p"}, Seq: 7})
	if err != nil {
		t.Fatal(err)
	}
	var a, b strings.Builder
	for _, w := range []*Writer[ToWorker]{NewWriter[ToWorker](&a), NewWriter[ToWorker](&b)} {
		if err := w.WriteLine(line); err != nil {
			t.Fatal(err)
		}
	}
	if a.String() != b.String() || !strings.HasSuffix(a.String(), "\n") {
		t.Fatalf("%q and %q", a.String(), b.String())
	}
	m, err := NewReader[ToWorker](strings.NewReader(a.String())).Read()
	if err != nil || m.Seq != 7 || m.Config == nil || m.Config.Path != "/p" {
		t.Fatalf("%+v, %v", m, err)
	}
}

func TestReaderRefusesGarbage(t *testing.T) {
	if _, err := NewReader[ToMaster](strings.NewReader("not json\n")).Read(); err == nil {
		t.Fatal("no error for a line that is not JSON")
	}
}
