package etcddict

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A lease is one etcd lease that claims share. expires is a lower bound of
// the server's expiry on this process's monotonic clock: the time the Grant
// request was sent plus the TTL the server granted. The server starts the
// TTL when it applies the grant, which is later, and a new etcd leader only
// ever extends a lease; so the lease ends no earlier than expires (given
// clocks that run at the same rate).
type lease struct {
	id      clientv3.LeaseID
	expires time.Time
}

// remaining is how long the lease surely lives after now.
func (l *lease) remaining(now time.Time) time.Duration { return l.expires.Sub(now) }

// answerBy is the last moment at which the answer to a put of a key with
// the lease can still prove that the key lives ttl: past it, the lease may
// end too soon after the put.
func (l *lease) answerBy(ttl time.Duration) time.Time { return l.expires.Add(-ttl) }

// grantCall is one Grant in flight, which every claim needing a lease of the
// same TTL waits for instead of granting its own.
type grantCall struct {
	done  chan struct{}
	lease *lease
	err   error
}

// leasePool keeps the leases that claims reuse. A claim of ttl takes a lease
// whose remaining life r is in [ttl+latency, ttl+latency+window(ttl)+1s]:
// long enough that its key outlives ttl even if the request takes up to
// latency, short enough that the key is gone soon after. When none fits, it
// grants one of ceil(ttl+latency+window) seconds, which every claim of a
// similar ttl then reuses for about window. So the server holds a few leases
// per ttl in use, however many claims there are, and nothing is ever revoked
// or kept alive: a lease ends by itself, with its keys.
type leasePool struct {
	lessor  clientv3.Lease
	latency time.Duration
	window  time.Duration // fixed reuse window; 0: defaultWindow(ttl)
	fixed   bool          // window was set by WithReuseWindow
	timeout time.Duration // for one Grant

	mu       sync.Mutex
	leases   []*lease
	inflight map[int64]*grantCall // by TTL in seconds
	closed   bool
	// serverMin is the longest TTL the server granted beyond what was
	// asked: its minimum lease TTL, as far as seen.
	serverMin time.Duration
	base      context.Context // cancelled by close, ends grants in flight
	cancel    context.CancelFunc
	wg        sync.WaitGroup // grants in flight
}

// maxPooled bounds the leases a pool remembers; a forgotten lease is not
// revoked (keys may hold it) but simply ends by itself.
const maxPooled = 64

// errPoolClosed is what lease look-ups return after close; Dict turns it
// into ngxtasks.ErrClosed.
var errPoolClosed = errors.New("lease pool closed")

func newLeasePool(lessor clientv3.Lease, latency, window time.Duration, fixed bool, timeout time.Duration) *leasePool {
	p := &leasePool{
		lessor:   lessor,
		latency:  latency,
		window:   window,
		fixed:    fixed,
		timeout:  timeout,
		inflight: make(map[int64]*grantCall),
	}
	p.base, p.cancel = context.WithCancel(context.Background())
	return p
}

// defaultWindow is a quarter of the ttl, at least a second: a key lives at
// most about 25% (or 1 s) longer than asked, and a ttl in steady use costs
// about five live leases.
func defaultWindow(ttl time.Duration) time.Duration {
	return max(time.Second, ttl/4)
}

func (p *leasePool) windowFor(ttl time.Duration) time.Duration {
	if p.fixed {
		return p.window
	}
	return defaultWindow(ttl)
}

// fits reports whether a lease with remaining life r serves a claim of ttl.
// A server that grants no lease shorter than its minimum (2 s for etcd 3.4
// by default) widens the upper end to it, or short claims would never share.
// The caller holds p.mu.
func (p *leasePool) fits(r, ttl time.Duration) bool {
	need := ttl + p.latency
	return r >= need && r <= max(need+p.windowFor(ttl)+time.Second, p.serverMin)
}

// get returns a lease that lives at least ttl+latency from now, reusing one
// when it can and otherwise waiting for a grant. It tries at most three
// times, since a grant another claim started may not fit this one.
func (p *leasePool) get(ctx context.Context, ttl time.Duration) (*lease, error) {
	for range 3 {
		call, l, err := p.pick(ttl)
		if err != nil || l != nil {
			return l, err
		}
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if call.err != nil {
			return nil, call.err
		}
		// A fresh lease serves any claim it outlives, even one it outlives
		// by more than the window: the server may grant more than asked (its
		// minimum TTL) and then no lease fits better.
		if call.lease.remaining(time.Now()) >= ttl+p.latency {
			return call.lease, nil
		}
	}
	return nil, fmt.Errorf("no lease lives %v after a grant; is the server slow?", ttl+p.latency)
}

// pick returns a pooled lease that fits ttl, or the grant to wait for,
// starting it when none of the same TTL is in flight.
func (p *leasePool) pick(ttl time.Duration) (*grantCall, *lease, error) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, errPoolClosed
	}
	var best *lease
	kept := p.leases[:0]
	for _, l := range p.leases {
		r := l.remaining(now)
		if r <= p.latency {
			continue // too close to its end for any claim: forget it
		}
		kept = append(kept, l)
		if p.fits(r, ttl) && (best == nil || r < best.remaining(now)) {
			best = l
		}
	}
	clear(p.leases[len(kept):])
	p.leases = kept
	if best != nil {
		return nil, best, nil
	}
	secs := ceilSeconds(ttl + p.latency + p.windowFor(ttl))
	if call := p.inflight[secs]; call != nil {
		return call, nil, nil
	}
	call := &grantCall{done: make(chan struct{})}
	p.inflight[secs] = call
	p.wg.Add(1)
	go p.grant(secs, call)
	return call, nil, nil
}

// grant runs one Grant in its own goroutine, so that the claim that started
// it can give up with its context while others still wait for the lease.
// It ends within p.timeout, or at once when the pool closes.
func (p *leasePool) grant(secs int64, call *grantCall) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.base, p.timeout)
	defer cancel()
	sent := time.Now()
	resp, err := p.lessor.Grant(ctx, secs)
	switch {
	case err != nil:
		call.err = fmt.Errorf("grant lease of %ds: %w", secs, err)
	case resp.Error != "":
		call.err = fmt.Errorf("grant lease of %ds: %s", secs, resp.Error)
	case resp.TTL <= 0:
		call.err = fmt.Errorf("grant lease of %ds: server granted %ds", secs, resp.TTL)
	default:
		call.lease = &lease{id: resp.ID, expires: sent.Add(time.Duration(resp.TTL) * time.Second)}
	}
	p.mu.Lock()
	delete(p.inflight, secs)
	if call.lease != nil && resp.TTL > secs {
		p.serverMin = max(p.serverMin, time.Duration(resp.TTL)*time.Second)
	}
	if call.lease != nil && !p.closed {
		p.add(call.lease)
	}
	p.mu.Unlock()
	close(call.done)
}

// add remembers l, forgetting the lease nearest its end when the pool is
// full. The caller holds p.mu.
func (p *leasePool) add(l *lease) {
	if len(p.leases) >= maxPooled {
		first := 0
		for i, o := range p.leases {
			if o.expires.Before(p.leases[first].expires) {
				first = i
			}
		}
		p.leases[first] = l
		return
	}
	p.leases = append(p.leases, l)
}

// drop forgets leases the server no longer has.
func (p *leasePool) drop(gone ...*lease) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.leases[:0]
	for _, l := range p.leases {
		found := false
		for _, g := range gone {
			found = found || g.id == l.id
		}
		if !found {
			kept = append(kept, l)
		}
	}
	clear(p.leases[len(kept):])
	p.leases = kept
}

// close ends grants in flight and waits for them. Leases are left to end by
// themselves: revoking one would delete live claims.
func (p *leasePool) close() {
	p.mu.Lock()
	p.closed = true
	p.leases = nil
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// ceilSeconds rounds d up to whole seconds, at least one: etcd lease TTLs
// are whole seconds, and a claim must never live less than asked.
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return max(s, 1)
}
