package master

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// TestRanLogKeepsEachLastSlotSkipsATornLineAndCompacts: the last slot of
// each worker and rule survives a reopen, a torn last line (a crash
// mid-write) is skipped and said, and the journal is rewritten compacted.
func TestRanLogKeepsEachLastSlotSkipsATornLineAndCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slots.log")
	l, err := openRanLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for at := range int64(3000) {
		if err := l.record("h-w0", wire.Ran{Rule: "a", Slots: "1s", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.record("h-w1", wire.Ran{Rule: "b", Slots: "1m", At: 7}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if b, _ := os.ReadFile(path); strings.Count(string(b), "\n") >= 3000 {
		t.Fatalf("the journal was not compacted as it grew: %d lines", strings.Count(string(b), "\n"))
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"worker":"h-w0","rule":"a","slo`) // torn by a crash
	f.Close()

	l, err = openRanLog(path)
	if err == nil || !strings.Contains(err.Error(), "1 unreadable line") {
		t.Fatalf("reopening with a torn line: %v", err)
	}
	defer l.Close()
	if got := l.of("h-w0"); len(got) != 1 || got[0] != (wire.Ran{Rule: "a", Slots: "1s", At: 2999}) {
		t.Fatalf("h-w0: %+v", got)
	}
	if got := l.of("h-w1"); len(got) != 1 || got[0].At != 7 {
		t.Fatalf("h-w1: %+v", got)
	}
	if b, _ := os.ReadFile(path); strings.Count(string(b), "\n") != 2 {
		t.Fatalf("reopened, the journal is not compacted:\n%s", b)
	}
}

// TestRanLogUnwritableKeepsTheRecordInMemoryAndSaysSo: a state directory
// that cannot be written keeps the record in memory, and says so.
func TestRanLogUnwritableKeepsTheRecordInMemoryAndSaysSo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	l, err := openRanLog(filepath.Join(dir, "slots.log"))
	if err == nil || !strings.Contains(err.Error(), "kept in memory only") {
		t.Fatalf("%v", err)
	}
	if err := l.record("w", wire.Ran{Rule: "a", At: 1}); err != nil {
		t.Fatal(err)
	}
	if got := l.of("w"); len(got) != 1 {
		t.Fatalf("%+v", got)
	}
	l.Close()
}
