package etcddict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Lease implements ngxtasks.Leaser with one transaction:
//
//	If(CreateRevision(lk) == 0 [, CreateRevision(ck) == 0])
//	Then(Put(lk, holder, WithLease(holder's)) [, Put(ck, value, WithLease(pooled))])
//	Else(Get(lk))
//
// The lease key holds its holder's etcd lease for the TTL (holders.go),
// granted by the holder's first Lease and kept alive since; when it may not
// outlive the TTL from now, a KeepAliveOnce goes alongside the
// transaction. The token is the transaction's revision, which is lk's
// CreateRevision.
func (d *Dict) Lease(ctx context.Context, req *ngxtasks.LeaseRequest) error {
	if err := checkLease(req); err != nil {
		return err
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	req.Acquired, req.Token, req.HeldBy, req.Claim.Added = false, 0, "", false
	for range 3 {
		hl, err := d.holders.get(ctx, req.Holder, req.TTL)
		if err != nil {
			return d.fail("lease", req.Key, err)
		}
		var cl *lease
		if req.Claim.Key != "" {
			if cl, err = d.leases.get(ctx, req.Claim.TTL); err != nil {
				return d.fail("lease", req.Key, err)
			}
		}
		err = d.takeLease(ctx, req, hl, cl)
		if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return err
		}
		// One of the two etcd leases has ended: a keep-alive of the
		// holder's tells which (and forgets it if it was that one).
		if alive, kerr := d.holders.keepAlive(ctx, hl); kerr != nil {
			return d.fail("lease", req.Key, kerr)
		} else if alive && cl != nil {
			d.leases.drop(cl)
		}
	}
	return d.fail("lease", req.Key, rpctypes.ErrLeaseNotFound)
}

// checkLease is ngxtasks.CheckLease plus checkEntry's longest ttl.
func checkLease(req *ngxtasks.LeaseRequest) error {
	if err := ngxtasks.CheckLease(req); err != nil {
		return err
	}
	if err := checkEntry(req.Key, req.Holder, req.TTL); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	if req.Claim.Key == "" {
		return nil
	}
	if err := checkEntry(req.Claim.Key, req.Claim.Value, req.Claim.TTL); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	return nil
}

// takeLease sends Lease's transaction with the holder's etcd lease hl, and
// claim, the pooled lease of the claim asked for, or nil; and a keep-alive
// of hl alongside when hl may end before the TTL from now. It returns
// rpctypes.ErrLeaseNotFound as it is, for Lease to retry.
func (d *Dict) takeLease(ctx context.Context, req *ngxtasks.LeaseRequest, hl *hlease, claim *lease) error {
	lk := d.prefix + req.Key
	ifs := []clientv3.Cmp{absent(lk)}
	thens := []clientv3.Op{clientv3.OpPut(lk, req.Holder, clientv3.WithLease(hl.id))}
	tctx := ctx
	if claim != nil {
		ck := d.prefix + req.Claim.Key
		ifs = append(ifs, absent(ck))
		thens = append(thens, clientv3.OpPut(ck, req.Claim.Value, clientv3.WithLease(claim.id)))
		var cancel context.CancelFunc
		tctx, cancel = context.WithDeadline(ctx, claim.answerBy(req.Claim.TTL))
		defer cancel()
	}
	var wg sync.WaitGroup
	if time.Until(d.holders.expiresBy(hl)) < req.TTL+d.set.latency {
		// Its outcome shows in hl's known end, checked below.
		wg.Go(func() { _, _ = d.holders.keepAlive(ctx, hl) })
	}
	resp, err := d.client.Txn(tctx).If(ifs...).Then(thens...).Else(clientv3.OpGet(lk)).Commit()
	wg.Wait()
	if err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return err
		}
		// The key may have been put: it must not outlive its TTL for
		// want of a token to sweep it by.
		d.holders.track(req.Key, 0, req.Holder, hl, time.Now().Add(req.TTL))
		return d.fail("lease", req.Key, err)
	}
	if !resp.Succeeded {
		if len(resp.Responses) > 0 {
			if r := resp.Responses[0].GetResponseRange(); r != nil && len(r.Kvs) > 0 {
				req.HeldBy, req.Token = string(r.Kvs[0].Value), uint64(r.Kvs[0].CreateRevision)
			}
		}
		return nil
	}
	token, now := uint64(resp.Header.Revision), time.Now()
	d.holders.track(req.Key, token, req.Holder, hl, now.Add(req.TTL))
	// As Add: a lease or claim stored too late to prove its life is an
	// error, and the lease key is deleted again.
	var late error
	if claim != nil {
		late = outlives(claim, req.Claim.TTL, now)
	}
	if end := d.holders.expiresBy(hl); late == nil && now.Add(req.TTL).After(end) {
		late = fmt.Errorf("stored, but its etcd lease %x may end %v before the TTL %v", int64(hl.id), now.Add(req.TTL).Sub(end), req.TTL)
	}
	if late != nil {
		d.dropTaken(ctx, req.Key, token)
		return d.fail("lease", req.Key, late)
	}
	req.Acquired, req.Token, req.Claim.Added = true, token, claim != nil
	return nil
}

// dropTaken deletes a lease key that token holds, best effort (it ends with
// its etcd lease): it runs even when ctx has ended, and an error is logged.
func (d *Dict) dropTaken(ctx context.Context, key string, token uint64) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.set.grantTimeout)
	defer cancel()
	k := d.prefix + key
	_, err := d.client.Txn(rctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", int64(token))).Then(clientv3.OpDelete(k)).Commit()
	if err != nil {
		log := ngxtasks.LoggerFrom(ctx)
		if log == nil {
			log = slog.Default()
		}
		log.Warn("etcddict: deleting a lease key taken too late failed; it ends with its etcd lease", "key", key, "token", token, "err", err)
		return
	}
	d.holders.untrack(key, token)
}

// Renew implements ngxtasks.Leaser in one round-trip time: it reads every
// renewal's key in one transaction of Gets (one per WithMaxTxnOps keys,
// sent together) and, alongside, sends one KeepAliveOnce per etcd lease of
// a holder that the renewed keys hold (holders.go), each with the sweep of
// that lease's keys past their deadline. A renewal is renewed when its key
// is still its token's (CreateRevision), on that etcd lease, its deadline
// had not passed when Renew was called, and the lease, kept alive, outlives
// the TTL from now; the key's deadline then moves to the TTL from now.
//
// Rarer cases take more: a renewal of another TTL than the key was taken
// for moves the key to its holder's etcd lease for that TTL (a transaction,
// and a keep-alive or Grant when needed); so does a renewal of a key taken
// through another Dict (adopt), after a Get that says whose it is.
func (d *Dict) Renew(ctx context.Context, renewals []ngxtasks.Renewal) error {
	if err := d.ready(ctx); err != nil {
		for i := range renewals {
			renewals[i].Renewed, renewals[i].Err = false, err
		}
		return err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	start := time.Now()
	var idx []int
	for i := range renewals {
		r := &renewals[i]
		r.Renewed, r.Err = false, checkEntry(r.Key, "", r.TTL)
		if r.Err == nil {
			idx = append(idx, i)
		}
	}
	// The renewals of keys this Dict took, by the token it took them
	// under, not past their deadline: marked as renewing, so that no sweep
	// deletes them meanwhile.
	h := d.holders
	mine := make([]*held, len(renewals))
	var alive []*hlease // to keep alive now
	h.mu.Lock()
	for _, i := range idx {
		r := &renewals[i]
		e := h.keys[r.Key]
		if e == nil || e.token != r.Token || !start.Before(e.deadline) {
			continue
		}
		e.renewing++
		mine[i] = e
		if e.lease.key.secs == h.secsFor(r.TTL) && !slices.Contains(alive, e.lease) {
			alive = append(alive, e.lease)
		}
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		for _, e := range mine {
			if e != nil {
				e.renewing--
			}
		}
		h.mu.Unlock()
	}()
	ids := make([]clientv3.LeaseID, len(renewals)) // 0: not held by the token
	kept := make([]bool, len(alive))
	kerrs := make([]error, len(alive))
	var wg sync.WaitGroup
	wg.Go(func() { d.readRenewals(ctx, renewals, idx, ids, 0) })
	for j, l := range alive {
		wg.Go(func() { kept[j], kerrs[j] = h.keepAlive(ctx, l) })
	}
	wg.Wait()
	now := time.Now()
	var slow []int
	for _, i := range idx {
		r, e := &renewals[i], mine[i]
		switch {
		case r.Err != nil || ids[i] == 0:
			continue // not held by the token, or unknown
		case e == nil:
			h.mu.Lock()
			_, ours := h.byID[ids[i]]
			h.mu.Unlock()
			if !ours { // taken through another Dict
				slow = append(slow, i)
			}
			// Else a key of this Dict past its deadline, or swept: not
			// the token's any more.
			continue
		case ids[i] != e.lease.id || e.lease.key.secs != h.secsFor(r.TTL):
			slow = append(slow, i) // to move
			continue
		}
		j := slices.Index(alive, e.lease)
		switch {
		case kerrs[j] != nil:
			r.Err = d.fail("renew", r.Key, kerrs[j])
		case kept[j] && !now.Add(r.TTL).After(h.expiresBy(e.lease)):
			r.Renewed = true
			h.extend(r.Key, e, now.Add(r.TTL))
		}
	}
	sem := make(chan struct{}, maxKeepAlives)
	for _, i := range slow {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &renewals[i]
			if e := mine[i]; e != nil {
				r.Renewed, r.Err = d.moveHeld(ctx, r, e.holder, e.lease.id)
			} else {
				r.Renewed, r.Err = d.adopt(ctx, r, ids[i])
			}
		})
	}
	wg.Wait()
	return nil
}

// moveHeld puts r's key, held by r's token for holder on etcd lease from
// (of another TTL, or another Dict's), on the holder's etcd lease here for
// r's TTL, keeping its value and so its CreateRevision (the token).
func (d *Dict) moveHeld(ctx context.Context, r *ngxtasks.Renewal, holder string, from clientv3.LeaseID) (bool, error) {
	h := d.holders
	to, err := h.get(ctx, holder, r.TTL)
	if err != nil {
		return false, d.fail("renew", r.Key, err)
	}
	if time.Until(h.expiresBy(to)) < r.TTL+d.set.latency {
		if _, err := h.keepAlive(ctx, to); err != nil {
			return false, d.fail("renew", r.Key, err)
		}
	}
	k := d.prefix + r.Key
	resp, err := d.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", int64(r.Token)), clientv3.Compare(clientv3.LeaseValue(k), "=", from)).
		Then(clientv3.OpPut(k, "", clientv3.WithIgnoreValue(), clientv3.WithLease(to.id))).
		Commit()
	if err != nil {
		return false, d.fail("renew", r.Key, err)
	}
	if !resp.Succeeded {
		return false, nil
	}
	now := time.Now()
	h.track(r.Key, r.Token, holder, to, now.Add(r.TTL))
	if end := h.expiresBy(to); now.Add(r.TTL).After(end) {
		return false, d.fail("renew", r.Key, fmt.Errorf("moved, but its etcd lease %x may end %v before the TTL %v", int64(to.id), now.Add(r.TTL).Sub(end), r.TTL))
	}
	return true, nil
}

// maxKeepAlives bounds the KeepAliveOnce streams one Renew opens at once.
const maxKeepAlives = 128

// readRenewals reads the keys of the renewals idx, a transaction per
// d.maxOps of them, sent together, setting ids[i] to the etcd lease of each
// key its token still holds. A transaction the server refuses for its size
// is split, as AddBatch's are.
func (d *Dict) readRenewals(ctx context.Context, renewals []ngxtasks.Renewal, idx []int, ids []clientv3.LeaseID, depth int) {
	size := int(d.maxOps.Load())
	var wg sync.WaitGroup
	for len(idx) > 0 {
		n := min(size, len(idx))
		chunk := idx[:n:n]
		idx = idx[n:]
		wg.Go(func() {
			ops := make([]clientv3.Op, len(chunk))
			for j, i := range chunk {
				ops[j] = clientv3.OpGet(d.prefix+renewals[i].Key, clientv3.WithKeysOnly())
			}
			resp, err := d.client.Txn(ctx).Then(ops...).Commit()
			if err != nil && tooBig(err) && len(chunk) > 1 && depth < 32 {
				d.lowerMaxOps(len(chunk) / 2)
				d.readRenewals(ctx, renewals, chunk, ids, depth+1)
				return
			}
			for j, i := range chunk {
				r := &renewals[i]
				switch {
				case err != nil:
					r.Err = d.fail("renew", r.Key, err)
				case j >= len(resp.Responses) || resp.Responses[j].GetResponseRange() == nil:
					r.Err = d.fail("renew", r.Key, fmt.Errorf("no answer for key %d of %d", j, len(chunk)))
				default:
					if kvs := resp.Responses[j].GetResponseRange().Kvs; len(kvs) > 0 && uint64(kvs[0].CreateRevision) == r.Token && kvs[0].Lease != 0 {
						ids[i] = clientv3.LeaseID(kvs[0].Lease)
					}
				}
			}
		})
	}
	wg.Wait()
}

// adopt renews r's key, found held by r's token on etcd lease from, not
// this Dict's: taken through another Dict, whose deadline for the key this
// renewal cannot move. So the key moves to this Dict, onto its holder's
// etcd lease here (moveHeld), and the other Dict's sweep, which deletes a
// key only on its own etcd lease, leaves it alone.
func (d *Dict) adopt(ctx context.Context, r *ngxtasks.Renewal, from clientv3.LeaseID) (bool, error) {
	resp, err := d.client.Get(ctx, d.prefix+r.Key)
	if err != nil {
		return false, d.fail("renew", r.Key, err)
	}
	if len(resp.Kvs) == 0 || uint64(resp.Kvs[0].CreateRevision) != r.Token || clientv3.LeaseID(resp.Kvs[0].Lease) != from {
		return false, nil
	}
	return d.moveHeld(ctx, r, string(resp.Kvs[0].Value), from)
}

// Release implements ngxtasks.Leaser with one transaction,
//
//	If(CreateRevision(k) == token) Then(Delete(k))
//
// The etcd lease stays: it is the holder's, for its other keys.
func (d *Dict) Release(ctx context.Context, key string, token uint64) (bool, error) {
	if err := ngxtasks.CheckEntry(key, "", 1); err != nil {
		return false, err
	}
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	if token == 0 || token > 1<<63-1 {
		return false, nil // no revision: CreateRevision == 0 would match an absent key
	}
	k := d.prefix + key
	resp, err := d.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", int64(token))).
		Then(clientv3.OpDelete(k)).
		Commit()
	if err != nil {
		return false, d.fail("release", key, err)
	}
	if !resp.Succeeded || len(resp.Responses) < 1 || resp.Responses[0].GetResponseDeleteRange().GetDeleted() == 0 {
		return false, nil
	}
	d.holders.untrack(key, token)
	return true, nil
}
