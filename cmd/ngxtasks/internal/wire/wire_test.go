package wire

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestLinesRoundTrip(t *testing.T) {
	r, w := io.Pipe()
	out := NewWriter(w)
	big := strings.Repeat("x", 1<<20) // a Hello carries whole files
	go func() {
		var wg sync.WaitGroup
		for i := range 8 { // concurrent writers: lines stay whole
			wg.Go(func() { _ = out.Write(ToMaster{Fired: &Ran{Rule: "r", At: int64(i)}}) })
		}
		wg.Wait()
		_ = out.Write(ToWorker{Hello: &Hello{Worker: "w", Config: Snapshot{Path: "/p", Files: map[string][]byte{"/p": []byte(big)}}}})
		w.Close()
	}()
	in := NewReader(r)
	seen := map[int64]bool{}
	for range 8 {
		var m ToMaster
		if err := in.Read(&m); err != nil || m.Fired == nil {
			t.Fatalf("read %+v, %v", m, err)
		}
		seen[m.Fired.At] = true
	}
	var h ToWorker
	if err := in.Read(&h); err != nil || h.Hello == nil || string(h.Hello.Config.Files["/p"]) != big {
		t.Fatalf("hello: %v", err)
	}
	if len(seen) != 8 {
		t.Fatalf("lines %v", seen)
	}
	if err := in.Read(&h); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v, want io.EOF", err)
	}
}

func TestReaderRefusesGarbage(t *testing.T) {
	var m ToMaster
	if err := NewReader(strings.NewReader("not json\n")).Read(&m); err == nil {
		t.Fatal("no error for a line that is not JSON")
	}
}
