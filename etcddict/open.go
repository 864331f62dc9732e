package etcddict

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

func init() {
	ngxtasks.Register("etcd", open)
	ngxtasks.Register("etcds", open)
}

func open(ctx context.Context, u *url.URL) (ngxtasks.Dict, error) {
	return openURL(ctx, u)
}

// Open connects to the etcd servers an "etcd://" or "etcds://" URL names
// (see the package documentation), with extra options after the URL's, and
// reads one key under the prefix, so that a wrong address, password or
// permission is reported here, before any claim. The Dict owns its client:
// Close closes it. Errors never contain the password.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Dict, error) {
	u, err := ngxtasks.ParseDictURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %v", ErrBadConfig, err)
	}
	return openURL(ctx, u, opts...)
}

func openURL(ctx context.Context, u *url.URL, opts ...Option) (*Dict, error) {
	t, err := parseURL(u)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	cfg := clientv3.Config{
		Endpoints:   t.endpoints,
		DialTimeout: t.dialTimeout,
		Username:    t.user,
		Password:    t.pass,
	}
	logs := &logSink{}
	cfg.Logger = zap.New(zapCore{sink: logs})
	if t.tls {
		if cfg.TLS, err = t.tlsConfig(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, t.describe(), err)
		}
		if t.serverName != "" {
			// gRPC verifies the certificate against the connection's
			// authority, not tls.Config.ServerName, so the name goes there.
			cfg.DialOptions = append(cfg.DialOptions, grpc.WithAuthority(t.serverName))
		}
	}
	if err := reachable(ctx, t.endpoints, min(t.dialTimeout, time.Second)); err != nil {
		return nil, fmt.Errorf("etcddict: %s: %w", t.describe(), err)
	}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcddict: connect to %s: %w", t.describe(), err)
	}
	d, err := New(client, t.prefix, append(t.opts, opts...)...)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	d.own, d.logs = true, logs
	if err := d.probe(ctx, t.dialTimeout); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("etcddict: %s: %w", t.describe(), err)
	}
	return d, nil
}

// probe reads the prefix's first key, counting only: it needs a server that
// answers, accepts the credentials, and lets them read under the prefix.
func (d *Dict) probe(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	key := d.prefix
	if key == "" {
		key = "\x00" // etcd refuses an empty key
	}
	if _, err := d.client.Get(ctx, key, clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("read under prefix %q: %w", d.prefix, err)
	}
	return nil
}

// reachable fails at once, naming each address and why, when no endpoint
// accepts a TCP connection: the etcd client would retry until its dial
// timeout and then say only "context deadline exceeded".
func reachable(ctx context.Context, endpoints []string, timeout time.Duration) error {
	var why []string
	for _, ep := range endpoints {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", ep)
		cancel()
		if err == nil {
			_ = conn.Close()
			return nil
		}
		why = append(why, err.Error())
	}
	return fmt.Errorf("no server accepts connections (%s): check that etcd runs there and that the URL names its client address and port (2379 by default)", strings.Join(why, "; "))
}

// tlsConfig builds the TLS settings of an "etcds" URL, reading its files.
func (t *target) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.serverName,
		InsecureSkipVerify: t.skipVerify, //nolint:gosec // asked for by skip_verify=true
	}
	if t.ca != "" {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: no PEM certificate in %s", t.ca)
		}
	}
	if t.cert != "" {
		pair, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}
