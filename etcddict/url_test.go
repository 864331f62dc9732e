package etcddict

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestParseURLReadsEndpointsPrefixUserTLSAndParameters(t *testing.T) {
	for _, c := range []struct {
		url       string
		endpoints []string
		prefix    string
		user      string
		tls       bool
	}{
		{"etcd://127.0.0.1:2379/ngxtasks", []string{"127.0.0.1:2379"}, "ngxtasks/", "", false},
		{"etcd://127.0.0.1/a/b/", []string{"127.0.0.1:2379"}, "a/b/", "", false},
		{"etcd://localhost:1", []string{"localhost:1"}, "", "", false},
		{"etcd://h1:1,h2,h3:3/p", []string{"h1:1", "h2:2379", "h3:3"}, "p/", "", false},
		{"etcd://u:s3cret@h:1/p", []string{"h:1"}, "p/", "u", false},
		{"etcd://[::1]:2379/p?endpoint=[::1]:2380&endpoint=h:3,h:4", []string{"[::1]:2379", "[::1]:2380", "h:3", "h:4"}, "p/", "", false},
		{"etcd:///p?endpoint=h", []string{"h:2379"}, "p/", "", false},
		{"etcd://h/sp%20ace", []string{"h:2379"}, "sp ace/", "", false},
		{"etcds://u:s3cret@h:1/p?ca=/x/ca.pem&server_name=etcd&skip_verify=false", []string{"h:1"}, "p/", "u", true},
		{"etcd://h/p?dial_timeout=2s&latency=200ms&window=0s&concurrency=3&max_txn_ops=64", []string{"h:2379"}, "p/", "", false},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseURL(u)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if !slices.Equal(got.endpoints, c.endpoints) || got.prefix != c.prefix || got.user != c.user || got.tls != c.tls {
			t.Errorf("%s: endpoints %q prefix %q user %q tls %v", c.url, got.endpoints, got.prefix, got.user, got.tls)
		}
	}
	u, _ := url.Parse("etcd://h/p?dial_timeout=2s&latency=200ms&window=0s&concurrency=3&max_txn_ops=64")
	tg, _ := parseURL(u)
	s := defaults()
	for _, o := range tg.opts {
		if err := o(&s); err != nil {
			t.Fatal(err)
		}
	}
	if tg.dialTimeout != 2*time.Second || s.latency != 200*time.Millisecond || s.window != 0 || !s.fixedWindow || s.concurrency != 3 || s.maxTxnOps != 64 {
		t.Errorf("parameters: dial %v, settings %+v", tg.dialTimeout, s)
	}
}

// TestBadURLsAreRefusedAtOnceWithoutThePassword checks that bad URLs are
// refused, by OpenDict as by Open, before any connection, and that no error
// shows the password.
func TestBadURLsAreRefusedAtOnceWithoutThePassword(t *testing.T) {
	for _, raw := range []string{
		"etcd:u:s3cret@h:1/p",        // no //
		"etcd://:s3cret@h:1/p",       // password without user
		"etcd://u:s3cret@/p",         // no host
		"etcd://u:s3cret@h:0/p",      // port 0
		"etcd://u:s3cret@h:99999/p",  // port too large
		"etcd://u:s3cret@h:1,/p",     // empty endpoint
		"etcd://u:s3cret@h:1,h:x/p",  // bad port
		"etcd://u:s3cret@h:1/p#frag", // fragment
		"etcd://u:s3cret@h:1/p?x=1",  // unknown parameter
		"etcd://u:s3cret@h:1/p?ca=f", // TLS parameter without TLS
		"etcd://u:s3cret@h:1/p?dial_timeout=soon",
		"etcd://u:s3cret@h:1/p?dial_timeout=-1s",
		"etcd://u:s3cret@h:1/p?latency=0s",
		"etcd://u:s3cret@h:1/p?window=-1s",
		"etcd://u:s3cret@h:1/p?concurrency=0",
		"etcd://u:s3cret@h:1/p?max_txn_ops=x",
		"etcd://u:s3cret@h:1/p?endpoint=a/b",
		"etcd://u:s3cret@h:1/p?%zz",
		"etcds://u:s3cret@h:1/p?cert=c.pem",             // cert without key
		"etcds://u:s3cret@h:1/p?skip_verify=maybe",      // not a bool
		"etcds://u:s3cret@h:1/p?ca=/nonexistent/ca.pem", // unreadable CA
		"etcd://u:s3cret@h:1:2/p",                       // url.Parse refuses it
		"etcd://u:s3cret@h%zz:1/p",                      // url.Parse refuses it
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err1 := ngxtasks.OpenDict(ctx, raw)
		_, err2 := Open(ctx, raw)
		cancel()
		for _, err := range []error{err1, err2} {
			switch {
			case err == nil:
				t.Errorf("%s: opened", raw)
			case strings.Contains(err.Error(), "s3cret"):
				t.Errorf("%s: error shows the password: %v", raw, err)
			}
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s: took %v to refuse", raw, time.Since(start))
		}
		t.Logf("%s\n\t%v", raw, err2)
	}
}

// TestUnreachableFailsAtOnceNamingServerAndFix opens a URL of a closed port:
// Open fails at once (not after the dial timeout, as "context deadline
// exceeded"), naming the server, the user, the cause and the fix, and not the
// password. A URL without a server says so.
func TestUnreachableFailsAtOnceNamingServerAndFix(t *testing.T) {
	raw := "etcd://u:s3cret@127.0.0.1:1/p"
	start := time.Now()
	_, err := ngxtasks.OpenDict(context.Background(), raw)
	if err == nil {
		t.Fatal("opened a closed port")
	}
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), `"u"`) ||
		!strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "check that etcd runs there") {
		t.Errorf("error: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	if _, err := ngxtasks.OpenDict(context.Background(), "etcd://"); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "open etcd://:") || !strings.Contains(err.Error(), "names no server") {
		t.Errorf("etcd:// says %v", err)
	}
	// The caller's context bounds it too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Open(ctx, "etcd://127.0.0.1:1/p"); !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("with a 100ms context: %v", err)
	}
	t.Log(err)
}

func TestSchemesRegistered(t *testing.T) {
	s := ngxtasks.Schemes()
	if !slices.Contains(s, "etcd") || !slices.Contains(s, "etcds") {
		t.Errorf("schemes %v", s)
	}
}

// TestOpenDictGivesABatchAdderThatIsNoStoreClock opens the test server
// through the registry.
func TestOpenDictGivesABatchAdderThatIsNoStoreClock(t *testing.T) {
	raw := testURL(t, "")
	d, err := ngxtasks.OpenDict(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	if ok, err := d.Add(ctx, "k", "v", time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok := d.(ngxtasks.BatchAdder); !ok {
		t.Error("not a BatchAdder")
	}
	if _, ok := d.(ngxtasks.Setter); !ok {
		t.Error("not a Setter")
	}
	if _, ok := d.(ngxtasks.StoreClock); ok {
		t.Error("a StoreClock, which etcd cannot be")
	}
}
