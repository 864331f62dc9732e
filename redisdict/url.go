package redisdict

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ngxtasks/ngxtasks"
)

// ErrBadConfig is matched (errors.Is) by every error about a malformed URL
// or option.
var ErrBadConfig = errors.New("redisdict: invalid configuration")

// ParseURL turns a "redis://" or "rediss://" URL (see the package
// documentation) into options for redis.NewUniversalClient, which picks a
// standalone, Sentinel or Cluster client from them. Its errors name the part
// of the URL at fault and never contain the password.
func ParseURL(rawURL string) (*redis.UniversalOptions, error) {
	u, err := ngxtasks.ParseDictURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	return parseURL(u)
}

func parseURL(u *url.URL) (*redis.UniversalOptions, error) {
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, badURL("scheme", "is %q, want redis or rediss", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, badURL("address", "missing: write %s://host:port", u.Scheme)
	}
	o := &redis.UniversalOptions{
		// A claim must end with the manager's deadline, not the client's.
		ContextTimeoutEnabled: true,
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	first, err := hostPort(u.Host)
	if err != nil {
		return nil, err
	}
	o.Addrs = []string{first}
	if o.DB, err = database(u.Path); err != nil {
		return nil, err
	}
	if err := parseQuery(u, o); err != nil {
		return nil, err
	}
	if u.Scheme == "rediss" {
		if o.TLSConfig == nil {
			o.TLSConfig = &tls.Config{}
		}
		// No ServerName: crypto/tls then checks each server (Sentinels,
		// primaries, Cluster nodes) against the host it dialled.
		o.TLSConfig.MinVersion = tls.VersionTLS12
	}
	cluster := o.MasterName == "" && (o.IsClusterMode || len(o.Addrs) > 1)
	if cluster && o.DB != 0 {
		return nil, badURL("database", "is %d; a Redis Cluster has only database 0", o.DB)
	}
	return o, nil
}

// badURL builds an error that names the part of the URL at fault.
func badURL(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s", ErrBadConfig, field, fmt.Sprintf(format, args...))
}

// hostPort checks an address and adds the default port.
func hostPort(hp string) (string, error) {
	if hp == "" {
		return "", badURL("host", "missing")
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		// No port (or a bracketed IPv6 host without one).
		host, port = strings.TrimSuffix(strings.TrimPrefix(hp, "["), "]"), "6379"
	}
	if host == "" {
		return "", badURL("host", "missing in %q", hp)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", badURL("port", "%q is not a number from 1 to 65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

// database reads the path: empty, "/" or "/N".
func database(path string) (int, error) {
	p := strings.TrimPrefix(path, "/")
	if p == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 {
		return 0, badURL("database", "%q in the path is not a number >= 0", p)
	}
	return n, nil
}

// parseQuery applies the query parameters, refusing unknown and repeated
// ones so that a typo is not silently ignored.
func parseQuery(u *url.URL, o *redis.UniversalOptions) error {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return badURL("query", "cannot be parsed: %v", err)
	}
	sentinelAuth := false
	for _, name := range slices.Sorted(maps.Keys(q)) {
		vals := q[name]
		if name != "addr" && len(vals) > 1 {
			return badURL("parameter "+name, "is given %d times", len(vals))
		}
		v := vals[len(vals)-1]
		switch name {
		case "addr":
			for _, list := range vals {
				for a := range strings.SplitSeq(list, ",") {
					hp, err := hostPort(a)
					if err != nil {
						return fmt.Errorf("parameter addr: %w", err)
					}
					o.Addrs = append(o.Addrs, hp)
				}
			}
		case "master_name":
			if v == "" {
				return badURL("parameter master_name", "is empty")
			}
			o.MasterName = v
		case "sentinel_auth":
			sentinelAuth, err = parseBool(name, v)
		case "cluster":
			o.IsClusterMode, err = parseBool(name, v)
		case "dial_timeout":
			o.DialTimeout, err = parseDuration(name, v)
		case "read_timeout":
			o.ReadTimeout, err = parseDuration(name, v)
		case "write_timeout":
			o.WriteTimeout, err = parseDuration(name, v)
		case "pool_size":
			o.PoolSize, err = parseInt(name, v, 1)
		case "max_retries":
			o.MaxRetries, err = parseInt(name, v, -1)
		case "client_name":
			o.ClientName = v
		case "protocol":
			o.Protocol, err = parseInt(name, v, 2)
			if err == nil && o.Protocol > 3 {
				err = badURL("parameter protocol", "is %d, want 2 or 3", o.Protocol)
			}
		case "skip_verify":
			if u.Scheme != "rediss" {
				return badURL("parameter skip_verify", "needs the rediss scheme")
			}
			var skip bool
			if skip, err = parseBool(name, v); err == nil {
				o.TLSConfig = &tls.Config{InsecureSkipVerify: skip}
			}
		case "password", "sentinel_password":
			return badURL("parameter "+name, "is not accepted: put the password in the userinfo (redis://user:password@host), where errors hide it")
		default:
			return badURL("parameter "+name, "is unknown")
		}
		if err != nil {
			return err
		}
	}
	if o.MasterName == "" && sentinelAuth {
		return badURL("parameter sentinel_auth", "needs master_name")
	}
	if o.MasterName != "" && o.IsClusterMode {
		return badURL("parameter cluster", "cannot be combined with master_name")
	}
	if sentinelAuth {
		o.SentinelUsername, o.SentinelPassword = o.Username, o.Password
	}
	return nil
}

func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badURL("parameter "+name, "%q is not true or false", v)
	}
	return b, nil
}

func parseDuration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badURL("parameter "+name, "%q is not a positive duration such as 500ms", v)
	}
	return d, nil
}

func parseInt(name, v string, low int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < low {
		return 0, badURL("parameter "+name, "%q is not a whole number >= %d", v, low)
	}
	return n, nil
}
