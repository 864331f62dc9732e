// Package logs makes the ngxtasks command's loggers: log/slog, text (for a
// terminal and journald) unless the rule file or --log-format asks for
// JSON, at the rule file's level. Master and workers share one output, the
// master's stderr, so their lines interleave whole.
package logs

import (
	"context"
	"io"
	"log/slog"
)

// New returns a logger writing format ("text" or "json") at level to w,
// through Safe: redacted by r (which may be nil), each line bounded.
func New(w io.Writer, format string, level slog.Level, r *Redactor) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(Safe(slog.NewJSONHandler(w, opts), r))
	}
	return slog.New(Safe(slog.NewTextHandler(w, opts), r))
}

// Without drops the records whose message is one of msgs: a worker writes
// its own line for every run, with the action's exit status and output,
// and the manager's line for the same run would repeat it.
func Without(h slog.Handler, msgs ...string) slog.Handler {
	return &without{h, msgs}
}

type without struct {
	slog.Handler
	msgs []string
}

func (w *without) Handle(ctx context.Context, r slog.Record) error {
	for _, m := range w.msgs {
		if r.Message == m {
			return nil
		}
	}
	return w.Handler.Handle(ctx, r)
}

func (w *without) WithAttrs(as []slog.Attr) slog.Handler {
	return &without{w.Handler.WithAttrs(as), w.msgs}
}

func (w *without) WithGroup(name string) slog.Handler {
	return &without{w.Handler.WithGroup(name), w.msgs}
}
