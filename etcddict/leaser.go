package etcddict

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Lease implements ngxtasks.Leaser. It grants an etcd lease of its own for
// the lease key (ceil(TTL) seconds: renewing one key must not extend
// another's), then sends one transaction:
//
//	If(CreateRevision(lk) == 0 [, CreateRevision(ck) == 0])
//	Then(Put(lk, holder, WithLease(own)) [, Put(ck, value, WithLease(pooled))])
//	Else(Get(lk))
//
// The token is the transaction's revision, which is lk's CreateRevision. A
// refused request revokes the lease it granted. The Grant must come first,
// since the Put names the lease; so a taking costs two round trips.
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
	own, err := d.grantOwn(ctx, req.TTL)
	if err != nil {
		return d.fail("lease", req.Key, err)
	}
	defer func() {
		if !req.Acquired {
			d.revoke(ctx, "lease", req.Key, own)
		}
	}()
	if req.Claim.Key == "" {
		_, err = d.takeLease(ctx, req, own, nil)
		return err
	}
	_, err = d.withLease(ctx, "lease", req.Key, req.Claim.TTL, func(l *lease) (bool, error) {
		return d.takeLease(ctx, req, own, l)
	})
	return err
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

// grantOwn grants a lease key its own etcd lease of ttl rounded up to whole
// seconds. The server counts it from the grant, a round trip before the
// key is put.
func (d *Dict) grantOwn(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	resp, err := d.client.Grant(ctx, ceilSeconds(ttl))
	if err != nil {
		return 0, err
	}
	return resp.ID, nil
}

// takeLease sends Lease's transaction; claim is the pooled lease of the
// claim asked for, or nil. It returns rpctypes.ErrLeaseNotFound as it is,
// for withLease to retry with another pooled lease.
func (d *Dict) takeLease(ctx context.Context, req *ngxtasks.LeaseRequest, own clientv3.LeaseID, claim *lease) (bool, error) {
	lk := d.prefix + req.Key
	ifs := []clientv3.Cmp{absent(lk)}
	thens := []clientv3.Op{clientv3.OpPut(lk, req.Holder, clientv3.WithLease(own))}
	if claim != nil {
		ck := d.prefix + req.Claim.Key
		ifs = append(ifs, absent(ck))
		thens = append(thens, clientv3.OpPut(ck, req.Claim.Value, clientv3.WithLease(claim.id)))
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, claim.answerBy(req.Claim.TTL))
		defer cancel()
	}
	resp, err := d.client.Txn(ctx).If(ifs...).Then(thens...).Else(clientv3.OpGet(lk)).Commit()
	if err != nil {
		if claim != nil && errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return false, err
		}
		return false, d.fail("lease", req.Key, err)
	}
	if !resp.Succeeded {
		if len(resp.Responses) > 0 {
			if r := resp.Responses[0].GetResponseRange(); r != nil && len(r.Kvs) > 0 {
				req.HeldBy, req.Token = string(r.Kvs[0].Value), uint64(r.Kvs[0].CreateRevision)
			}
		}
		return false, nil
	}
	if claim != nil {
		// As Add: a claim stored too late to prove its life is an error, and
		// the lease goes with it (revoked by Lease).
		if err := outlives(claim, req.Claim.TTL, time.Now()); err != nil {
			return false, d.fail("lease", req.Claim.Key, err)
		}
		req.Claim.Added = true
	}
	req.Acquired, req.Token = true, uint64(resp.Header.Revision)
	return true, nil
}

// revoke ends an etcd lease, deleting the lease key it holds, if any. It
// is best effort: the lease ends by itself with its TTL, so an error is
// logged, not returned. It runs even when ctx has ended.
func (d *Dict) revoke(ctx context.Context, op, key string, id clientv3.LeaseID) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.set.grantTimeout)
	defer cancel()
	if _, err := d.client.Revoke(rctx, id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		log := ngxtasks.LoggerFrom(ctx)
		if log == nil {
			log = slog.Default()
		}
		log.Warn("etcddict: revoking a lease failed; it ends with its TTL", "op", op, "key", key, "lease", fmt.Sprintf("%x", int64(id)), "err", err)
	}
}

// Renew implements ngxtasks.Leaser. It reads every renewal's key in one
// transaction of Gets (one per WithMaxTxnOps keys, sent together), checks
// that its CreateRevision is still the token, and then renews the key's
// etcd lease with KeepAliveOnce, all at once. etcd has no request that
// renews several leases: each KeepAliveOnce is a gRPC stream of its own,
// multiplexed on the one connection, so the renewals take one round-trip
// time together, not one round trip. A lease granted shorter than the
// renewal's TTL cannot be lengthened: the key then moves to a new lease of
// the TTL (one more Grant and transaction, the token unchanged).
func (d *Dict) Renew(ctx context.Context, renewals []ngxtasks.Renewal) error {
	if err := d.ready(ctx); err != nil {
		for i := range renewals {
			renewals[i].Renewed, renewals[i].Err = false, err
		}
		return err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	var idx []int
	for i := range renewals {
		r := &renewals[i]
		r.Renewed, r.Err = false, checkEntry(r.Key, "", r.TTL)
		if r.Err == nil {
			idx = append(idx, i)
		}
	}
	ids := make([]clientv3.LeaseID, len(renewals)) // 0: not to renew
	d.readRenewals(ctx, renewals, idx, ids, 0)
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxKeepAlives)
	for _, i := range idx {
		if ids[i] == 0 {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			renewals[i].Renewed, renewals[i].Err = d.renewOne(ctx, &renewals[i], ids[i])
		})
	}
	wg.Wait()
	return nil
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

// renewOne renews the etcd lease id of r's key, found held by r's token. A
// lease that has ended since was not renewed. One granted shorter than r's
// TTL moves the key to a new lease (moveLease).
func (d *Dict) renewOne(ctx context.Context, r *ngxtasks.Renewal, id clientv3.LeaseID) (bool, error) {
	resp, err := d.client.KeepAliveOnce(ctx, id)
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return false, nil
	case err != nil:
		return false, d.fail("renew", r.Key, err)
	case resp.TTL <= 0:
		return false, nil
	case resp.TTL >= ceilSeconds(r.TTL):
		return true, nil
	}
	return d.moveLease(ctx, r, id)
}

// moveLease puts r's key, still held by r's token, on a new etcd lease of
// r's TTL, keeping its value and so its CreateRevision (the token), and
// revokes the old lease; or revokes the new one if the token no longer
// holds the key.
func (d *Dict) moveLease(ctx context.Context, r *ngxtasks.Renewal, old clientv3.LeaseID) (bool, error) {
	id, err := d.grantOwn(ctx, r.TTL)
	if err != nil {
		return false, d.fail("renew", r.Key, err)
	}
	k := d.prefix + r.Key
	resp, err := d.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", int64(r.Token))).
		Then(clientv3.OpPut(k, "", clientv3.WithIgnoreValue(), clientv3.WithLease(id))).
		Commit()
	if err != nil || !resp.Succeeded {
		d.revoke(ctx, "renew", r.Key, id)
		if err != nil {
			return false, d.fail("renew", r.Key, err)
		}
		return false, nil
	}
	d.revoke(ctx, "renew", r.Key, old)
	return true, nil
}

// Release implements ngxtasks.Leaser with one transaction,
//
//	If(CreateRevision(k) == token) Then(Get(k), Delete(k))
//
// and then revokes the key's etcd lease, best effort: the release has
// happened, and the lease would end by itself.
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
		Then(clientv3.OpGet(k, clientv3.WithKeysOnly()), clientv3.OpDelete(k)).
		Commit()
	if err != nil {
		return false, d.fail("release", key, err)
	}
	if !resp.Succeeded || len(resp.Responses) < 2 || resp.Responses[1].GetResponseDeleteRange().GetDeleted() == 0 {
		return false, nil
	}
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 && kvs[0].Lease != 0 {
		d.revoke(ctx, "release", key, clientv3.LeaseID(kvs[0].Lease))
	}
	return true, nil
}
