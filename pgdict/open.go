package pgdict

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ngxtasks/ngxtasks"
)

func init() {
	ngxtasks.Register("postgres", open)
	ngxtasks.Register("postgresql", open)
}

func open(ctx context.Context, u *url.URL) (ngxtasks.Dict, error) {
	return openURL(ctx, u, nil)
}

// Open connects to the database a "postgres://" or "postgresql://" URL names
// (see the package documentation), checks that it answers and accepts the
// credentials, and creates the table if it is missing. opts come after the
// URL's own parameters. The Dict owns its pool: Close closes it.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Dict, error) {
	u, err := ngxtasks.ParseDictURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %v", ErrBadConfig, err)
	}
	return openURL(ctx, u, opts)
}

func openURL(ctx context.Context, u *url.URL, opts []Option) (*Dict, error) {
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("%w: URL scheme is %q, want postgres or postgresql", ErrBadConfig, u.Scheme)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%w: URL has no address: write %s://host/dbname", ErrBadConfig, u.Scheme)
	}
	if u.Fragment != "" || u.RawFragment != "" { // not shown: it could be a password put there by mistake
		return nil, fmt.Errorf("%w: URL has a fragment (#…); a postgres URL has none", ErrBadConfig)
	}
	ours, pgURL, err := splitParams(u)
	if err != nil {
		return nil, err
	}
	sql, cleanup, err := settings(append(ours, opts...))
	if err != nil {
		return nil, err
	}
	secret := ""
	if u.User != nil {
		secret, _ = u.User.Password()
	}
	cfg, err := pgxpool.ParseConfig(pgURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, hide(err, secret))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgdict: %w", hide(err, secret))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgdict: connect to %s: %w", where(cfg), hide(err, secret))
	}
	d, err := newDict(ctx, pool, true, sql, cleanup)
	if err != nil {
		pool.Close()
		return nil, hide(err, secret)
	}
	return d, nil
}

// splitParams takes our parameters out of the URL, which pgx would otherwise
// send to the server as settings, and returns the rest for pgx.
func splitParams(u *url.URL) ([]Option, string, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, "", fmt.Errorf("%w: URL query cannot be parsed: %v", ErrBadConfig, err)
	}
	var opts []Option
	for name, vals := range q {
		if !strings.HasPrefix(name, "ngxtasks_") {
			continue
		}
		if len(vals) > 1 {
			return nil, "", fmt.Errorf("%w: parameter %s is given %d times", ErrBadConfig, name, len(vals))
		}
		switch v := vals[0]; name {
		case "ngxtasks_table":
			opts = append(opts, WithTable(v))
		case "ngxtasks_cleanup":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return nil, "", fmt.Errorf("%w: parameter ngxtasks_cleanup %q is not a duration >= 0 such as 1m", ErrBadConfig, v)
			}
			opts = append(opts, WithCleanupInterval(d))
		default:
			return nil, "", fmt.Errorf("%w: parameter %s is unknown (ours are ngxtasks_table and ngxtasks_cleanup)", ErrBadConfig, name)
		}
		q.Del(name)
	}
	rest := *u
	rest.RawQuery = q.Encode()
	return opts, rest.String(), nil
}

// where names the server and role for an error, without the password.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("PostgreSQL at %s:%d (user %q, database %q)", c.Host, c.Port, c.User, c.Database)
}

// hide returns err, or when its text contains the password (raw or
// URL-escaped), an error with that text masked and nothing to unwrap, so
// that no chain can lead back to it.
func hide(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error()
	masked := msg
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		masked = strings.ReplaceAll(masked, s, "xxxxx")
	}
	if masked == msg {
		return err
	}
	return errors.New(masked)
}
