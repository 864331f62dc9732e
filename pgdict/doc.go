// Package pgdict is an ngxtasks dictionary kept in one PostgreSQL table.
//
// Importing it registers the URL schemes "postgres" and "postgresql" with
// ngxtasks.OpenDict; New uses a pgxpool.Pool the program already has.
//
// # The table
//
//	CREATE TABLE IF NOT EXISTS ngxtasks_claims (
//		key        text COLLATE "C" PRIMARY KEY,
//		value      text NOT NULL,
//		expires_at timestamptz NOT NULL
//	)
//
// It is created when missing (under an advisory lock, so that workers
// starting together do not race), with a name set by Table or the URL. Keys
// and values are text: they must be valid UTF-8 without NUL bytes, or Add
// refuses them (ngxtasks.ErrInvalidEntry) before reaching the server.
//
// # Store operations
//
// Add is one statement, so one round trip and one implicit transaction:
//
//	INSERT INTO t AS c (key, value, expires_at)
//	VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
//	ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
//	WHERE c.expires_at <= clock_timestamp()
//	RETURNING true
//
// It inserts the key, or takes over its row if that claim has expired, and
// returns a row exactly when it stored. Expiry is judged by the database
// server's clock alone, so the workers' clocks play no part. The primary key
// makes it atomic: of concurrent Adds of one key, one inserts and the others
// wait for it and then find a live row; of concurrent takeovers of an expired
// row, the first locks and updates it, and the others, under READ COMMITTED,
// re-check the WHERE against the updated row and store nothing. (Under a
// stricter default isolation level they fail with a serialization error
// instead, which is also safe.) The ttl is rounded up to a microsecond, the
// precision of timestamptz.
//
// Get selects the value of a row whose expires_at is still ahead.
//
// AddBatch (ngxtasks.BatchAdder) is the same statement over unnest of three
// arrays: one statement and round trip for the whole batch. ON CONFLICT
// cannot touch one row twice in a statement, so a key repeated in the batch
// is sent once, for its first occurrence, and the later ones report not
// stored. Keys are sent sorted, so that concurrent batches lock rows in one
// order and cannot deadlock each other.
//
// Set (ngxtasks.Setter) is Add's statement with the conflict clause's WHERE
// and RETURNING left out: it stores the key whatever its row holds, with the
// same expiry, by the server's clock.
//
// Now (ngxtasks.StoreClock) is SELECT clock_timestamp().
//
// Expired rows are deleted by a goroutine that Close stops, every minute by
// default (WithCleanupInterval), in statements of 1,000 rows until none is left
// or 5 s have passed, so the table holds about the live claims. Lease rows are
// never deleted (see Leases). Deleting an expired row changes
// nothing that Add or Get can observe.
//
// # Leases
//
// Dict implements ngxtasks.Leaser with a second table, named after the
// claims' with "_leases" appended, in the same schema, and created the same
// way (so a role without CREATE needs it made too; without it, or with a
// claims' table name too long to take the suffix, claims work and lease
// calls return an error saying why):
//
//	CREATE TABLE IF NOT EXISTS ngxtasks_claims_leases (
//		key     text COLLATE "C" PRIMARY KEY,
//		holder  text NOT NULL,
//		token   bigint NOT NULL,
//		expires timestamptz NOT NULL
//	)
//
// Lease is one statement, so one round trip and one implicit transaction:
// its lease is the INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE
// expires <= clock_timestamp() RETURNING token of Add, on the leases' table,
// setting token = token + 1 on takeover, and its claim is Add's INSERT,
// made from the lease's returned row. The primary key makes it atomic as it
// does Add: of sessions racing for a missing row one inserts and the others
// wait and find it live; of sessions racing for an expired row the first
// locks it and the others re-check the WHERE on its new version. A claim
// found live in the statement's snapshot stops the lease before it is
// taken; a claim added after the snapshot makes the statement raise an
// error that undoes it, so the lease is never taken without its claim, nor
// the claim added without the lease. A refusal names the holder the
// snapshot saw; one that took the lease after the snapshot is asked for in a
// second, read-only round trip, only then.
//
// The token counter is the lease's row: Release sets its expires to
// '-infinity' (and its holder to ""), and the cleanup deletes only the
// claims' table, so a key's row lives as long as the table, one row per
// lease key ever taken (one per rule). Tokens are bigint: they run from 1 to
// 2^63-1, after which taking that key fails with an error rather than
// wrapping round. Expiry, like the claims', is by the server's
// clock_timestamp(). Leases and tokens are committed rows: they survive a
// server restart, with the durability caveats below, and a lease held
// across a restart is held until its TTL.
//
// Renew is one UPDATE ... FROM unnest of the keys, tokens and ttls, matched
// on key and token while the lease lives: one statement for the whole
// batch. Release is UPDATE ... WHERE key = $1 AND token = $2 AND expires >
// clock_timestamp().
//
// # What an error means
//
// An Add (or a Set) that returns an error may or may not have stored: the
// connection may have failed after the server committed. The manager then does not run the
// slot (it fails closed). A cancelled context cancels the statement on the
// server. Errors never contain the password.
//
// A committed claim is durable as the server's settings make it: with
// synchronous_commit off, or an UNLOGGED table, a server crash can forget the
// latest claims, and a failover to an asynchronous standby can too; after such
// a loss a second worker can claim the same slot.
//
// # URLs
//
// The URL is that of pgx (libpq's), less the parameters below, which are
// ours and removed before pgxpool.ParseConfig sees it:
//
//	postgres://user:password@host:5432/dbname?sslmode=verify-full&ngxtasks_table=claims
//
//	ngxtasks_table=NAME     the table, "name" or "schema.name" (letters,
//	                        digits, underscores); default ngxtasks_claims
//	ngxtasks_cleanup=DUR    how often expired rows are deleted, a Go
//	                        duration; 0 turns the goroutine off
//
// pgx's own parameters work as usual (sslmode, pool_max_conns,
// default_query_exec_mode=simple_protocol for PgBouncer's transaction mode,
// ...). Put the password in the userinfo, where errors hide it, not in a
// password parameter.
package pgdict
