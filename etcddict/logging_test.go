package etcddict

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// lockedBuffer is a bytes.Buffer for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestUnreachableServerIsReported: against a closed port, a claim ends by
// running out of time, and the manager's logger says at Error that the
// store does not answer, and why (connection refused, where).
func TestUnreachableServerIsReported(t *testing.T) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:1"}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := New(c, "unreachable/")
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	m := &ngxtasks.Manager{Dict: d, Logger: slog.New(slog.NewTextHandler(&out, nil))}
	err = m.Push(ngxtasks.Rule{Identifier: "r", Interval: 300 * time.Millisecond, Type: ngxtasks.Preemption,
		Callback: func(context.Context, ngxtasks.Firing) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = m.Start(ctx)
	_ = m.Shutdown(context.Background())
	logged := out.String()
	if !strings.Contains(logged, `level=ERROR msg="ngxtasks: the store does not answer`) ||
		!strings.Contains(logged, "127.0.0.1:1") || !strings.Contains(logged, "connection refused") {
		t.Errorf("the manager's log does not say, at Error, that the store cannot be reached, where and why:\n%s", logged)
	}
}

// TestClientLinesReachTheManagersLogger: the etcd client's warnings (of a
// Dict that Open made) go to the Logger of the manager using the Dict, at
// Debug, with their fields; its Info lines go nowhere.
func TestClientLinesReachTheManagersLogger(t *testing.T) {
	d := openTest(t, "")
	var out lockedBuffer
	m := &ngxtasks.Manager{Dict: d, Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: time.Minute, Type: ngxtasks.Preemption,
		Callback: func(context.Context, ngxtasks.Firing) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Winner(ctxT(t), "r", time.Now()); err != nil { // the Dict learns the manager's logger
		t.Fatal(err)
	}
	zl := d.client.GetLogger()
	zl.Info("chatter")
	zl.With(zap.String("endpoint", "e1")).Warn("retrying of unary invoker failed", zap.Int("attempt", 3))
	logged := out.String()
	if strings.Contains(logged, "chatter") {
		t.Errorf("an Info line of the client was logged:\n%s", logged)
	}
	if !strings.Contains(logged, `level=DEBUG msg="retrying of unary invoker failed" source="etcd client" client_level=warn`) ||
		!strings.Contains(logged, "endpoint=e1") || !strings.Contains(logged, "attempt=3") {
		t.Errorf("the client's warning did not reach the manager's logger with its fields:\n%s", logged)
	}
}
