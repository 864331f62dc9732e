package sqlitedict

import "fmt"

type queries struct {
	create                    []string
	claim, set, get, cleanupQ string

	// Leases: see lease.go.
	leaseTake, leaseHeld, renew, release string
}

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
			// token column is the key's fencing counter.
			`CREATE TABLE IF NOT EXISTS ` + l + ` (
				key        TEXT PRIMARY KEY,
				holder     TEXT NOT NULL,
				token      INTEGER NOT NULL,
				expires_at INTEGER NOT NULL
			) WITHOUT ROWID`,
		},
		claim: set + `
			WHERE c.expires_at <= ?4`,
		set: set,
		get: `SELECT value FROM ` + t + ` WHERE key = ?1 AND expires_at > ?2`,
		// ?1 key, ?2 holder, ?3 expiry, ?4 now: a new key starts at token
		// 1; an expired or released lease passes to the holder under the
		// next token. No row comes back while another holds it.
		leaseTake: `INSERT INTO ` + l + ` AS l (key, holder, token, expires_at) VALUES (?1, ?2, 1, ?3)
			ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, token = l.token + 1, expires_at = excluded.expires_at
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
