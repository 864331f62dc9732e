// Package sqlitedict is an ngxtasks dictionary kept in a SQLite file: the
// embedded choice for several processes on one host, with no server to run.
//
// Importing it registers the URL scheme "sqlite" with ngxtasks.OpenDict;
// OpenFile opens a path directly.
//
// # Why this driver
//
// modernc.org/sqlite is SQLite translated to Go: no cgo, so programs using it
// cross-compile and build in scratch images, and it is the same SQLite file
// format and locking as the C library, so other tools can read the file.
//
// # The table
//
//	CREATE TABLE IF NOT EXISTS ngxtasks_claims (
//		key        TEXT PRIMARY KEY,
//		value      TEXT NOT NULL,
//		expires_at INTEGER NOT NULL   -- Unix nanoseconds
//	) WITHOUT ROWID;
//	CREATE INDEX IF NOT EXISTS ngxtasks_claims_expires ON ngxtasks_claims (expires_at);
//
//	CREATE TABLE IF NOT EXISTS ngxtasks_claims_leases (
//		key              TEXT PRIMARY KEY,
//		holder           TEXT NOT NULL,
//		token            INTEGER NOT NULL,  -- the key's fencing token
//		expires_at       INTEGER NOT NULL,  -- Unix nanoseconds; 0 once released
//		taken_at         INTEGER,           -- the last take: its time,
//		claim_key        TEXT,              -- and the slot's claim made with it
//		claim_value      TEXT,              -- (NULL: none)
//		claim_expires_at INTEGER
//	) WITHOUT ROWID;
//
// with two triggers on the leases table, described under Leases. The file,
// the tables and the triggers are created when missing (a leases table
// without the take's columns gets them); the leases table is named after
// the claims table (WithTable).
//
// # Store operations
//
// Add is one statement, so one implicit transaction:
//
//	INSERT INTO t (key, value, expires_at) VALUES (?1, ?2, ?3)
//	ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
//	WHERE t.expires_at <= ?4
//
// with ?3 = now + ttl and ?4 = now. It inserts the key, or takes over its row
// if that claim has expired, and changes a row exactly when it stored. SQLite
// lets one connection of one process write at a time (the file's write lock),
// and a writing statement reads the table under that lock, so of concurrent
// Adds of one key, from any process, exactly one stores.
//
// Set (ngxtasks.Setter) is the same statement without its WHERE: it stores
// the entry whatever the key holds, with ?3 = now + ttl as Add's.
//
// Get selects the value of a row whose expires_at is still ahead.
//
// AddBatch (ngxtasks.BatchAdder) runs the same statement for every element
// in one BEGIN IMMEDIATE transaction: one lock, one commit (one WAL write) for
// the batch. A key repeated in a batch is stored by its first occurrence at
// most; the later ones see it live.
//
// # Leases
//
// Dict implements ngxtasks.Leaser. Lease is one statement, so one implicit
// transaction under the file's write lock, against every process:
//
//	INSERT INTO l (key, holder, token, expires_at, taken_at, claim_key, claim_value, claim_expires_at)
//	VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7)
//	ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, token = l.token + 1,
//		expires_at = excluded.expires_at, taken_at = excluded.taken_at, claim_key = …
//	WHERE l.expires_at <= ?4
//	RETURNING token
//
// with ?4 = now and the claim's key, value and expiry, or NULLs when none
// is asked for. A take, the row inserted or its token updated, fires a
// trigger (AFTER INSERT, AFTER UPDATE OF token) that runs Add's statement
// on the take's claim_ columns, and then
//
//	SELECT RAISE(ABORT, 'ngxtasks: claim refused') WHERE changes() = 0
//
// when the claim was refused, which aborts the whole statement, the take
// with it. So neither the lease nor the claim is stored without the other.
// Renew and Release update no token and fire nothing. When no row comes
// back another holds the lease; only then is the take made again, in a
// BEGIN IMMEDIATE transaction with a SELECT that says who holds it, under
// which token, so that the answer is one moment's. Renew runs one UPDATE
// per renewal (key, token, not expired) in one transaction, one lock and
// one commit for all; Release is one UPDATE that sets expires_at to 0, by
// the holder's token only.
//
// A lease row is never deleted: its token column is the key's counter, so
// tokens go on increasing across expiries, releases and the crashes of
// holders, and survive every process, being in the file. The cleanup
// deletes claims only; the leases table holds one row per key ever leased,
// a rule's, not a slot's. Tokens are SQLite integers, int64: 2^63-1
// takings of one key, beyond any use; a token above that, or 0, holds
// nothing. As with claims, an operating system crash or power loss may
// forget the last commits (see below), and with them the last tokens
// handed out, which the next holder would then get again.
//
// Expired rows are deleted by a goroutine that Close stops (every 10 s by
// default, WithCleanupInterval), in transactions of at most 1,000 rows so that
// claims are not held up, until none is left or 5 s have passed.
//
// # Clocks
//
// Expiry, of claims and leases, is judged by the clock of the process that
// writes: all processes of one host read the same system clock, so their
// claims and leases agree. A step of that clock moves every expiry with it. Dict does not
// implement ngxtasks.StoreClock, as there is no other clock to ask.
//
// # Locking, crashes and the file's home
//
// The file is in WAL mode, so Gets read while a claim writes, with
// synchronous=NORMAL: a commit is in the WAL before Add returns, so it
// survives the process being killed; only an operating system crash or power
// loss can forget the last claims. Locks are POSIX advisory locks, which the
// kernel releases when a process dies, and the next process to open the file
// recovers it from the WAL, so a process killed with SIGKILL in the middle of
// a claim leaves neither a held lock nor a damaged file.
//
// A writer that finds the file locked waits up to the busy timeout (5 s by
// default, BusyTimeout), and no longer than its context allows. Within a
// process, writes go through a single connection, so they queue in Go rather
// than spin on the lock; reads use a small pool of their own. A batch's
// transaction starts with BEGIN IMMEDIATE, which takes the write lock at
// once, where waiting for it is safe: a deferred BEGIN would start as a
// reader, and its first write could then find that another process wrote
// since its snapshot, an SQLITE_BUSY that waiting cannot cure. A single
// Add is one statement in its own transaction, which takes the write lock
// as it starts, so it waits the same way.
//
// Keep the file on a local filesystem. Network filesystems (NFS, SMB) do not
// implement the locks SQLite relies on reliably, and WAL needs shared memory
// between the processes, which only one host has: there, two processes could
// both store the same key. For machines, use redisdict, pgdict or etcddict.
//
// # What an error means
//
// An Add (or a Set, a Lease, a Renew, a Release) that returns an error did
// not store, unless the error came from the commit itself (a disk failure),
// in which case SQLite rolled it back. The manager does not run the slot either way (it fails closed).
//
// # URLs
//
//	sqlite:///absolute/path/claims.db[?param=value&...]
//	sqlite:relative/path/claims.db[?...]
//
// Parameters:
//
//	busy_timeout=5s     how long a claim waits for another process's lock
//	cleanup=10s         how often expired rows are deleted; 0 turns it off
//	table=NAME          the table (letters, digits, underscores); default ngxtasks_claims
//
// Anything else (a host, a user, a fragment, an unknown or repeated
// parameter, a bad value, ":memory:", whose database each connection would
// have to itself) is refused with an error that matches ErrBadConfig and
// names the part at fault. A sqlite URL holds no secret, but errors follow
// the other backends and never quote a URL that could not be parsed.
package sqlitedict
