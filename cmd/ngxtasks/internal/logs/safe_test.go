package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactsWhateverWroteIt(t *testing.T) {
	var buf bytes.Buffer
	r := NewRedactor("s3cret-host", "s3cret-host.example", "no")
	log := New(&buf, "json", slog.LevelInfo, r).With("dict", "redis://s3cret-host:6379")
	log.Info("lookup s3cret-host.example: no such host",
		"error", fmt.Errorf("dial: %w", errors.New("lookup s3cret-host.example")),
		"output", "no\ns3cret-host",
		slog.Group("g", "url", "http://s3cret-host/"),
		"ids", []string{"a", "b"})
	out := buf.String()
	if strings.Contains(out, "s3cret") {
		t.Fatalf("a secret in %s", out)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["msg"] != "lookup [redacted]: no such host" || line["output"] != "no\n[redacted]" {
		t.Fatalf("redacted wrong (the longest secret first; short values kept): %s", out)
	}
	if ids, ok := line["ids"].([]any); !ok || len(ids) != 2 {
		t.Fatalf("a list lost its shape: %s", out)
	}
	// A reload's secrets are added; the old ones stay redacted.
	r.Add("n3w-secret")
	if got := r.String("s3cret-host n3w-secret"); got != "[redacted] [redacted]" {
		t.Fatalf("after Add: %q", got)
	}
	var none *Redactor
	if got := none.String("s3cret-host"); got != "s3cret-host" {
		t.Fatalf("a nil Redactor: %q", got)
	}
}

func TestRedactedErrorKeepsItsKind(t *testing.T) {
	r := NewRedactor("hunter2")
	err := r.Error(fmt.Errorf("GET http://hunter2/: %w", context.DeadlineExceeded))
	if err.Error() != "GET http://[redacted]/: context deadline exceeded" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	plain := errors.New("nothing secret")
	if r.Error(plain) != plain {
		t.Fatal("an error without secrets was replaced")
	}
}

func TestLinesStayBounded(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "json", slog.LevelInfo, nil)
	huge := strings.Repeat("é", 40<<10) // 80 KiB, two bytes a rune
	log.Info(strings.Repeat("m", 5000), "output", "start"+huge+"end", "error", "head"+huge, "rule", "short")
	if buf.Len() > 40<<10 {
		t.Fatalf("a line of %d bytes", buf.Len())
	}
	var line map[string]string
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON (a rune cut?): %v", err)
	}
	if !strings.HasSuffix(line["output"], "end") || !strings.Contains(line["output"], "bytes dropped]") {
		t.Errorf("output should keep its tail: %.80q", line["output"])
	}
	if !strings.HasPrefix(line["error"], "head") || !strings.HasSuffix(line["error"], "bytes dropped]") {
		t.Errorf("error should keep its start: %.80q", line["error"])
	}
	if line["rule"] != "short" {
		t.Errorf("a short value was cut: %q", line["rule"])
	}
}
