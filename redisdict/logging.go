package redisdict

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

// go-redis logs through one logger per process, to stderr by default,
// which a program that chose a slog handler does not read. Importing this
// package routes those lines through slog instead: a line about a call a
// manager made goes to that manager's Logger (ngxtasks.LoggerFrom) at Debug
// level, since the manager reports the failure itself, with its cause (see
// dialWatch); any other line goes to slog.Default() at Warn. A program
// that calls redis.SetLogger after the import keeps its own logger.
func init() { redis.SetLogger(slogLogging{}) }

type slogLogging struct{}

func (slogLogging) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if l := ngxtasks.LoggerFrom(ctx); l != nil {
		l.DebugContext(ctx, msg, "source", "go-redis")
		return
	}
	slog.Default().WarnContext(ctx, msg, "source", "go-redis")
}

// dialWatch keeps the last failed connection attempt of a Dict's client.
// go-redis retries a dial until the command's context ends and then
// reports only that it ended: the manager would log "context deadline
// exceeded" for a server that refuses connections. Errors of commands that
// end so name the attempt's failure instead (see Dict.fail).
type dialWatch struct {
	last atomic.Pointer[dialFailure] // nil once a dial succeeds
}

type dialFailure struct {
	err error
	at  time.Time
}

// watch installs the watch on client (and, for a Cluster, on each node
// client it makes from now on).
func (w *dialWatch) watch(client redis.UniversalClient) {
	client.AddHook(w)
	if cc, ok := client.(*redis.ClusterClient); ok {
		cc.OnNewNode(func(node *redis.Client) { node.AddHook(w) })
	}
}

func (w *dialWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			w.last.Store(&dialFailure{err: err, at: time.Now()})
		} else if w.last.Load() != nil {
			w.last.Store(nil)
		}
		return c, err
	}
}

func (w *dialWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (w *dialWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// cause returns the last failed connection attempt, if no attempt has
// succeeded since.
func (w *dialWatch) cause() error {
	if f := w.last.Load(); f != nil {
		return fmt.Errorf("last connection attempt, %s ago: %w", time.Since(f.at).Round(time.Millisecond), f.err)
	}
	return nil
}
