package sqlitedict

import "fmt"

type queries struct {
	create                    []string
	claim, set, get, cleanupQ string
}

// statements builds the SQL for a table whose name Table has checked.
func statements(table string) queries {
	t := `"` + table + `"`
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
		},
		claim: set + `
			WHERE c.expires_at <= ?4`,
		set: set,
		get: `SELECT value FROM ` + t + ` WHERE key = ?1 AND expires_at > ?2`,
		cleanupQ: fmt.Sprintf(`DELETE FROM %s WHERE key IN (SELECT key FROM %s WHERE expires_at <= ?1 LIMIT %d)`,
			t, t, cleanupLimit),
	}
}
