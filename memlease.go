package ngxtasks

import (
	"context"
	"math"
	"time"
)

// MemoryDict's leases live apart from its entries, under one mutex: a
// lease is taken once a run, not once a slot of every rule. Each key ever
// leased keeps its record after the lease ends, so that its token goes on
// counting: one record per rule that ever held a lease.
type memLease struct {
	holder  string
	token   uint64
	expires int64 // on the dictionary's clock; 0 once released
}

// Lease implements Leaser. A claim asked for with the lease is added in
// the same critical section, the lease's mutex held around the shard's.
func (d *MemoryDict) Lease(ctx context.Context, req *LeaseRequest) error {
	if err := CheckLease(req); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.once.Do(d.init)
	now := d.now()
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	if d.closed.Load() {
		return ErrClosed
	}
	req.Acquired, req.Token, req.HeldBy, req.Claim.Added = false, 0, "", false
	l := d.leases[req.Key]
	if l != nil && l.expires > now {
		req.Token, req.HeldBy = l.token, l.holder
		return nil
	}
	if req.Claim.Key != "" {
		s, h := d.locate(req.Claim.Key)
		s.mu.Lock()
		if now >= s.nextSweep {
			s.sweep(now)
		}
		req.Claim.Added = s.add(h, req.Claim.Key, req.Claim.Value, now, expiry(now, req.Claim.TTL), false)
		s.mu.Unlock()
		if !req.Claim.Added {
			return nil
		}
	}
	if l == nil {
		if d.leases == nil {
			d.leases = map[string]*memLease{}
		}
		l = &memLease{}
		d.leases[req.Key] = l
	}
	l.token++
	l.holder, l.expires = req.Holder, expiry(now, req.TTL)
	req.Acquired, req.Token = true, l.token
	return nil
}

// Renew implements Leaser.
func (d *MemoryDict) Renew(ctx context.Context, renewals []Renewal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.once.Do(d.init)
	now := d.now()
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	if d.closed.Load() {
		return ErrClosed
	}
	for i := range renewals {
		r := &renewals[i]
		r.Renewed, r.Err = false, CheckEntry(r.Key, "", r.TTL)
		if l := d.leases[r.Key]; r.Err == nil && l != nil && l.token == r.Token && l.expires > now {
			l.expires, r.Renewed = expiry(now, r.TTL), true
		}
	}
	return nil
}

// Release implements Leaser.
func (d *MemoryDict) Release(ctx context.Context, key string, token uint64) (bool, error) {
	if err := CheckEntry(key, "", 1); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.once.Do(d.init)
	now := d.now()
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	if d.closed.Load() {
		return false, ErrClosed
	}
	l := d.leases[key]
	if l == nil || l.token != token || l.expires <= now {
		return false, nil
	}
	l.holder, l.expires = "", 0
	return true, nil
}

// expiry is when an entry made at now for ttl expires: never, for a ttl so
// long that the sum overflows.
func expiry(now int64, ttl time.Duration) int64 {
	if e := now + int64(ttl); e >= now {
		return e
	}
	return math.MaxInt64
}
