package logs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestWithoutDropsOnlyItsMessages(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Without(New(&buf, "json", slog.LevelDebug, nil).Handler(), "ngxtasks: finished")).With("worker", "w0")
	log.Error("ngxtasks: finished", "rule", "a")
	log.Info("ngxtasks: run", "rule", "a")
	log.WithGroup("g").Error("ngxtasks: finished")
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"msg":"ngxtasks: run"`) || !strings.Contains(out, `"worker":"w0"`) {
		t.Fatalf("logged:\n%s", out)
	}
}

func TestTextFormatWritesTextAndHidesBelowItsLevel(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "text", slog.LevelInfo, nil).Debug("hidden")
	New(&buf, "text", slog.LevelInfo, nil).Info("shown")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.HasPrefix(got, "time=") {
		t.Fatalf("logged %q", got)
	}
}
