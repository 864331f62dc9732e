package etcddict

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is what a URL says: where and as whom to connect, the key prefix,
// and the options. It holds the password, so it is never printed; describe
// says what it is without it.
type target struct {
	endpoints   []string
	user, pass  string
	prefix      string
	tls         bool
	ca          string // PEM file of the CAs to trust; system roots when empty
	cert, key   string // PEM files of a client certificate
	serverName  string
	skipVerify  bool
	dialTimeout time.Duration
	opts        []Option
}

const (
	defaultPort        = "2379"
	defaultDialTimeout = 5 * time.Second
)

// params lists the URL parameters; the TLS ones only for "etcds".
var (
	params    = []string{"endpoint", "dial_timeout", "latency", "window", "concurrency", "max_txn_ops"}
	tlsParams = []string{"ca", "cert", "key", "server_name", "skip_verify"}
)

// parseURL reads an "etcd://" or "etcds://" URL (see the package
// documentation). Its errors never contain the password.
func parseURL(u *url.URL) (*target, error) {
	t := &target{dialTimeout: defaultDialTimeout}
	switch u.Scheme {
	case "etcd":
	case "etcds":
		t.tls = true
	default:
		return nil, fmt.Errorf("scheme %q is not etcd or etcds", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%s URL must start with %s:// (the host is missing)", u.Scheme, u.Scheme)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%s URL has a fragment (#...); it takes none", u.Scheme)
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
		if t.user == "" {
			return nil, fmt.Errorf("%s URL has a password but no user name (etcd auth needs both: user:password@)", u.Scheme)
		}
	}
	if u.Host != "" {
		if err := t.addEndpoints(u.Host); err != nil {
			return nil, err
		}
	}
	t.prefix = strings.TrimPrefix(u.Path, "/")
	if t.prefix != "" && !strings.HasSuffix(t.prefix, "/") {
		t.prefix += "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%s URL parameters: %v", u.Scheme, err)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[name] {
			if err := t.param(name, v); err != nil {
				return nil, fmt.Errorf("%s URL parameter %s: %w", u.Scheme, name, err)
			}
		}
	}
	if len(t.endpoints) == 0 {
		return nil, fmt.Errorf("%s URL names no server: give host:port after //, or endpoint=host:port", u.Scheme)
	}
	if (t.cert == "") != (t.key == "") {
		return nil, fmt.Errorf("%s URL: cert and key go together (a client certificate and its key)", u.Scheme)
	}
	return t, nil
}

// param applies one URL parameter.
func (t *target) param(name, v string) error {
	if !slices.Contains(params, name) && !(t.tls && slices.Contains(tlsParams, name)) {
		if slices.Contains(tlsParams, name) {
			return fmt.Errorf("only etcds:// (TLS) takes it")
		}
		return fmt.Errorf("unknown (known: %s; with etcds also %s)", strings.Join(params, ", "), strings.Join(tlsParams, ", "))
	}
	switch name {
	case "endpoint":
		return t.addEndpoints(v)
	case "dial_timeout":
		d, err := duration(v)
		if err == nil && (d <= 0 || d > maxSetting) {
			err = fmt.Errorf("%v is not in (0, %v]", d, maxSetting)
		}
		t.dialTimeout = d
		return err
	case "latency", "window":
		d, err := duration(v)
		if err != nil {
			return err
		}
		if name == "latency" {
			return t.option(WithLatencyAllowance(d))
		}
		return t.option(WithReuseWindow(d))
	case "concurrency", "max_txn_ops":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		if name == "concurrency" {
			return t.option(WithConcurrency(n))
		}
		return t.option(WithMaxTxnOps(n))
	case "ca":
		t.ca = v
	case "cert":
		t.cert = v
	case "key":
		t.key = v
	case "server_name":
		t.serverName = v
	case "skip_verify":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		t.skipVerify = b
	}
	return nil
}

// option adds o after trying it on scratch settings, so that a bad value is
// reported by the parse, naming its parameter, rather than later by New.
func (t *target) option(o Option) error {
	s := defaults()
	if err := o(&s); err != nil {
		return err
	}
	t.opts = append(t.opts, o)
	return nil
}

func duration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 500ms or 2s", v)
	}
	return d, nil
}

// addEndpoints adds comma-separated host[:port] servers, the port 2379 by
// default.
func (t *target) addEndpoints(list string) error {
	for _, ep := range strings.Split(list, ",") {
		host, port, err := net.SplitHostPort(ep)
		if err != nil {
			// No port: a host name, or an IPv6 address with or without
			// brackets. Anything else with a colon is malformed.
			host, port = strings.TrimSuffix(strings.TrimPrefix(ep, "["), "]"), defaultPort
			if strings.Contains(host, ":") && net.ParseIP(host) == nil {
				return fmt.Errorf("endpoint %q: want host[:port]", ep)
			}
		}
		if host == "" || strings.ContainsAny(host, "/@?# ") {
			return fmt.Errorf("endpoint %q: want host[:port]", ep)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("endpoint %q: port %q is not in 1-65535", ep, port)
		}
		t.endpoints = append(t.endpoints, net.JoinHostPort(host, port))
	}
	return nil
}

// describe names the servers and the user, never the password.
func (t *target) describe() string {
	s := "etcd at " + strings.Join(t.endpoints, ",")
	if t.tls {
		s += " (TLS)"
	}
	if t.user != "" {
		s += fmt.Sprintf(" as user %q", t.user)
	}
	return s
}
