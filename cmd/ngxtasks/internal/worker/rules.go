package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/action"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// rules turns the file's rules into the manager's, each versioned by its
// fingerprint so that Replace keeps the rules a reload did not change.
// For a Lua file it also returns the Lua state they run in, and whether
// it is new: the caller then makes it current (setLua) before the rules
// reach the manager, and retires it if the manager refuses them.
func (w *worker) rules(f *rulefile.File) ([]ngxtasks.Rule, *luaState, bool, error) {
	var st *luaState
	fresh := false
	if f.Lua != nil {
		var err error
		if st, fresh, err = w.luaFor(f); err != nil {
			return nil, nil, false, err
		}
	}
	out := make([]ngxtasks.Rule, len(f.Rules))
	var grace time.Duration
	for i := range f.Rules {
		fr := &f.Rules[i]
		if fr.Exec != nil {
			grace = max(grace, fr.Exec.Grace)
		}
		r := fr.Core()
		r.Version = fr.Fingerprint
		r.MaxRunning = fr.MaxRunning // the manager's room: see ngxtasks.Manager.MaxRunning
		r.Callback = w.run(fr, st)
		if fr.Lua != nil {
			r.Filter = w.luaFilter(st, fr.ID)
		}
		out[i] = r
	}
	w.grace.Store(max(w.grace.Load(), int64(grace))) // a run of an older file may still be going
	return out, st, fresh, nil
}

// run is a rule's callback: it runs the action and writes the run's line.
// st is the Lua state of a Lua file's rule.
func (w *worker) run(fr *rulefile.Rule, st *luaState) ngxtasks.Func {
	return func(ctx context.Context, f ngxtasks.Firing) error {
		w.runs.Add(1)
		defer w.runs.Done()
		af := action.Firing{Rule: fr.ID, Slot: f.Slot.N, Scheduled: f.Slot.Start, Worker: f.Worker, RunID: runID(), Token: f.Token, Retry: f.Retry}
		start := time.Now()
		var res action.Result
		var err error
		switch {
		case fr.Lua != nil:
			err = w.luaCall(ctx, st, fr.ID, f)
		case fr.Exec != nil:
			pgid := 0
			af.Started = func(g int) {
				pgid = g
				w.tell(wire.ToMaster{Group: &wire.Group{PGID: g, Live: true}})
			}
			res, err = action.Exec(ctx, fr.Exec, af)
			if pgid != 0 {
				w.tell(wire.ToMaster{Group: &wire.Group{PGID: pgid}})
			}
		default:
			res, err = action.HTTP(ctx, w.client, fr.HTTP, af)
		}
		err = w.redact.Error(err)
		w.logRun(fr, af, time.Since(start), res, err)
		return err
	}
}

// logRun writes one line per run: rule, slot, worker (on the logger),
// duration, result, exit status or HTTP status, and the output's tail.
func (w *worker) logRun(fr *rulefile.Rule, af action.Firing, d time.Duration, res action.Result, err error) {
	attrs := []slog.Attr{
		slog.String("rule", fr.ID),
		slog.Int64("slot", af.Slot),
		slog.String("worker", af.Worker),
		slog.String("run", af.RunID),
		slog.Duration("duration", d),
	}
	if af.Retry > 0 {
		attrs = append(attrs, slog.Int("retry", af.Retry))
	}
	if af.Token != 0 {
		attrs = append(attrs, slog.Uint64("token", af.Token))
	}
	level, result := slog.LevelInfo, "ok"
	if err != nil {
		level, result = slog.LevelError, "failed"
	}
	attrs = append(attrs, slog.String("result", result))
	if fr.Exec != nil {
		attrs = append(attrs, slog.Int("exit", res.ExitCode))
		if res.Signal != "" {
			attrs = append(attrs, slog.String("signal", res.Signal))
		}
	} else if res.Status != 0 {
		attrs = append(attrs, slog.Int("status", res.Status))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if len(res.Output) > 0 {
		attrs = append(attrs, slog.String("output", strings.TrimSuffix(string(res.Output), "\n")))
		if res.Dropped > 0 {
			attrs = append(attrs, slog.Int64("output_dropped", res.Dropped))
		}
	}
	w.log.LogAttrs(context.Background(), level, "ngxtasks: run", attrs...)
}

// runID names one run, for NGXTASKS_RUN_ID and the logs.
func runID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// actionClient sends the http actions' requests. It follows no redirect:
// a 3xx is the answer, judged by the rule's expect. It opens at most
// maxConnsPerHost connections to one host: a worker starting 10,000 rules
// that call one service would otherwise open 10,000 sockets at once; the
// requests beyond wait their turn (within their timeout).
func actionClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost = maxConnsPerHost
	t.MaxIdleConnsPerHost = maxConnsPerHost
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

const maxConnsPerHost = 64
