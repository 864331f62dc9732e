package sqlitedict

import (
	"context"
	"database/sql"
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
	began, err := d.inTx(ctx, func(tx *sql.Tx) (bool, error) {
		stmt, err := tx.PrepareContext(ctx, d.sql.claim)
		if err != nil {
			return false, err
		}
		defer stmt.Close()
		return true, d.claimAll(ctx, stmt.ExecContext, adds)
	})
	if err != nil {
		err = d.fail(ctx, "batch", err)
		for i := range adds {
			if adds[i].Err == nil {
				adds[i].Added, adds[i].Err = false, err
			}
		}
		if !began {
			return err
		}
	}
	return nil
}

// inTx runs fn in a write transaction, which BEGIN IMMEDIATE starts by
// taking the file's write lock (see openDB), and commits it if fn returns
// true and no error, rolling it back otherwise. began reports whether the
// transaction started, so whether anything was attempted.
func (d *Dict) inTx(ctx context.Context, fn func(*sql.Tx) (commit bool, err error)) (began bool, err error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	commit, err := fn(tx)
	if err == nil && commit {
		err = tx.Commit()
	} else {
		_ = tx.Rollback()
	}
	return true, err
}

// claimAll runs the claim for every element without an Err, recording
// whether each stored, and stops at the first failure.
func (d *Dict) claimAll(ctx context.Context, exec execFunc, adds []ngxtasks.Add) error {
	now := time.Now().UnixNano()
	for i := range adds {
		if adds[i].Err != nil {
			continue
		}
		if err := claimOne(ctx, exec, &adds[i], now); err != nil {
			return err
		}
	}
	return nil
}

// claimOne runs the claim statement (exec) for a at now, setting a.Added.
func claimOne(ctx context.Context, exec execFunc, a *ngxtasks.Add, now int64) error {
	res, err := exec(ctx, a.Key, a.Value, expiry(now, a.TTL), now)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	a.Added = n == 1
	return nil
}
