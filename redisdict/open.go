package redisdict

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

func init() {
	ngxtasks.Register("redis", open)
	ngxtasks.Register("rediss", open)
}

func open(ctx context.Context, u *url.URL) (ngxtasks.Dict, error) {
	o, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	return connect(ctx, o)
}

// Open connects to the server a "redis://" or "rediss://" URL names (see the
// package documentation) and checks with PING that it answers and accepts
// the credentials, so that a wrong address or password is reported here,
// before any claim. The Dict owns its client: Close closes it.
func Open(ctx context.Context, rawURL string) (*Dict, error) {
	o, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return connect(ctx, o)
}

func connect(ctx context.Context, o *redis.UniversalOptions) (*Dict, error) {
	client := redis.NewUniversalClient(o)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisdict: %s: %w", describe(o, err), err)
	}
	d := &Dict{client: client, own: true}
	d.dials.watch(client)
	return d, nil
}

// describe says what could not be reached, and as whom, without the
// password, for an error from the first PING.
func describe(o *redis.UniversalOptions, err error) string {
	what := "connect to"
	if redis.IsAuthError(err) {
		what = "authentication refused by"
	}
	user := o.Username
	if user == "" {
		user = "default"
	}
	kind := "Redis"
	switch {
	case o.MasterName != "":
		kind = fmt.Sprintf("Redis primary %q via Sentinel", o.MasterName)
	case o.IsClusterMode || len(o.Addrs) > 1:
		kind = "Redis Cluster"
	}
	return fmt.Sprintf("%s %s at %s (user %q, database %d)", what, kind, strings.Join(o.Addrs, ","), user, o.DB)
}
