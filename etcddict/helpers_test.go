package etcddict

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/dicttest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// serverURL is the test server's URL (scripts/services sets it).
func serverURL(t testing.TB) string {
	t.Helper()
	return dicttest.ServerURL(t, "NGXTASKS_ETCD_URL")
}

// testURL is the server's URL with a prefix of its own for one test, so that
// tests sharing the server, and runs after one another, never see each
// other's keys, with extra query parameters (e.g. "window=0s").
func testURL(t testing.TB, query string) string {
	t.Helper()
	u, err := url.Parse(serverURL(t))
	if err != nil {
		t.Fatalf("NGXTASKS_ETCD_URL: %v", err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + uniqueName(t)
	u.RawQuery = query
	return u.String()
}

func uniqueName(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return name + "-" + hex.EncodeToString(b)
}

// openTest opens a Dict of its own prefix on the test server, and at the
// test's end deletes its keys and closes it.
func openTest(t testing.TB, query string, opts ...Option) *Dict {
	t.Helper()
	d, err := Open(context.Background(), testURL(t, query), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !d.closed.Load() {
			_, _ = d.client.Delete(ctx, d.prefix, clientv3.WithPrefix())
		}
		_ = d.Close()
	})
	return d
}

// rawClient is a client of the test server for checks behind the Dict's
// back, closed at the test's end.
func rawClient(t testing.TB) *clientv3.Client {
	t.Helper()
	u, err := url.Parse(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := parseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints: tg.endpoints, DialTimeout: 5 * time.Second,
		Username: tg.user, Password: tg.pass, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ctxT is a context that ends with the test, or after a minute at most.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// leaseOf returns the lease a stored key holds.
func leaseOf(t testing.TB, c *clientv3.Client, key string) clientv3.LeaseID {
	t.Helper()
	resp, err := c.Get(ctxT(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("key %q: %d values, want 1", key, len(resp.Kvs))
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease)
}
