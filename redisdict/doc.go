// Package redisdict is an ngxtasks dictionary kept in Redis (or Valkey):
// standalone, behind Sentinel, or a Cluster.
//
// Importing it registers the URL schemes "redis" and "rediss" (TLS) with
// ngxtasks.OpenDict; New wraps a client the program already has.
//
// # Store operations
//
//   - Add is one command, SET key value NX PX ttl, with ttl rounded up to a
//     whole millisecond. Redis runs commands one at a time, so of concurrent
//     Adds of one key exactly one sees it absent and stores; the key then
//     lives ttl (at most 1 ms more) by the Redis server's clock, and no later
//     Add stores until it has expired, since Redis never returns nor keeps
//     (for NX) a key past its expiry.
//   - Get is GET.
//   - AddBatch sends one SET NX PX per element in a single pipeline: one
//     round trip, each element decided on its own (not a transaction). A key
//     repeated in a batch is stored by its first occurrence at most.
//   - Set (ngxtasks.Setter) is SET key value PX ttl: Add's command without
//     NX, so it stores whatever the key holds, with the same rounding.
//   - Now (ngxtasks.StoreClock) is the server's TIME.
//   - Lease (ngxtasks.Leaser) is one Lua script, atomic as a script is:
//     if the lease key exists it answers its holder and token; else, with
//     a claim asked, SET claim NX PX ttl, refusing if the claim is there;
//     then INCR of the token counter and SET of the lease key to
//     "token:holder" with PX ttl. The counter, with no TTL, is the lease
//     key plus ":token" when the key has a {hash tag}, else "{key}:token":
//     on the lease's Cluster slot either way. A claim must carry the lease
//     key's tag; one on another slot is refused with an error naming both.
//   - Renew is one script per lease (the stored token compared, then
//     PEXPIRE), all in one pipeline: one round trip, per node on a Cluster.
//     Release is a script too: the token compared, then DEL.
//
// # What an error means
//
// An Add that returns an error may or may not have stored its key: the
// connection may have failed after the server applied the command. The
// manager then does not run the slot (it fails closed), which loses at most
// that slot. Retries by the client (go-redis retries network errors,
// MaxRetries) are safe: a retried SET NX that finds the key its first try
// stored answers "not stored", never a second "stored". A Set that returns
// an error may or may not have stored either, and a retried SET stores the
// same value again. So may a Lease, Release or renewal that fails have
// applied; a retried Lease whose first try took the lease answers
// that the lease is held, by the request's own Holder under its token
// (which Release can end), and its claim not added: that slot is not run.
//
// A Dict opened from a URL cancels a command when its context ends
// (ContextTimeoutEnabled); a client passed to New should enable it too, or a
// claim may outlive the manager's deadline (the manager still ignores late
// answers). Errors never contain the URL's password.
//
// # Logs
//
// go-redis retries a connection until the command's context ends and then
// reports only "context deadline exceeded"; such an error from a Dict
// names the client's last failed connection attempt instead ("dial tcp …:
// connection refused"), which the manager logs at Error, once per outage.
// go-redis logs through one logger per process, to stderr. Importing this
// package replaces it by one that writes through slog: a line about a call
// a manager made goes to that manager's Logger (ngxtasks.LoggerFrom) at
// Debug, any other to slog.Default() at Warn. A program that calls
// redis.SetLogger after the import keeps its own.
//
// # What the guarantee rests on
//
// At most one winner per key holds as long as the key is not lost while it
// lives. Redis loses keys when a server restarts without persistence, and
// when a replica is promoted before it received them (replication is
// asynchronous, under Sentinel and Cluster alike). After such a loss a second
// worker can claim the same slot. Run the dictionary on a primary that keeps
// its data (appendonly, or a restart that is rare against the rules'
// intervals), or accept that window.
//
// Expiry follows the server's wall clock: if it jumps forward, claims expire
// early. TTL precision is one millisecond.
//
// Leases rest on the same ground, the primary's clock deciding when one
// ends. Their fencing tokens increase only while the counter keys are kept:
// a server restarted with its data (appendonly fsync'd) keeps them, and
// leases keep their absolute expiry times; one restarted without data, or
// a replica promoted before it had the last INCR, counts from an older
// number, so a token can be handed out twice and a resource fenced by the
// highest token seen refuses the new holders until the count passes it.
//
// # URLs
//
//	redis://[user[:password]@]host[:port][/db][?param=value&...]
//	rediss://...                             the same over TLS
//
// The user is a Redis 6+ ACL user; with only a password ("redis://:pw@host")
// the password is that of the default user (requirepass). The port defaults
// to 6379 and the database number to 0. Parameters:
//
//	addr=host:port          another server; repeat it or separate with commas
//	master_name=NAME        Sentinel: host and every addr are Sentinels, which
//	                        name the primary of NAME; the credentials are the
//	                        primary's
//	sentinel_auth=true      Sentinel: send the same credentials to the
//	                        Sentinels too
//	cluster=true            Cluster, even with a single seed address; two or
//	                        more addresses without master_name also mean
//	                        Cluster (the database must be 0)
//	dial_timeout, read_timeout, write_timeout   Go durations ("500ms")
//	pool_size=N             connections per server
//	max_retries=N           retries of a failed command; -1 for none
//	client_name=NAME        CLIENT SETNAME
//	protocol=2|3            RESP version
//	skip_verify=true        rediss only: do not verify the server certificate
//
// Examples:
//
//	redis://ngxtasks:secret@127.0.0.1:6379/2
//	redis://:secret@10.0.0.5:26379?master_name=mymaster&addr=10.0.0.6:26379,10.0.0.7:26379
//	rediss://app:secret@node1:6379?addr=node2:6379&addr=node3:6379
//
// Passwords belong in the userinfo only, where every error hides them; there
// is no password parameter.
package redisdict
