package etcddict

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The etcd leases that lease keys (ngxtasks.Leaser) hold: one per holder
// and TTL, granted by the first Lease that needs it and kept alive by Lease
// and Renew, as concurrency.Session keeps one for all its keys. So taking a
// lease is one transaction, not a Grant and a transaction, and renewing a
// holder's leases is one KeepAliveOnce per etcd lease, not per key.
//
// An etcd lease extends all its keys at once, so each key also has a
// deadline of its own, kept here: the end of its TTL from its take or its
// last renewal, on this process's monotonic clock, counted from the answer
// (so no earlier than the holder's own reckoning). A key past its deadline
// is no longer its holder's: Renew refuses it, and every keep-alive of its
// etcd lease deletes it first (by its token), so that keeping other keys
// alive does not keep it. See the package documentation for the bounds.

// hkey names a holder's etcd lease: the holder, and the lease's TTL in
// whole seconds (secsFor of the lease keys' TTL).
type hkey struct {
	holder string
	secs   int64
}

// hlease is one holder's etcd lease. expires is a lower bound of its end on
// the server, as lease.expires: the send time of its grant or of its last
// keep-alive plus the TTL the server answered.
type hlease struct {
	id      clientv3.LeaseID
	key     hkey
	expires time.Time       // guarded by holders.mu
	dead    bool            // the server no longer knows it; guarded by holders.mu
	keys    map[string]bool // the lease keys put with it, by key; guarded by holders.mu
}

// held is a lease key this Dict took, with the etcd lease it holds.
type held struct {
	token    uint64 // its CreateRevision; 0 when the Lease's answer was lost
	holder   string
	lease    *hlease
	deadline time.Time
	renewing int // Renews in flight, which the sweep leaves alone
}

// holders keeps the holders' etcd leases and the keys put with them.
type holders struct {
	d *Dict

	mu       sync.Mutex
	cur      map[hkey]*hlease             // the lease new keys of a holder and TTL get
	byID     map[clientv3.LeaseID]*hlease // every lease granted here and not known dead
	keys     map[string]*held             // by key (without the prefix)
	granting map[hkey]*holderGrant        // grants in flight
	closed   bool
	base     context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type holderGrant struct {
	done  chan struct{}
	lease *hlease
	err   error
}

func newHolders(d *Dict) *holders {
	h := &holders{
		d:        d,
		cur:      make(map[hkey]*hlease),
		byID:     make(map[clientv3.LeaseID]*hlease),
		keys:     make(map[string]*held),
		granting: make(map[hkey]*holderGrant),
	}
	h.base, h.cancel = context.WithCancel(context.Background())
	return h
}

// holderWindow is how long a holder's etcd lease, just kept alive, serves
// new keys without another keep-alive alongside: short, since it is also
// how much longer than their TTL (besides the latency allowance) the keys
// of a holder that crashed may live.
const holderWindow = time.Second

// secsFor is the TTL of the etcd lease for lease keys of ttl: ttl plus the
// latency allowance A and holderWindow, so that a key put with it, or
// renewed by its keep-alive, surely lives ttl from the answer.
func (h *holders) secsFor(ttl time.Duration) int64 {
	return ceilSeconds(ttl + h.d.set.latency + holderWindow)
}

// get returns the holder's etcd lease for ttl, granting one when there is
// none or it may end before a request sent now arrives (within the latency
// allowance). Concurrent requests wait for one Grant.
func (h *holders) get(ctx context.Context, holder string, ttl time.Duration) (*hlease, error) {
	k := hkey{holder, h.secsFor(ttl)}
	for range 3 {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, errPoolClosed
		}
		if l := h.cur[k]; l != nil && !l.dead && time.Until(l.expires) > h.d.set.latency {
			h.mu.Unlock()
			return l, nil
		}
		call := h.granting[k]
		if call == nil {
			call = &holderGrant{done: make(chan struct{})}
			h.granting[k] = call
			h.wg.Add(1)
			go h.grant(k, call)
		}
		h.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if call.err != nil {
			return nil, call.err
		}
	}
	return nil, fmt.Errorf("no lease for holder %q lives %v after a grant; is the server slow?", holder, h.d.set.latency)
}

// grant runs one Grant in its own goroutine, as leasePool.grant does.
func (h *holders) grant(k hkey, call *holderGrant) {
	defer h.wg.Done()
	ctx, cancel := context.WithTimeout(h.base, h.d.set.grantTimeout)
	defer cancel()
	sent := time.Now()
	resp, err := h.d.client.Grant(ctx, k.secs)
	switch {
	case err != nil:
		call.err = fmt.Errorf("grant lease of %ds: %w", k.secs, err)
	case resp.Error != "":
		call.err = fmt.Errorf("grant lease of %ds: %s", k.secs, resp.Error)
	case resp.TTL <= 0:
		call.err = fmt.Errorf("grant lease of %ds: server granted %ds", k.secs, resp.TTL)
	default:
		call.lease = &hlease{id: resp.ID, key: k, expires: sent.Add(time.Duration(resp.TTL) * time.Second), keys: map[string]bool{}}
	}
	h.mu.Lock()
	delete(h.granting, k)
	if call.lease != nil && !h.closed {
		old := h.cur[k]
		h.cur[k] = call.lease
		h.byID[call.lease.id] = call.lease
		if old != nil {
			h.retire(old)
		}
	}
	h.mu.Unlock()
	close(call.done)
}

// expiresBy reports l's known end.
func (h *holders) expiresBy(l *hlease) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return l.expires
}

// gone forgets l, which the server no longer has, with every key put with
// it: they are gone with it.
func (h *holders) gone(l *hlease) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.goneLocked(l)
}

func (h *holders) goneLocked(l *hlease) {
	l.dead = true
	if h.cur[l.key] == l {
		delete(h.cur, l.key)
	}
	delete(h.byID, l.id)
	for k := range l.keys {
		if e := h.keys[k]; e != nil && e.lease == l {
			delete(h.keys, k)
		}
	}
	l.keys = nil
}

// track records that key was put with l under token (0: perhaps put, the
// answer lost), the holder's until deadline. A key already tracked keeps
// its entry when the token is unknown: a Lease whose answer was lost did
// not take a key this Dict holds.
func (h *holders) track(key string, token uint64, holder string, l *hlease, deadline time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l.dead {
		return
	}
	if old := h.keys[key]; old != nil {
		if token == 0 {
			return
		}
		h.untrackLocked(key, old)
	}
	h.keys[key] = &held{token: token, holder: holder, lease: l, deadline: deadline}
	l.keys[key] = true
	h.byID[l.id] = l
}

// extend moves the deadline of key's entry e, if it is still key's, to
// end, if later.
func (h *holders) extend(key string, e *held, end time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.keys[key] == e && end.After(e.deadline) {
		e.deadline = end
	}
}

// untrack forgets key if token holds it here.
func (h *holders) untrack(key string, token uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.keys[key]; e != nil && e.token == token {
		h.untrackLocked(key, e)
	}
}

func (h *holders) untrackLocked(key string, e *held) {
	delete(h.keys, key)
	if e.lease.keys != nil {
		delete(e.lease.keys, key)
	}
	h.retire(e.lease)
}

// retire forgets l once no key is put with it and no new key will be:
// nothing needs it known then. The caller holds h.mu.
func (h *holders) retire(l *hlease) {
	if len(l.keys) == 0 && h.cur[l.key] != l {
		delete(h.byID, l.id)
	}
}

// keepAlive renews l with one KeepAliveOnce, after deleting, in a
// transaction sent alongside, every key put with it whose deadline has
// passed (sweep). It reports whether l lives on, and moves its known end.
// A lease the server no longer knows is forgotten (gone).
func (h *holders) keepAlive(ctx context.Context, l *hlease) (bool, error) {
	var wg sync.WaitGroup
	wg.Go(func() { h.sweep(ctx, l) })
	defer wg.Wait()
	sent := time.Now()
	resp, err := h.d.client.KeepAliveOnce(ctx, l.id)
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound), err == nil && resp.TTL <= 0:
		h.gone(l)
		return false, nil
	case err != nil:
		return false, err
	}
	h.mu.Lock()
	if end := sent.Add(time.Duration(resp.TTL) * time.Second); end.After(l.expires) {
		l.expires = end
	}
	h.mu.Unlock()
	return true, nil
}

// sweep deletes the keys put with l whose deadline has passed and that no
// Renew in flight is renewing, each only while it is still the same key on
// l (its token, and l): a transaction of nested transactions, one per key.
// A key past its deadline is refused by Renew, so none of them can be
// renewed meanwhile. Those deleted are forgotten; after an error they are
// tried again at the next keep-alive (they end with l anyway).
func (h *holders) sweep(ctx context.Context, l *hlease) {
	now := time.Now()
	type gone struct {
		key string
		e   *held
	}
	var due []gone
	var ops []clientv3.Op
	h.mu.Lock()
	for k := range l.keys {
		e := h.keys[k]
		if e == nil || e.lease != l || e.renewing > 0 || !now.After(e.deadline) {
			continue
		}
		pk := h.d.prefix + k
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue(pk), "=", l.id)}
		if e.token != 0 {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(pk), "=", int64(e.token)))
		}
		ops = append(ops, clientv3.OpTxn(cmps, []clientv3.Op{clientv3.OpDelete(pk)}, nil))
		due = append(due, gone{k, e})
	}
	h.mu.Unlock()
	size := max(1, int(h.d.maxOps.Load())/2) // a nested transaction counts its own ops too
	for len(ops) > 0 {
		n := min(size, len(ops))
		if _, err := h.d.client.Txn(ctx).Then(ops[:n]...).Commit(); err != nil {
			return
		}
		h.mu.Lock()
		for _, g := range due[:n] {
			if h.keys[g.key] == g.e {
				h.untrackLocked(g.key, g.e)
			}
		}
		h.mu.Unlock()
		ops, due = ops[n:], due[n:]
	}
}

// close ends grants in flight and waits for them. The etcd leases are left
// to end by themselves, as the claims' are.
func (h *holders) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}
