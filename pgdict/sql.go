package pgdict

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultTable is the table used when none is named.
const DefaultTable = "ngxtasks_claims"

// Rows deleted per cleanup statement, and how long a cleanup round may go
// on: a round's work is bounded however many rows have expired, and short
// statements do not hold up claims.
const (
	cleanupLimit  = 1000
	cleanupBudget = 5 * time.Second
)

// statements holds the SQL for one table.
type statements struct {
	table   string // quoted, possibly schema-qualified
	create  string
	claim   string
	batch   string
	set     string
	get     string
	cleanup string

	// Leases (lease.go), in a table of their own named after the claims'.
	// noLeases, when set, is why there are none: every lease call returns
	// it, and claims work as before.
	leases      string // quoted
	createLease string
	lease       string
	holder      string
	renew       string
	release     string
	noLeases    error
}

// leaseSuffix names the leases' table after the claims': "claims" keeps its
// leases in "claims_leases", in the same schema.
const leaseSuffix = "_leases"

// quoteTable checks a table name, "name" or "schema.name", and quotes it.
// Only plain identifiers are accepted, so that the name cannot change the
// statements it is put in and means the same in every worker.
func quoteTable(name string) (string, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("%w: table %q: at most one dot (schema.table)", ErrBadConfig, name)
	}
	for _, p := range parts {
		if !isIdentifier(p) {
			return "", fmt.Errorf("%w: table %q: each part must be 1 to 63 letters, digits or underscores, not starting with a digit", ErrBadConfig, name)
		}
	}
	return pgx.Identifier(parts).Sanitize(), nil
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 63 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// expiresAt is the expiry of an entry whose ttl, in microseconds, is the
// bigint micros: ttl from now by the server's clock. Add, AddBatch and Set
// store it.
func expiresAt(micros string) string {
	return `clock_timestamp() + ` + micros + ` * interval '1 microsecond'`
}

// overwrite is the conflict clause of Set: the row takes the new value and
// expiry whatever it held.
const overwrite = `
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`

// The claim's conflict clause, shared by Add and AddBatch: take the row over
// only if its claim has expired, by the server's clock.
const takeOver = overwrite + `
WHERE c.expires_at <= clock_timestamp()`

// newStatements returns the statements of the quoted table; name is the
// table's name as given, from which the leases' table is named.
func newStatements(name, table string) statements {
	// One entry, $1 key, $2 value, $3 ttl in microseconds: Add's and Set's.
	insert := `INSERT INTO ` + table + ` AS c (key, value, expires_at)
VALUES ($1, $2, ` + expiresAt(`$3::bigint`) + `)`
	st := statements{
		table: table,
		// The "C" collation compares keys as bytes: equality is all a claim
		// needs, and the primary key's comparisons cost less than under a
		// language's collation.
		create: `CREATE TABLE IF NOT EXISTS ` + table + ` (
	key        text COLLATE "C" PRIMARY KEY,
	value      text NOT NULL,
	expires_at timestamptz NOT NULL
)`,
		claim: insert + takeOver + `
RETURNING true`,
		batch: `INSERT INTO ` + table + ` AS c (key, value, expires_at)
SELECT b.k, b.v, ` + expiresAt(`b.t`) + `
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS b(k, v, t)` + takeOver + `
RETURNING c.key`,
		set: insert + overwrite,
		get: `SELECT value FROM ` + table + ` WHERE key = $1 AND expires_at > clock_timestamp()`,
		// SKIP LOCKED leaves rows that a takeover is updating; the outer
		// condition is checked again on the row as it is when deleted.
		cleanup: `DELETE FROM ` + table + ` WHERE key IN (
	SELECT key FROM ` + table + ` WHERE expires_at <= clock_timestamp()
	LIMIT ` + fmt.Sprint(cleanupLimit) + ` FOR UPDATE SKIP LOCKED
) AND expires_at <= clock_timestamp()`,
	}
	leases, err := quoteTable(name + leaseSuffix)
	if err != nil {
		// A name that was fine for claims but too long to take the suffix
		// must not stop a worker that does not lease.
		st.noLeases = fmt.Errorf("pgdict: no leases: the table name %q is too long to name its leases' table %q after it (at most %d characters): %w",
			name, name+leaseSuffix, 63-len(leaseSuffix), err)
		return st
	}
	st.leaseStatements(leases)
	return st
}
