// Package worker is one worker process of the ngxtasks command: it drives
// the rule file's rules with an ngxtasks.Manager, runs their actions, and
// serves its status and metrics on a Unix socket for the master to gather.
//
// The master starts it with two pipes (see package wire). It tells the
// master of every slot it begins before the run starts, so that a worker
// started in its place does not run that slot again; it applies reloads
// with Manager.Replace; and it stops when told to (SIGTERM, SIGINT) or
// when the master is gone (its pipe closes).
//
// It opens the dictionary by its URL's scheme, through the backends the
// command links (cmd/ngxtasks/backends.go); the master checks the scheme
// against the same ones before a worker starts.
package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/logs"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
	"github.com/ngxtasks/ngxtasks/metrics"
	"github.com/ngxtasks/ngxtasks/status"
)

// Options are what the worker process gets besides its pipes.
type Options struct {
	// StopTimeout is how long running actions may go on once the worker
	// is told to stop; then their contexts end (SIGTERM to an exec's
	// process group, SIGKILL after its grace).
	StopTimeout time.Duration
	Stderr      io.Writer // where logs go
}

// worker is one worker process's state.
type worker struct {
	hello  wire.Hello
	file   *rulefile.File // as last parsed; reloads are reparsed from it
	m      *ngxtasks.Manager
	out    *wire.Writer[wire.ToMaster]
	log    *slog.Logger
	client *http.Client // for http actions

	// runs counts the actions running, so that a stopping worker waits
	// until a cancelled exec's process group is gone before it exits.
	runs sync.WaitGroup
	// grace is the longest exec grace of any rule loaded, the time a
	// cancelled run may still take (nanoseconds).
	grace atomic.Int64

	// redact keeps the rule file's secrets out of the logs and of the
	// errors the manager keeps (status, history).
	redact logs.Redactor

	// lua is the Lua state the rules of a Lua file run in (see lua.go);
	// nil for a YAML file.
	luaMu sync.Mutex
	lua   *luaState
}

// Run is the worker process: it reads its Hello from in, drives until ctx
// is done or in closes, and returns once its runs ended or StopTimeout
// passed. Errors before it drives (a bad Hello, no status socket) are
// returned at once; a dictionary that does not open is not one (see
// lateDict).
func Run(ctx context.Context, in io.Reader, out io.Writer, opts Options) error {
	r := wire.NewReader[wire.ToWorker](in)
	first, err := r.Read()
	if err != nil {
		return fmt.Errorf("reading the master's hello: %w", err)
	}
	if first.Hello == nil {
		return errors.New("the master's first line is not a hello")
	}
	w := &worker{hello: *first.Hello, out: wire.NewWriter[wire.ToMaster](out), client: actionClient()}
	f, err := parse(nil, &w.hello.Config)
	if err != nil {
		return err
	}
	w.file = f
	w.redact.Add(f.Secrets(rulefile.Files(w.hello.Config.Files), os.LookupEnv)...)
	level := f.Log.Level
	if w.hello.LogLevel != "" {
		_ = level.UnmarshalText([]byte(w.hello.LogLevel)) // checked by the master
	}
	w.log = logs.New(opts.Stderr, cmp.Or(w.hello.LogFormat, f.Log.Format), level, &w.redact)
	// What libraries log (go-redis, say) comes out as this worker's
	// lines: in the file's format, redacted.
	slog.SetDefault(w.log)
	dictURL := cmp.Or(w.hello.Dict, f.Dict.Expanded())
	dict := openDict(ctx, dictURL, w.log.With("worker", w.hello.Worker))
	defer dict.Close()
	w.m = &ngxtasks.Manager{
		Dict:          dict,
		Namespace:     f.Namespace,
		Worker:        w.hello.Worker,
		SkewTolerance: f.SkewTolerance,
		UseStoreClock: f.StoreClock,
		Clock:         clock(),
		Logger:        slog.New(logs.Without(w.log.Handler(), "ngxtasks: finished")),
	}
	if f.Lua != nil {
		w.m.Keys = luaKeys{w}
	}
	defer w.closeLua()
	rules, st, _, err := w.rules(f)
	if err != nil {
		return err
	}
	if st != nil {
		w.setLua(st)
	}
	if err := w.m.Push(rules...); err != nil {
		return err
	}
	w.resume()
	stopWatch := w.m.Watch(w.announce)
	defer stopWatch()

	srv, err := w.serve()
	if err != nil {
		return err
	}
	defer srv.Close()

	driving := make(chan error, 1)
	go func() { driving <- w.m.Start(ctx) }()
	if err := w.out.Write(wire.ToMaster{Ready: true}); err != nil {
		return w.stop(opts.StopTimeout, fmt.Errorf("the master's pipe: %w", err))
	}
	w.log.Debug("ngxtasks: worker driving", "worker", w.hello.Worker, "rules", len(f.Rules), "dict", ngxtasks.RedactURL(dictURL))

	masterGone := make(chan error, 1)
	go func() { masterGone <- w.listen(r) }()
	select {
	case <-ctx.Done():
		return w.stop(opts.StopTimeout, nil)
	case err := <-masterGone:
		return w.stop(opts.StopTimeout, err)
	case err := <-driving:
		return w.stop(opts.StopTimeout, fmt.Errorf("the timer loop ended: %w", err))
	}
}

// stop shuts the manager down, giving running actions timeout to end.
func (w *worker) stop(timeout time.Duration, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := w.m.Shutdown(ctx); err != nil {
		w.log.Warn("ngxtasks: runs cancelled at stop", "worker", w.hello.Worker, "error", err)
		// Their contexts are cancelled: exec runs signal their process
		// groups and kill them after their grace. Wait for that, so that
		// no program outlives this worker.
		done := make(chan struct{})
		go func() { w.runs.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Duration(w.grace.Load()) + 2*time.Second):
			w.log.Error("ngxtasks: runs still going after their grace; exiting anyway", "worker", w.hello.Worker)
		}
	}
	return cause
}

// listen applies the master's reloads until its pipe closes, which means
// the master is gone (nil) or broke it.
func (w *worker) listen(r *wire.Reader[wire.ToWorker]) error {
	for {
		msg, err := r.Read()
		if errors.Is(err, io.EOF) {
			w.log.Info("ngxtasks: the master is gone; stopping", "worker", w.hello.Worker)
			return nil
		}
		if err != nil {
			return fmt.Errorf("the master's pipe: %w", err)
		}
		if msg.Config != nil {
			if err := w.out.Write(wire.ToMaster{Reloaded: w.reload(msg.Seq, msg.Config)}); err != nil {
				return fmt.Errorf("the master's pipe: %w", err)
			}
		}
	}
}

// reload swaps the rules for those of snap.
func (w *worker) reload(seq int64, snap *wire.Snapshot) *wire.Reloaded {
	f, err := parse(w.file, snap)
	if err != nil {
		return &wire.Reloaded{Seq: seq, Error: err.Error()}
	}
	w.redact.Add(f.Secrets(rulefile.Files(snap.Files), os.LookupEnv)...)
	rules, st, fresh, err := w.rules(f)
	if err != nil {
		return &wire.Reloaded{Seq: seq, Error: err.Error()}
	}
	var old *luaState
	if fresh {
		old = w.setLua(st)
	}
	c, err := w.m.Replace(rules...)
	if err != nil {
		if fresh {
			w.setLua(old)
			st.retire()
		}
		return &wire.Reloaded{Seq: seq, Error: err.Error()}
	}
	retireLater(old)
	w.file = f
	return &wire.Reloaded{Seq: seq, Added: c.Added, Changed: c.Changed, Removed: c.Removed, Kept: c.Kept}
}

// parse reads a snapshot as the master read its files; with prev, the
// file as last parsed, only the rules that changed are parsed again.
func parse(prev *rulefile.File, snap *wire.Snapshot) (*rulefile.File, error) {
	files := rulefile.Files(snap.Files)
	data, err := files.ReadFile(snap.Path)
	if err != nil {
		return nil, fmt.Errorf("the master's snapshot: %w", err)
	}
	env := rulefile.Env{Lookup: os.LookupEnv, ReadFile: files.ReadFile}
	if snap.Started != 0 {
		env.Started = time.Unix(snap.Started, 0)
	}
	if prev != nil {
		return prev.Reparse(data, env)
	}
	return rulefile.Parse(snap.Path, data, env)
}

// resume marks the slots the worker before this one began — this worker's
// predecessor, or the same worker identity before the daemon restarted —
// of the rules whose slots still fall where they did.
func (w *worker) resume() {
	shapes := make(map[string]string)
	for _, r := range w.m.Rules() {
		shapes[r.Identifier] = slotShape(&r, w.m.Namespace)
	}
	for _, ran := range w.hello.Ran {
		if s, ok := shapes[ran.Rule]; ok && s == ran.Slots {
			if err := w.m.MarkRan(ran.Rule, time.Unix(0, ran.At)); err != nil {
				w.log.Warn("ngxtasks: resuming a slot", "worker", w.hello.Worker, "rule", ran.Rule, "error", err)
			}
		}
	}
}

// slotShape is what decides where a rule's slots fall and which key each
// is claimed under. Two rules of one shape have the same slots; a rule
// whose shape changed has new slots, and a slot of the old ones is not one
// of them.
func slotShape(r *ngxtasks.Rule, namespace string) string {
	b := make([]byte, 0, 64)
	b = strconv.AppendInt(b, int64(r.Interval), 10)
	b = append(b, '+')
	b = strconv.AppendInt(b, int64(r.Offset), 10)
	if r.Spread {
		b = append(b, " spread"...)
	}
	b = append(b, " ns="...)
	return string(append(b, namespace...))
}

// announce tells the master of a slot this worker begins. It runs in the
// run's goroutine before the run, so the line is in the pipe before the
// action starts.
func (w *worker) announce(ev *ngxtasks.Event) {
	if ev.Kind != ngxtasks.EventFired {
		return
	}
	w.tell(wire.ToMaster{Fired: &wire.Ran{Rule: ev.Rule.Identifier, Slots: slotShape(ev.Rule, w.m.Namespace), At: ev.Slot.Start.UnixNano()}})
}

// tell writes a line to the master, logging a failure: the run goes on.
func (w *worker) tell(msg wire.ToMaster) {
	if err := w.out.Write(msg); err != nil {
		w.log.Error("ngxtasks: telling the master of a run", "worker", w.hello.Worker, "error", err)
	}
}

// serveAct does an action the master passes on (POST /act: a
// status.Action as JSON) with the manager, and answers a status.ActAnswer.
// The socket is in the master's private directory: only it comes here.
func (w *worker) serveAct(rw http.ResponseWriter, r *http.Request) {
	var a status.Action
	err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&a)
	if err == nil {
		err = status.Perform(r.Context(), w.m, a)
	} else {
		err = fmt.Errorf("reading the action: %w", err)
	}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(status.Answer(&a, err))
}

// serve serves the status page and metrics on the worker's socket.
func (w *worker) serve() (*http.Server, error) {
	col, err := metrics.Options{Rules: w.file.Metrics.Patterns, AllRules: w.file.Metrics.All}.New(w.m)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /act", w.serveAct)
	mux.Handle("/", status.New(status.Options{}, w.m))
	mux.Handle("/metrics", metrics.Handler(col, nil, promhttp.HandlerOpts{}))
	_ = os.Remove(w.hello.Socket)
	ln, err := net.Listen("unix", w.hello.Socket)
	if err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}
