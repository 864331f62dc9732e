package redisdict

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

// TestUnreachableServerIsReported: with a 300 ms rule against a closed
// port, the manager's logger says, at Error, that the store does not
// answer and why (connection refused), although each claim ends by running
// out of time; go-redis's own lines do not reach stderr. It runs the
// scenario in a child process, whose stderr it reads.
func TestUnreachableServerIsReported(t *testing.T) {
	if os.Getenv("REDISDICT_UNREACHABLE_CHILD") == "1" {
		unreachableChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnreachableServerIsReported$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REDISDICT_UNREACHABLE_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	logged := stdout.String()
	if !strings.Contains(logged, `level=ERROR msg="ngxtasks: the store does not answer`) || !strings.Contains(logged, "connection refused") {
		t.Errorf("the manager's log does not say, at Error, that the store cannot be reached and why:\n%s", logged)
	}
	if !strings.Contains(logged, "source=go-redis") {
		t.Errorf("go-redis's own lines did not reach slog:\n%s", logged)
	}
	if strings.Contains(stderr.String(), "redis:") {
		t.Errorf("go-redis wrote to stderr:\n%s", stderr.String())
	}
}

// unreachableChild drives a 300 ms rule against a closed port for three
// seconds, logging the manager's lines and slog.Default's to stdout. The
// first claims wait for a reading of the store's clock, which go-redis
// retries for about a second and a half before it reports the dial's
// failure.
func unreachableChild() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, nil)))
	d, err := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true}))
	if err != nil {
		panic(err)
	}
	m := &ngxtasks.Manager{Dict: d, Logger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	err = m.Push(ngxtasks.Rule{Identifier: "r", Interval: 300 * time.Millisecond, Type: ngxtasks.Preemption,
		Callback: func(context.Context, ngxtasks.Firing) error { return nil }})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = m.Start(ctx)
	_ = m.Shutdown(context.Background())
	_ = d.Client().Close()
}
