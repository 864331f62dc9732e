package etcddict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/connectivity"
)

// logSink takes the etcd client's zap lines (of a client that Open made)
// to slog: to the Logger of the manager that last called the Dict
// (ngxtasks.LoggerFrom), or else slog.Default(). They go at Debug: the
// client warns at every retry of a failing call, and the manager reports a
// store that fails itself, once, with its cause (see Dict.cause).
type logSink struct {
	to atomic.Pointer[slog.Logger]
}

// note remembers the logger of the manager calling with ctx.
func (s *logSink) note(ctx context.Context) {
	if l := ngxtasks.LoggerFrom(ctx); l != nil && s.to.Load() != l {
		s.to.Store(l)
	}
}

func (s *logSink) logger() *slog.Logger {
	if l := s.to.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// zapCore is the zapcore.Core of a logSink, with the fields zap's With
// added.
type zapCore struct {
	sink   *logSink
	fields []zapcore.Field
}

// The client's Info lines are its start-up chatter.
func (c zapCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (c zapCore) With(fs []zapcore.Field) zapcore.Core {
	return zapCore{sink: c.sink, fields: append(c.fields[:len(c.fields):len(c.fields)], fs...)}
}

func (c zapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c zapCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields)+2)
	attrs = append(attrs, slog.String("source", "etcd client"), slog.String("client_level", e.Level.String()))
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	c.sink.logger().LogAttrs(context.Background(), slog.LevelDebug, e.Message, attrs...)
	return nil
}

func (zapCore) Sync() error { return nil }

// cause names why a call that ran out of time could not reach the server,
// when the client is not connected: the client retries until the call's
// context ends and then says only "context deadline exceeded". It dials
// each endpoint itself (at most once a second, 250 ms each) for the
// reason.
func (d *Dict) cause() error {
	if conn := d.client.ActiveConnection(); conn == nil || conn.GetState() == connectivity.Ready {
		return nil
	}
	if c := d.lastCause.Load(); c != nil && time.Since(c.at) < time.Second {
		return c.err
	}
	var errs []error
	for _, ep := range d.client.Endpoints() {
		ep = strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://")
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", ep)
		cancel()
		if err == nil {
			_ = conn.Close()
			errs = nil // one endpoint takes connections: not the cause
			break
		}
		errs = append(errs, err)
	}
	var err error
	if len(errs) > 0 {
		err = fmt.Errorf("no endpoint accepts connections: %w", errors.Join(errs...))
	}
	d.lastCause.Store(&probed{err: err, at: time.Now()})
	return err
}

// probed is the outcome of cause's last dial.
type probed struct {
	err error
	at  time.Time
}
