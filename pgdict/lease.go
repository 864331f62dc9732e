package pgdict

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ngxtasks/ngxtasks"
)

// rollbackMark starts the error that Lease's statement raises to undo a
// lease it took when the claim that came with it was refused: raising is
// the one way a single statement has to take back what its CTEs did.
const rollbackMark = "pgdict: lease undone, its claim was refused"

// leaseStatements sets the lease statements, on the quoted table leases.
// Expiry is by the server's clock_timestamp(), as the claims' is.
func (st *statements) leaseStatements(leases string) {
	st.leases = leases
	// A row is the key's token counter: it is never deleted while the
	// dictionary is in use, and a release only ends it (expires
	// '-infinity').
	st.createLease = `CREATE TABLE IF NOT EXISTS ` + leases + ` (
	key     text COLLATE "C" PRIMARY KEY,
	holder  text NOT NULL,
	token   bigint NOT NULL,
	expires timestamptz NOT NULL
)`
	// $1 key, $2 holder, $3 ttl (µs); the claim: $4 key ('' for none),
	// $5 value, $6 ttl (µs).
	//
	// pre skips the takeover when the claim is live in the statement's
	// snapshot, which is the common refusal and needs no undo. taken is
	// the lease's add-if-absent: concurrent takers of a missing or expired
	// row wait on its index entry or row lock, and under READ COMMITTED the
	// losers re-check the WHERE on the winner's row and take nothing.
	// claimed is the claim's insert, made only from taken's row; if it is
	// refused all the same (a claim added after the snapshot), the
	// final SELECT raises an error, which undoes the statement, taken's
	// token included. h is the holder in the snapshot, for a refusal.
	st.lease = `WITH pre AS (
	SELECT $4::text = '' OR NOT EXISTS (
		SELECT 1 FROM ` + st.table + ` WHERE key = $4::text AND expires_at > clock_timestamp()
	) AS free
), taken AS (
	INSERT INTO ` + leases + ` AS l (key, holder, token, expires)
	SELECT $1::text, $2::text, 1, ` + expiresAt(`$3::bigint`) + ` FROM pre WHERE pre.free
	ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, token = l.token + 1, expires = excluded.expires
	WHERE l.expires <= clock_timestamp()
	RETURNING l.token
), claimed AS (
	INSERT INTO ` + st.table + ` AS c (key, value, expires_at)
	SELECT $4::text, $5::text, ` + expiresAt(`$6::bigint`) + ` FROM taken WHERE $4::text <> ''` + takeOver + `
	RETURNING true AS added
)
SELECT CASE WHEN t.token IS NOT NULL AND $4::text <> '' AND cl.added IS NULL
		THEN ('` + rollbackMark + `: token ' || t.token)::bigint
		ELSE t.token END,
	pre.free, h.holder, h.token
FROM pre
LEFT JOIN taken t ON true
LEFT JOIN claimed cl ON true
LEFT JOIN ` + leases + ` h ON h.key = $1::text AND h.expires > clock_timestamp()`
	st.holder = `SELECT holder, token FROM ` + leases + ` WHERE key = $1 AND expires > clock_timestamp()`
	// A renewal is matched on key and token, so a renewal by any other
	// token finds no row. $1 keys, $2 tokens, $3 ttls (µs).
	st.renew = `UPDATE ` + leases + ` AS l SET expires = ` + expiresAt(`r.t`) + `
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(k, tok, t)
WHERE l.key = r.k AND l.token = r.tok AND l.expires > clock_timestamp()
RETURNING l.key, l.token`
	st.release = `UPDATE ` + leases + ` SET holder = '', expires = '-infinity'
WHERE key = $1 AND token = $2 AND expires > clock_timestamp()`
}

// leaseReady is ready, for a dictionary that may have no leases' table.
func (d *Dict) leaseReady(ctx context.Context) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	return d.sql.noLeases
}

// Lease implements ngxtasks.Leaser with one statement, the lease and its
// claim together (see the package documentation).
func (d *Dict) Lease(ctx context.Context, req *ngxtasks.LeaseRequest) error {
	if err := ngxtasks.CheckLease(req); err != nil {
		return err
	}
	if err := checkAdd(req.Key, req.Holder, req.TTL); err != nil {
		return err
	}
	c := &req.Claim
	if c.Key != "" {
		if err := checkAdd(c.Key, c.Value, c.TTL); err != nil {
			return err
		}
	}
	if err := d.leaseReady(ctx); err != nil {
		return err
	}
	req.Acquired, req.Token, req.HeldBy, c.Added = false, 0, "", false
	var (
		token, heldToken *int64
		free             bool
		holder           *string
	)
	err := d.pool.QueryRow(ctx, d.sql.lease, req.Key, req.Holder, micros(req.TTL), c.Key, c.Value, micros(c.TTL)).
		Scan(&token, &free, &holder, &heldToken)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &pgErr) && strings.Contains(pgErr.Message, rollbackMark):
		return nil // the lease was free, the claim not: neither was taken
	default:
		return d.fail("lease", req.Key, err)
	}
	switch {
	case token != nil:
		req.Acquired, req.Token, c.Added = true, uint64(*token), c.Key != ""
	case holder != nil:
		req.HeldBy, req.Token = *holder, uint64(*heldToken)
	case free:
		// Taken by another since the snapshot: ask who holds it now. The
		// lease may have ended since, which looks like a free lease.
		err := d.pool.QueryRow(ctx, d.sql.holder, req.Key).Scan(&holder, &heldToken)
		switch {
		case err == nil:
			req.HeldBy, req.Token = *holder, uint64(*heldToken)
		case !errors.Is(err, pgx.ErrNoRows):
			return d.fail("lease holder", req.Key, err)
		}
	}
	return nil
}

// Renew implements ngxtasks.Leaser with one UPDATE over unnest of the keys,
// tokens and ttls. Elements that fail validation get their Err and are not
// sent; a (key, token) repeated is sent once and every copy gets its
// answer. When the statement fails, every element sent gets the error: it
// may have committed. When the dictionary is closed or ctx has ended,
// nothing is sent, every element gets that error, and Renew returns it.
func (d *Dict) Renew(ctx context.Context, renewals []ngxtasks.Renewal) error {
	if err := d.leaseReady(ctx); err != nil {
		for i := range renewals {
			renewals[i].Renewed, renewals[i].Err = false, err
		}
		return err
	}
	type held struct {
		key   string
		token uint64
	}
	first := make(map[held]int, len(renewals)) // -> index of the element sent
	sent := make([]int, 0, len(renewals))
	for i := range renewals {
		r := &renewals[i]
		r.Renewed, r.Err = false, checkAdd(r.Key, "", r.TTL)
		if r.Err != nil {
			continue
		}
		if _, dup := first[held{r.Key, r.Token}]; !dup {
			first[held{r.Key, r.Token}] = i
			sent = append(sent, i)
		}
	}
	if len(sent) == 0 {
		return nil
	}
	// One lock order for every batch, as AddBatch: no deadlock between them.
	slices.SortFunc(sent, func(i, j int) int { return strings.Compare(renewals[i].Key, renewals[j].Key) })
	keys := make([]string, len(sent))
	tokens := make([]int64, len(sent))
	ttls := make([]int64, len(sent))
	for n, i := range sent {
		// A token above the bigint range was never handed out; as int64 it
		// is negative and matches no row.
		keys[n], tokens[n], ttls[n] = renewals[i].Key, int64(renewals[i].Token), micros(renewals[i].TTL)
	}
	err := func() error {
		rows, err := d.pool.Query(ctx, d.sql.renew, keys, tokens, ttls)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			k string
			t int64
		)
		for rows.Next() {
			if err := rows.Scan(&k, &t); err != nil {
				return err
			}
			renewals[first[held{k, uint64(t)}]].Renewed = true
		}
		return rows.Err()
	}()
	if err != nil {
		err = d.fail("renew", "", err)
		for _, i := range sent {
			renewals[i].Renewed, renewals[i].Err = false, err
		}
	}
	for i := range renewals {
		r := &renewals[i]
		if j, ok := first[held{r.Key, r.Token}]; ok && j != i && r.Err == nil {
			r.Renewed, r.Err = renewals[j].Renewed, renewals[j].Err
		}
	}
	return nil
}

// Release implements ngxtasks.Leaser: it ends the lease if token holds it,
// keeping the row, whose token the next taking counts on from.
func (d *Dict) Release(ctx context.Context, key string, token uint64) (bool, error) {
	if err := checkAdd(key, "", 1); err != nil {
		return false, err
	}
	if err := d.leaseReady(ctx); err != nil {
		return false, err
	}
	tag, err := d.pool.Exec(ctx, d.sql.release, key, int64(token))
	if err != nil {
		return false, d.fail("release", key, err)
	}
	return tag.RowsAffected() == 1, nil
}
