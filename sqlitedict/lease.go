package sqlitedict

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// Lease implements ngxtasks.Leaser in one statement, so one implicit
// write transaction: the lease's take, whose triggers add the claim and
// abort the statement when the claim is refused (see statements). Both
// happen under the file's write lock, and neither is stored without the
// other, whichever process asks. Only when another holds the lease is the
// take made again, in a transaction that then reads who holds it, so that
// the answer is one moment's.
func (d *Dict) Lease(ctx context.Context, req *ngxtasks.LeaseRequest) error {
	if err := ngxtasks.CheckLease(req); err != nil {
		return fmt.Errorf("sqlitedict: lease: %w", err)
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	req.Acquired, req.Token, req.HeldBy, req.Claim.Added = false, 0, "", false
	held, err := d.take1(ctx, d.take, req)
	if err != nil {
		return d.fail(ctx, "lease", err)
	}
	if !held {
		return nil
	}
	_, err = d.inTx(ctx, func(tx *sql.Tx) (bool, error) {
		held, err := d.take1(ctx, tx.StmtContext(ctx, d.take), req)
		if !held || err != nil {
			return err == nil, err
		}
		var holder string
		var token int64
		if err := tx.QueryRowContext(ctx, d.sql.leaseHeld, req.Key).Scan(&holder, &token); err != nil {
			return false, err
		}
		req.Token, req.HeldBy = uint64(token), holder
		return false, nil
	})
	if err != nil {
		req.Acquired, req.Token, req.HeldBy, req.Claim.Added = false, 0, "", false
		return d.fail(ctx, "lease", err)
	}
	return nil
}

// take1 runs the take statement for req, setting its Acquired, Token and
// Claim.Added, and reports whether another held the lease. An error is
// the driver's.
func (d *Dict) take1(ctx context.Context, take *sql.Stmt, req *ngxtasks.LeaseRequest) (held bool, err error) {
	now := time.Now().UnixNano()
	var claimKey, claimValue, claimExpiry any // NULL: no claim
	if req.Claim.Key != "" {
		claimKey, claimValue, claimExpiry = req.Claim.Key, req.Claim.Value, expiry(now, req.Claim.TTL)
	}
	var token int64
	// Prepared once (OpenFile): parsing the statement anew cost more
	// than its steps.
	err = take.QueryRowContext(ctx, req.Key, req.Holder, expiry(now, req.TTL), now,
		claimKey, claimValue, claimExpiry).Scan(&token)
	switch {
	case err == nil:
		req.Acquired, req.Token, req.Claim.Added = true, uint64(token), req.Claim.Key != ""
		return false, nil
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	case strings.Contains(err.Error(), claimRefused):
		return false, nil // the lease was free: the claim alone was refused
	}
	return false, err
}

// Renew implements ngxtasks.Leaser: every valid renewal runs in one
// transaction, one lock and one commit for all of them, as AddBatch's
// claims do. If the transaction fails, none is renewed, and each says so
// in its Err.
func (d *Dict) Renew(ctx context.Context, renewals []ngxtasks.Renewal) error {
	if err := d.ready(ctx); err != nil {
		for i := range renewals {
			renewals[i].Renewed, renewals[i].Err = false, err
		}
		return err
	}
	valid := 0
	for i := range renewals {
		r := &renewals[i]
		r.Renewed, r.Err = false, nil
		if err := ngxtasks.CheckEntry(r.Key, "", r.TTL); err != nil {
			r.Err = fmt.Errorf("sqlitedict: renew: %w", err)
			continue
		}
		valid++
	}
	if valid == 0 {
		return nil
	}
	now := time.Now().UnixNano()
	began, err := d.inTx(ctx, func(tx *sql.Tx) (bool, error) {
		stmt, err := tx.PrepareContext(ctx, d.sql.renew)
		if err != nil {
			return false, err
		}
		defer stmt.Close()
		for i := range renewals {
			r := &renewals[i]
			token, ok := dbToken(r.Token)
			if r.Err != nil || !ok {
				continue
			}
			res, err := stmt.ExecContext(ctx, r.Key, token, expiry(now, r.TTL), now)
			if err != nil {
				return false, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return false, err
			}
			r.Renewed = n == 1
		}
		return true, nil
	})
	if err != nil {
		err = d.fail(ctx, "renew", err)
		for i := range renewals {
			if renewals[i].Err == nil {
				renewals[i].Renewed, renewals[i].Err = false, err
			}
		}
		if !began {
			return err
		}
	}
	return nil
}

// Release implements ngxtasks.Leaser with one conditional UPDATE. The row
// stays, expired, so that the key's next token follows this one.
func (d *Dict) Release(ctx context.Context, key string, token uint64) (bool, error) {
	if err := ngxtasks.CheckEntry(key, "", 1); err != nil {
		return false, fmt.Errorf("sqlitedict: release: %w", err)
	}
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	t, ok := dbToken(token)
	if !ok {
		return false, nil
	}
	res, err := d.w.ExecContext(ctx, d.sql.release, key, t, time.Now().UnixNano())
	if err != nil {
		return false, d.fail(ctx, "release", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, d.fail(ctx, "release", err)
	}
	return n == 1, nil
}

// dbToken converts a token to SQLite's int64. Tokens start at 1 and grow
// by one per taking of a key, so no stored token is 0 or above
// math.MaxInt64 (2^63-1 takings of one key: unreachable), and a token
// outside that range holds nothing.
func dbToken(token uint64) (int64, bool) {
	return int64(token), token != 0 && token <= math.MaxInt64
}
