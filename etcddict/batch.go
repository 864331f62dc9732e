package etcddict

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// AddBatch implements ngxtasks.BatchAdder. It sends the claims in
// transactions of up to WithMaxTxnOps claims each, WithConcurrency of them at
// once. A transaction is an unconditional outer Txn whose Then holds one
// nested Txn per claim (etcd 3.3 and later):
//
//	Txn().Then(
//	    Txn(If(CreateRevision(k1) == 0), Then(Put(k1, v1, lease1))),
//	    Txn(If(CreateRevision(k2) == 0), Then(Put(k2, v2, lease2))), ...)
//
// The server applies it atomically, and each nested Txn evaluates its own
// comparison and answers its own Succeeded: a per-key add-if-absent, as Add
// does, for many keys in one request, without one taken key failing the
// others. etcd refuses a transaction that puts one key twice, so a key
// repeated in a batch is sent once, by its first element; the others get
// Added false, or the first one's error. An element that fails validation
// gets its Err and is not sent. When the dictionary is closed or ctx has
// ended nothing is sent, every element gets that error, and AddBatch
// returns it.
func (d *Dict) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	if err := d.ready(ctx); err != nil {
		for i := range adds {
			adds[i].Added, adds[i].Err = false, err
		}
		return err
	}
	ctx, done := d.callCtx(ctx)
	defer done()
	first := make(map[string]int, len(adds))
	var send, dups []int
	for i := range adds {
		a := &adds[i]
		a.Added, a.Err = false, checkEntry(a.Key, a.Value, a.TTL)
		if a.Err != nil {
			continue
		}
		if _, seen := first[a.Key]; seen {
			dups = append(dups, i)
			continue
		}
		first[a.Key] = i
		send = append(send, i)
	}
	d.sendChunks(ctx, adds, send)
	for _, i := range dups {
		j := first[adds[i].Key]
		if adds[j].Err != nil {
			adds[i].Err = fmt.Errorf("etcddict: same key as element %d: %w", j, adds[j].Err)
		}
	}
	return nil
}

// sendChunks sends the elements idx in chunks, at most d.set.concurrency
// at once, and returns when all have answered.
func (d *Dict) sendChunks(ctx context.Context, adds []ngxtasks.Add, idx []int) {
	size := int(d.maxOps.Load())
	sem := make(chan struct{}, d.set.concurrency)
	var wg sync.WaitGroup
	for len(idx) > 0 {
		n := min(size, len(idx))
		chunk := idx[:n:n]
		idx = idx[n:]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.claimChunk(ctx, adds, chunk, 0)
		})
	}
	wg.Wait()
}

// claimChunk claims the elements idx in one transaction. When the server
// refuses it as too many operations or too large, it splits the chunk in
// two (at most log2 of its length times, depth counting them) and lowers
// the chunk size for later batches: a refused request stored nothing. A
// lease the server no longer knows is forgotten and the chunk tried once
// more with new ones.
func (d *Dict) claimChunk(ctx context.Context, adds []ngxtasks.Add, idx []int, depth int) {
	var err error
	for attempt := range 2 {
		var leases []*lease
		leases, err = d.chunkLeases(ctx, adds, idx)
		if err != nil {
			break
		}
		var resp *clientv3.TxnResponse
		resp, err = d.chunkTxn(ctx, adds, idx, leases)
		switch {
		case err == nil:
			d.chunkResults(adds, idx, leases, resp, time.Now())
			return
		case tooBig(err) && len(idx) > 1 && depth < 32:
			half := len(idx) / 2
			d.lowerMaxOps(half)
			d.claimChunk(ctx, adds, idx[:half:half], depth+1)
			d.claimChunk(ctx, adds, idx[half:], depth+1)
			return
		case errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0:
			d.leases.drop(leases...)
			continue
		}
		break
	}
	for _, i := range idx {
		adds[i].Added, adds[i].Err = false, d.fail("add batch", adds[i].Key, err)
	}
}

// chunkLeases takes a lease for each element of a chunk; claims of one ttl
// share one.
func (d *Dict) chunkLeases(ctx context.Context, adds []ngxtasks.Add, idx []int) ([]*lease, error) {
	leases := make([]*lease, len(idx))
	for j, i := range idx {
		l, err := d.leases.get(ctx, adds[i].TTL)
		if err != nil {
			return nil, err
		}
		leases[j] = l
	}
	return leases, nil
}

// chunkTxn sends a chunk's transaction, with the deadline after which an
// answer could no longer prove that every key lives its ttl.
func (d *Dict) chunkTxn(ctx context.Context, adds []ngxtasks.Add, idx []int, leases []*lease) (*clientv3.TxnResponse, error) {
	ops := make([]clientv3.Op, len(idx))
	deadline := leases[0].answerBy(adds[idx[0]].TTL)
	for j, i := range idx {
		a := &adds[i]
		k := d.prefix + a.Key
		ops[j] = clientv3.OpTxn(
			[]clientv3.Cmp{absent(k)},
			[]clientv3.Op{clientv3.OpPut(k, a.Value, clientv3.WithLease(leases[j].id))},
			nil)
		if end := leases[j].answerBy(a.TTL); end.Before(deadline) {
			deadline = end
		}
	}
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return d.client.Txn(cctx).Then(ops...).Commit()
}

// chunkResults reads each nested transaction's answer. One missing or of
// another kind leaves unknown whether its key was stored: an error.
func (d *Dict) chunkResults(adds []ngxtasks.Add, idx []int, leases []*lease, resp *clientv3.TxnResponse, now time.Time) {
	for j, i := range idx {
		a := &adds[i]
		if j >= len(resp.Responses) || resp.Responses[j].GetResponseTxn() == nil {
			a.Err = d.fail("add batch", a.Key, fmt.Errorf("no answer for element %d of %d (got %d)", j, len(idx), len(resp.Responses)))
			continue
		}
		if !resp.Responses[j].GetResponseTxn().Succeeded {
			continue
		}
		if err := outlives(leases[j], a.TTL, now); err != nil {
			a.Err = d.fail("add batch", a.Key, err)
			continue
		}
		a.Added = true
	}
}

// tooBig reports the server's refusals of a transaction for its size,
// which it makes before applying anything.
func tooBig(err error) bool {
	return errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge)
}

func (d *Dict) lowerMaxOps(n int) {
	for range 8 {
		cur := d.maxOps.Load()
		if int64(n) >= cur || d.maxOps.CompareAndSwap(cur, int64(max(n, 1))) {
			return
		}
	}
}
