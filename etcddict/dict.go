package etcddict

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Dict is an ngxtasks dictionary in etcd. It implements ngxtasks.Dict,
// ngxtasks.BatchAdder, ngxtasks.Setter and ngxtasks.Leaser (not
// ngxtasks.StoreClock: see the package documentation). It is safe for
// concurrent use.
//
// A lease (ngxtasks.Leaser) is a key put by a transaction that compares its
// CreateRevision with 0, with its claim's key if one is asked for, so both
// are added atomically or neither is. Its token is that transaction's
// revision, the key's CreateRevision: etcd's revision counter, which only
// grows, cluster-wide, so no counter key is needed. The key holds its
// holder's etcd lease, one per holder and TTL, kept alive by the holder's
// renewals, whose TTL the etcd leader counts down (whole seconds): the
// server's clock decides expiry when the holder stops (crashes, is cut
// off). A key the holder stops renewing while it renews others ends at a
// deadline the Dict keeps, and is deleted by the next keep-alive (see the
// package documentation). Keys, revisions and leases are in etcd's Raft
// log, so a lease, its token order and its remaining TTL survive a server
// restart (a restarted or new leader renews every etcd lease to its full
// TTL: a lease may then last longer, never shorter).
type Dict struct {
	client    *clientv3.Client
	prefix    string
	own       bool // made by Open: Close closes the client
	set       settings
	leases    *leasePool
	holders   *holders     // the etcd leases of lease keys (holders.go)
	maxOps    atomic.Int64 // claims per batch transaction; lowered when refused
	closed    atomic.Bool
	logs      *logSink               // where the client's lines go, if Open made it
	lastCause atomic.Pointer[probed] // see cause

	// stop ends with Close of a Dict that owns its client, and with it the
	// context of every call (callCtx). Otherwise a call in flight when the
	// client closes fails only after the client's retry interceptor has
	// retried "the client connection is closing" (code Canceled, which it
	// takes for a per-attempt timeout) 100 times, 25 ms apart: 2.5 s.
	stop      context.Context
	stopCalls context.CancelFunc
}

var (
	_ ngxtasks.Dict       = (*Dict)(nil)
	_ ngxtasks.BatchAdder = (*Dict)(nil)
	_ ngxtasks.Setter     = (*Dict)(nil)
	_ ngxtasks.Leaser     = (*Dict)(nil)
)

// New returns a dictionary that keeps its keys in client's etcd under
// prefix, used as is: keys are prefix+key, so end it with a separator
// ("app/claims/"). The caller keeps ownership of client: Close does not close
// it, and the program closes it itself after Close. New fails only on a nil
// client or an invalid option; it sends nothing.
func New(client *clientv3.Client, prefix string, opts ...Option) (*Dict, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: New with a nil client", ErrBadConfig)
	}
	s := defaults()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&s); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
	}
	d := &Dict{client: client, prefix: prefix, set: s, logs: &logSink{}}
	d.stop, d.stopCalls = context.WithCancel(context.Background())
	d.leases = newLeasePool(client.Lease, s.latency, s.window, s.fixedWindow, s.grantTimeout)
	d.holders = newHolders(d)
	d.maxOps.Store(int64(s.maxTxnOps))
	return d, nil
}

// Client returns the client the dictionary uses.
func (d *Dict) Client() *clientv3.Client { return d.client }

// Prefix returns the prefix of the dictionary's keys in etcd.
func (d *Dict) Prefix() string { return d.prefix }

// Add implements ngxtasks.Dict with one transaction:
//
//	If(CreateRevision(prefix+key) == 0) Then(Put(prefix+key, value, WithLease(l)))
//
// where l is a shared lease that surely outlives ttl. A lease the server no
// longer knows fails the whole transaction, storing nothing, so Add then
// forgets it and tries once more with a new one.
func (d *Dict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := checkEntry(key, value, ttl); err != nil {
		return false, err
	}
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	return d.withLease(ctx, "add", key, ttl, func(l *lease) (bool, error) {
		return d.claim(ctx, l, key, value, ttl)
	})
}

// Set implements ngxtasks.Setter with a Put of prefix+key with a shared
// lease that surely outlives ttl, taken as Add takes its leases: it stores
// the key whatever it holds, and the key moves to the new lease. A lease the
// server no longer knows fails the Put, storing nothing, so Set then forgets
// it and tries once more with a new one.
func (d *Dict) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := checkEntry(key, value, ttl); err != nil {
		return err
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	_, err := d.withLease(ctx, "set", key, ttl, func(l *lease) (bool, error) {
		return true, d.put(ctx, l, key, value, ttl)
	})
	return err
}

// withLease calls write with a lease that surely outlives ttl, and once more
// with a new lease if the server no longer knows the first: write returns
// rpctypes.ErrLeaseNotFound as it is for that, and any other error already
// described by fail (as op of key).
func (d *Dict) withLease(ctx context.Context, op, key string, ttl time.Duration, write func(*lease) (bool, error)) (bool, error) {
	for range 2 {
		l, err := d.leases.get(ctx, ttl)
		if err != nil {
			return false, d.fail(op, key, err)
		}
		stored, err := write(l)
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			d.leases.drop(l)
			continue
		}
		return stored, err
	}
	return false, d.fail(op, key, rpctypes.ErrLeaseNotFound)
}

// claim sends one Add's transaction. It gives up when an answer could no
// longer prove that the key lives ttl (l.answerBy).
func (d *Dict) claim(ctx context.Context, l *lease, key, value string, ttl time.Duration) (bool, error) {
	k := d.prefix + key
	cctx, cancel := context.WithDeadline(ctx, l.answerBy(ttl))
	defer cancel()
	resp, err := d.client.Txn(cctx).
		If(absent(k)).
		Then(clientv3.OpPut(k, value, clientv3.WithLease(l.id))).
		Commit()
	if err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return false, err
		}
		return false, d.fail("add", key, err)
	}
	if !resp.Succeeded {
		return false, nil
	}
	if err := outlives(l, ttl, time.Now()); err != nil {
		return false, d.fail("add", key, err)
	}
	return true, nil
}

// put sends one Set's Put, giving up and checking the answer as claim does.
func (d *Dict) put(ctx context.Context, l *lease, key, value string, ttl time.Duration) error {
	cctx, cancel := context.WithDeadline(ctx, l.answerBy(ttl))
	defer cancel()
	if _, err := d.client.Put(cctx, d.prefix+key, value, clientv3.WithLease(l.id)); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return err
		}
		return d.fail("set", key, err)
	}
	if err := outlives(l, ttl, time.Now()); err != nil {
		return d.fail("set", key, err)
	}
	return nil
}

// absent is the comparison of every claim: the key has no live revision.
func absent(k string) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(k), "=", 0)
}

// outlives checks, once the answer is in, that a key the server put before
// now lives ttl: now+ttl must not pass the lease's sure end. Otherwise the
// key is stored but may vanish early, and a later claim of it could win
// the same slot again; the caller must not run it, so this is an error.
func outlives(l *lease, ttl time.Duration, now time.Time) error {
	if late := now.Add(ttl).Sub(l.expires); late > 0 {
		return fmt.Errorf("stored, but the answer came %v too late to prove the key lives %v (lease %x)", late, ttl, int64(l.id))
	}
	return nil
}

// Get implements ngxtasks.Dict with a linearizable Range of prefix+key. A
// key whose lease has just ended may be seen until the server deletes it.
func (d *Dict) Get(ctx context.Context, key string) (string, bool, error) {
	if err := ngxtasks.CheckEntry(key, "", 1); err != nil {
		return "", false, err
	}
	if err := d.ready(ctx); err != nil {
		return "", false, err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	resp, err := d.client.Get(ctx, d.prefix+key)
	if err != nil {
		return "", false, d.fail("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return string(resp.Kvs[0].Value), true, nil
}

// Close implements ngxtasks.Dict: later calls return ngxtasks.ErrClosed, a
// lease grant in flight is cancelled, and the client is closed if Open made
// it (a client passed to New is not). Leases are not revoked: that would
// delete claims that must live their ttl, letting another worker win the
// same slot again; they end by themselves. Calls in flight on a client Open
// made fail at once with ngxtasks.ErrClosed; those on a client passed to New
// end with their own contexts.
func (d *Dict) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.leases.close()
	d.holders.close()
	if !d.own {
		return nil
	}
	d.stopCalls()
	if err := d.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcddict: close: %w", err)
	}
	return nil
}

// callCtx is ctx, ended also by Close of a Dict that owns its client, so
// that calls in flight then fail at once (with ngxtasks.ErrClosed, see fail).
func (d *Dict) callCtx(ctx context.Context) (context.Context, func()) {
	d.logs.note(ctx)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.stop, cancel)
	return ctx, func() { stop(); cancel() }
}

// ready refuses a call on a closed dictionary or an ended context before
// anything is sent, so such a call surely stored nothing.
func (d *Dict) ready(ctx context.Context) error {
	if d.closed.Load() {
		return ngxtasks.ErrClosed
	}
	return ctx.Err()
}

// checkEntry is ngxtasks.CheckEntry plus the longest ttl a lease can hold.
func checkEntry(key, value string, ttl time.Duration) error {
	if err := ngxtasks.CheckEntry(key, value, ttl); err != nil {
		return err
	}
	if ttl > maxTTL {
		return fmt.Errorf("%w: ttl %v is longer than etcddict's limit %v", ngxtasks.ErrInvalidEntry, ttl, maxTTL)
	}
	return nil
}

// fail describes a failed call. One that raced Close reports
// ngxtasks.ErrClosed, as the interface asks, whatever the client said.
func (d *Dict) fail(op, key string, err error) error {
	if d.closed.Load() || errors.Is(err, errPoolClosed) {
		return fmt.Errorf("etcddict: %s %q: %w (%v)", op, key, ngxtasks.ErrClosed, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		if cause := d.cause(); cause != nil {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
	}
	return fmt.Errorf("etcddict: %s %q: %w", op, key, err)
}
