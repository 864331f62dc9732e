package sqlitedict

import (
	"context"
	"fmt"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// AddBatch implements ngxtasks.BatchAdder: every valid element is claimed in
// one transaction, so the batch costs one lock and one commit. If the
// transaction fails, none of its claims stored, and each element says so in
// its Err.
func (d *Dict) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	if err := d.ready(ctx); err != nil {
		for i := range adds {
			adds[i].Added, adds[i].Err = false, err
		}
		return err
	}
	valid := 0
	for i := range adds {
		a := &adds[i]
		a.Added, a.Err = false, nil
		if err := ngxtasks.CheckEntry(a.Key, a.Value, a.TTL); err != nil {
			a.Err = fmt.Errorf("sqlitedict: add: %w", err)
			continue
		}
		valid++
	}
	if valid == 0 {
		return nil
	}
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		err = d.fail(ctx, "batch", err)
		for i := range adds {
			if adds[i].Err == nil {
				adds[i].Err = err
			}
		}
		return err
	}
	stmt, err := tx.PrepareContext(ctx, d.sql.claim)
	if err == nil {
		err = d.claimAll(ctx, stmt.ExecContext, adds)
		_ = stmt.Close()
	}
	if err == nil {
		err = tx.Commit()
	} else {
		_ = tx.Rollback()
	}
	if err != nil {
		err = d.fail(ctx, "batch", err)
		for i := range adds {
			if adds[i].Err == nil {
				adds[i].Added, adds[i].Err = false, err
			}
		}
	}
	return nil
}

// claimAll runs the claim for every element without an Err, recording
// whether each stored, and stops at the first failure.
func (d *Dict) claimAll(ctx context.Context, exec execFunc, adds []ngxtasks.Add) error {
	now := time.Now().UnixNano()
	for i := range adds {
		a := &adds[i]
		if a.Err != nil {
			continue
		}
		res, err := exec(ctx, a.Key, a.Value, expiry(now, a.TTL), now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		a.Added = n == 1
	}
	return nil
}
