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
// The file and the table are created when missing.
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
// Expired rows are deleted by a goroutine that Close stops (every 10 s by
// default, WithCleanupInterval), in transactions of at most 1,000 rows so that
// claims are not held up, until none is left or 5 s have passed.
//
// # Clocks
//
// Expiry is judged by the clock of the process that writes: all processes of
// one host read the same system clock, so their claims agree. Dict does not
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
// An Add (or a Set) that returns an error did not store, unless the error
// came from the commit itself (a disk failure), in which case SQLite rolled
// it back. The manager does not run the slot either way (it fails closed).
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
