package redisdict

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

// Dict is an ngxtasks dictionary in Redis. It also implements
// ngxtasks.BatchAdder, ngxtasks.Setter, ngxtasks.StoreClock and
// ngxtasks.Leaser. It is safe for concurrent use.
//
// A lease is one Lua script, which Redis runs whole with no other command
// in between: the lease key (holding "token:holder", with PX its TTL, so
// Redis's clock ends it) is read, the claim stored with SET NX PX, the
// token counter incremented and the lease key set. The counter is a key
// without a TTL on the lease key's Cluster slot; tokens restart only if it
// is lost (see the package documentation).
type Dict struct {
	client redis.UniversalClient
	own    bool // the client was made by Open: Close closes it
	closed atomic.Bool
	dials  dialWatch
}

var (
	_ ngxtasks.Dict       = (*Dict)(nil)
	_ ngxtasks.BatchAdder = (*Dict)(nil)
	_ ngxtasks.Setter     = (*Dict)(nil)
	_ ngxtasks.StoreClock = (*Dict)(nil)
	_ ngxtasks.Leaser     = (*Dict)(nil)
)

// New returns a dictionary that uses client, which may be a *redis.Client,
// a Sentinel-backed client or a *redis.ClusterClient. The caller keeps
// ownership: Dict.Close does not close client, so the program can go on
// using it for other things and closes it itself, after Dict.Close. Enable
// the client's ContextTimeoutEnabled so a claim ends with its context.
// New adds a hook to client that only watches its connection attempts, so
// that errors can name why the server cannot be reached.
func New(client redis.UniversalClient) (*Dict, error) {
	if client == nil {
		return nil, errors.New("redisdict: New: client is nil")
	}
	if v := reflect.ValueOf(client); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("redisdict: New: client is a nil %T", client)
	}
	d := &Dict{client: client}
	d.dials.watch(client)
	return d, nil
}

// Client returns the client the dictionary uses.
func (d *Dict) Client() redis.UniversalClient { return d.client }

// px is ttl in whole milliseconds, for SET's PX, rounded up so that an
// entry never lives less than asked.
func px(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// setNX builds SET key value PX ms NX, the whole claim.
// The reply is read as a status, "OK" or nil, rather than a bool, whose false
// could not tell "not stored" from "no reply".
func setNX(ctx context.Context, key, value string, ttl time.Duration) *redis.StatusCmd {
	return redis.NewStatusCmd(ctx, "set", key, value, "px", px(ttl), "nx")
}

// Add implements ngxtasks.Dict with SET key value NX PX ttl.
func (d *Dict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := ngxtasks.CheckEntry(key, value, ttl); err != nil {
		return false, err
	}
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	cmd := setNX(ctx, key, value, ttl)
	_ = d.client.Process(ctx, cmd)
	return d.added(cmd, key, errNoReply)
}

// errNoReply stands for the reply of a command that has neither a reply nor
// an error of its own: one a failed pipeline did not send.
var errNoReply = errors.New("no reply")

// added reads a SET NX reply: OK when stored, nil when the key was there.
// Anything else leaves unknown whether it stored: an error.
func (d *Dict) added(cmd *redis.StatusCmd, key string, cause error) (bool, error) {
	status, err := cmd.Result()
	switch {
	case err == nil && status == "OK":
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	case err == nil && status == "":
		return false, d.fail("SET NX", key, cause)
	case err == nil:
		return false, d.fail("SET NX", key, fmt.Errorf("unexpected reply %q", status))
	default:
		return false, d.fail("SET NX", key, err)
	}
}

// Set implements ngxtasks.Setter with SET key value PX ttl, the claim
// without NX: it stores whatever the key holds, with ttl rounded up to a
// millisecond as Add's.
func (d *Dict) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := ngxtasks.CheckEntry(key, value, ttl); err != nil {
		return err
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	cmd := redis.NewStatusCmd(ctx, "set", key, value, "px", px(ttl))
	_ = d.client.Process(ctx, cmd)
	status, err := cmd.Result()
	switch {
	case err != nil:
		return d.fail("SET", key, err)
	case status != "OK":
		return d.fail("SET", key, fmt.Errorf("unexpected reply %q", status))
	}
	return nil
}

// Get implements ngxtasks.Dict with GET.
func (d *Dict) Get(ctx context.Context, key string) (string, bool, error) {
	if err := ngxtasks.CheckEntry(key, "", 1); err != nil {
		return "", false, err
	}
	if err := d.ready(ctx); err != nil {
		return "", false, err
	}
	v, err := d.client.Get(ctx, key).Result()
	switch {
	case err == nil:
		return v, true, nil
	case errors.Is(err, redis.Nil):
		return "", false, nil
	default:
		return "", false, d.fail("GET", key, err)
	}
}

// Now implements ngxtasks.StoreClock with TIME.
func (d *Dict) Now(ctx context.Context) (time.Time, error) {
	if err := d.ready(ctx); err != nil {
		return time.Time{}, err
	}
	t, err := d.client.Time(ctx).Result()
	if err != nil {
		return time.Time{}, d.fail("TIME", "", err)
	}
	return t, nil
}

// Close implements ngxtasks.Dict. It closes the client only if Open made it.
// Later calls return ngxtasks.ErrClosed.
func (d *Dict) Close() error {
	if d.closed.Swap(true) || !d.own {
		return nil
	}
	if err := d.client.Close(); err != nil {
		return fmt.Errorf("redisdict: close: %w", err)
	}
	return nil
}

// ready refuses a call on a closed dictionary or an ended context before
// anything is sent, so such a call surely stored nothing.
func (d *Dict) ready(ctx context.Context) error {
	if d.closed.Load() {
		return ngxtasks.ErrClosed
	}
	return ctx.Err()
}

// fail describes a failed command. A call that raced Close reports
// ErrClosed, as the interface asks, whatever the client said.
func (d *Dict) fail(op, key string, err error) error {
	if d.closed.Load() || errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisdict: %s: %w (%v)", op, ngxtasks.ErrClosed, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		if cause := d.dials.cause(); cause != nil {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
	}
	if key == "" {
		return fmt.Errorf("redisdict: %s: %w", op, err)
	}
	return fmt.Errorf("redisdict: %s %q: %w", op, key, err)
}
