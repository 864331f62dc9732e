package sqlitedict

import (
	"fmt"
	"strings"
)

type queries struct {
	create                    []string
	claim, set, get, cleanupQ string

	// Leases: see lease.go.
	leaseTake, leaseHeld, renew, release string
	// triggers are created after the tables and leaseColumns.
	triggers []string
	// leases and leaseColumns: the leases table, and the take's columns,
	// which setup adds to a table made without them.
	leases       string
	leaseColumns []string
}

// claimRefused is the message of the RAISE by which the leases table's
// triggers undo a take whose claim is refused.
const claimRefused = "ngxtasks: claim refused"

// statements builds the SQL for a table whose name Table has checked.
func statements(table string) queries {
	t := `"` + table + `"`
	l := `"` + table + `_leases"`
	// Set's statement, ?1 key, ?2 value, ?3 expiry: it stores the entry
	// whatever the key holds. A claim is the same, taking the row over only
	// if it has expired by ?4, now.
	set := `INSERT INTO ` + t + ` AS c (key, value, expires_at) VALUES (?1, ?2, ?3)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`
	return queries{
		create: []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
				key        TEXT PRIMARY KEY,
				value      TEXT NOT NULL,
				expires_at INTEGER NOT NULL
			) WITHOUT ROWID`,
			`CREATE INDEX IF NOT EXISTS "` + table + `_expires" ON ` + t + ` (expires_at)`,
			// A row per key ever leased, kept after its lease ends: its
			// token column is the key's fencing counter. taken_at and
			// claim_* are the last take's: its time, and the slot's claim
			// made with it, if any, which the triggers below add.
			`CREATE TABLE IF NOT EXISTS ` + l + ` (
				key              TEXT PRIMARY KEY,
				holder           TEXT NOT NULL,
				token            INTEGER NOT NULL,
				expires_at       INTEGER NOT NULL,
				taken_at         INTEGER,
				claim_key        TEXT,
				claim_value      TEXT,
				claim_expires_at INTEGER
			) WITHOUT ROWID`,
		},
		// A take (an insert of a new key, or an update of its token)
		// with a claim adds the claim as Add's statement would, in the
		// take's own statement, so under the same write lock and in the
		// same implicit transaction; a live claim aborts the statement,
		// and with it the take. Renew and Release update no token, so
		// they fire neither.
		triggers: []string{
			leaseTrigger(t, l, "insert", "INSERT"),
			leaseTrigger(t, l, "take", "UPDATE OF token"),
		},
		leases:       l,
		leaseColumns: []string{"taken_at INTEGER", "claim_key TEXT", "claim_value TEXT", "claim_expires_at INTEGER"},
		claim: set + `
			WHERE c.expires_at <= ?4`,
		set: set,
		get: `SELECT value FROM ` + t + ` WHERE key = ?1 AND expires_at > ?2`,
		// ?1 key, ?2 holder, ?3 expiry, ?4 now, ?5 ?6 ?7 the claim's key
		// (NULL: none), value and expiry: a new key starts at token 1; an
		// expired or released lease passes to the holder under the next
		// token. No row comes back while another holds it.
		leaseTake: `INSERT INTO ` + l + ` AS l (key, holder, token, expires_at, taken_at, claim_key, claim_value, claim_expires_at)
			VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7)
			ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, token = l.token + 1, expires_at = excluded.expires_at,
				taken_at = excluded.taken_at, claim_key = excluded.claim_key, claim_value = excluded.claim_value,
				claim_expires_at = excluded.claim_expires_at
			WHERE l.expires_at <= ?4
			RETURNING token`,
		leaseHeld: `SELECT holder, token FROM ` + l + ` WHERE key = ?1`,
		// ?1 key, ?2 token, ?3 new expiry (release: 0, expired), ?4 now.
		renew:   `UPDATE ` + l + ` SET expires_at = ?3 WHERE key = ?1 AND token = ?2 AND expires_at > ?4`,
		release: `UPDATE ` + l + ` SET expires_at = 0, holder = '' WHERE key = ?1 AND token = ?2 AND expires_at > ?3`,
		cleanupQ: fmt.Sprintf(`DELETE FROM %s WHERE key IN (SELECT key FROM %s WHERE expires_at <= ?1 LIMIT %d)`,
			t, t, cleanupLimit),
	}
}

// leaseTrigger is the trigger that adds a take's claim, after event on the
// leases table l, into the claims table t: Add's statement on NEW's
// claim_* columns, then a RAISE when it changed no row (changes() counts
// the trigger's own last statement), which aborts the whole statement.
func leaseTrigger(t, l, name, event string) string {
	return `CREATE TRIGGER IF NOT EXISTS "` + strings.Trim(l, `"`) + `_` + name + `" AFTER ` + event + ` ON ` + l + `
		WHEN NEW.claim_key IS NOT NULL
		BEGIN
			INSERT INTO ` + t + ` AS c (key, value, expires_at) VALUES (NEW.claim_key, NEW.claim_value, NEW.claim_expires_at)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
			WHERE c.expires_at <= NEW.taken_at;
			SELECT RAISE(ABORT, '` + claimRefused + `') WHERE changes() = 0;
		END`
}
