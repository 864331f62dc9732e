// Package etcddict is an ngxtasks dictionary kept in etcd (v3 API; tested
// with the etcd 3.4 server Debian ships, through the v3.5 Go client).
//
// Importing it registers the URL schemes "etcd" and "etcds" (TLS) with
// ngxtasks.OpenDict; New wraps a client the program already has.
//
// # Store operations
//
//   - Add is one transaction:
//
//     If(CreateRevision(prefix+key) == 0) Then(Put(prefix+key, value, WithLease(lease)))
//
//     etcd applies transactions one at a time through its Raft log, so of
//     concurrent Adds of one key exactly one finds it absent and stores it;
//     the others answer false until the key is deleted, which happens only
//     when its lease ends.
//
//   - Get is a linearizable Range of prefix+key.
//
//   - AddBatch sends one transaction per up to 128 claims, several at once:
//     an unconditional Txn whose Then holds one nested Txn per claim, each
//     the same comparison and Put as Add (nested transactions exist since
//     etcd 3.3). The server applies the whole request atomically, but each
//     nested Txn succeeds or not on its own comparison, so one taken key
//     does not fail the others, and each claim gets its own answer.
//
//   - Set (ngxtasks.Setter) is Add's Put without the comparison:
//
//     Put(prefix+key, value, WithLease(lease))
//
//     with a lease taken as Add takes its own, so it stores the key whatever
//     it holds, and the key moves to that lease and lives as a claim of the
//     same ttl would.
//
//   - Lease Grant, to make the shared leases below. The claims' are never
//     revoked or kept alive.
//
//   - Lease (ngxtasks.Leaser) sends one transaction:
//
//     If(CreateRevision(lk) == 0 [, CreateRevision(ck) == 0])
//     Then(Put(lk, holder, WithLease(holder's)) [, Put(ck, value, WithLease(pooled))])
//     Else(Get(lk))
//
//     so the lease and its slot's claim (ck) are added together or not at
//     all, atomically as Add's one key. The token is the transaction's
//     revision, lk's CreateRevision. The lease key holds its holder's etcd
//     lease for the TTL: one per holder and TTL in a Dict, granted by the
//     holder's first Lease and kept alive by its renewals, as
//     concurrency.Session keeps one for all its keys (see "Lease keys and
//     their holder's etcd lease" below). So a taking costs one round trip,
//     as a claim does; a KeepAliveOnce goes alongside when the holder's
//     etcd lease might end before the TTL from now, and a Grant before it
//     when the holder has none alive.
//
//   - Renew reads every renewal's key in one transaction of Gets (per
//     WithMaxTxnOps keys) and compares its CreateRevision with the token,
//     while it sends, alongside, one KeepAliveOnce per holder's etcd lease
//     that the renewed keys hold (one, for a holder's leases of one TTL):
//     a batch of renewals takes one round-trip time. A renewal longer than
//     the key's etcd lease gives moves the key to its holder's etcd lease
//     for that TTL (a Put that keeps its value, so its CreateRevision, the
//     token). A key taken through another Dict, on an etcd lease not this
//     one's, is renewed by a KeepAliveOnce of that lease (or moved to one
//     of its own, granted for it, if that is shorter).
//
//   - Release is one transaction, If(CreateRevision(lk) == token)
//     Then(Delete(lk)). The etcd lease stays, for the holder's other keys.
//
// # Leases and how long a key lives
//
// etcd expires keys only through leases, whose TTLs are whole seconds, and
// a lease per claim would cost a Grant per claim and leave one lease per key
// on the server. Instead claims share leases: a Dict keeps a small pool, and
// a claim of ttl takes a lease whose remaining life r is in
//
//	[ttl + A, ttl + A + W + 1s]
//
// where A is the latency allowance (WithLatencyAllowance, default 1 s) and W
// the reuse window (WithReuseWindow, default a quarter of ttl, at least 1 s).
// When none fits, it grants a lease of ceil(ttl + A + W) seconds, which the
// claims of about the same ttl reuse for about W, so a ttl in steady use
// costs a handful of live leases however many claims are made. Concurrent
// claims that need the same new lease wait for one Grant.
//
// A lease's remaining life is known from below: the time the Grant was sent
// plus the granted TTL, since the server starts the TTL when it applies the
// grant, later; and a new etcd leader only ever extends leases. A lease is
// never used in its last ttl + A, so one about to expire is never given to
// a new claim. Once the answer is in, the claim checks that now + ttl is
// still within the lease: a key the server put before now then surely lives
// ttl. If the answer came too late for that, or the request outlived that
// deadline, Add returns an error (the key may be stored but could vanish
// early, so the slot must not run); so does Set.
//
// So, writing m for the server's minimum lease TTL (etcd 3.4 raises shorter
// requests to ceil(1.5 × election timeout): 2 s with default settings), a
// key that Add or AddBatch reports stored, or Set stored without an error,
// lives, from the moment the server applied the put:
//
//	at least ttl
//	at most  max(ttl + A + W + 1s, m) + one Grant round trip + deletion delay
//
// where the deletion delay is the server's: its leader looks for ended
// leases every 500 ms and deletes their keys through Raft. Until then Get
// still sees the key and Add still refuses it, which is safe. The lower
// bound assumes that this process's clock and the etcd leader's run at the
// same rate (both use monotonic clocks, so jumps of wall time do not
// matter). An etcd leader change renews every lease to its full TTL, so
// after one a key may live up to one more lease TTL: longer, never shorter.
//
// # What an error means
//
// When Add returns an error the key may or may not be stored: the connection
// may have failed after the server applied the transaction, or the answer
// came too late to prove the key's life. The manager then does not run the
// slot (it fails closed), which loses at most that slot. A call refused
// before sending, on a closed Dict (ngxtasks.ErrClosed), an ended context
// or an invalid entry, stored nothing. The client's own retries are safe: a
// retried transaction that finds the key its first try stored answers "not
// stored", never a second "stored". A lease the server no longer knows
// fails the whole transaction (or Set's Put) before anything is stored; Add,
// AddBatch and Set then forget it and try once more with a new lease. A Set
// that returns an error may or may not have stored, as an Add.
//
// # Logs
//
// The client retries a call until its context ends and then reports only
// "context deadline exceeded"; when it is not connected, such an error
// names why, from a dial of each endpoint (at most once a second): "no
// endpoint accepts connections: dial tcp …: connection refused". The
// manager logs that at Error, once per outage. The client's own warnings,
// of a Dict that Open made, go through slog to the Logger of the manager
// using the Dict (ngxtasks.LoggerFrom) at Debug, else to slog.Default(); a
// client passed to New keeps its logger.
//
// # Lease keys and their holder's etcd lease
//
// A holder's lease keys of one TTL share an etcd lease of ceil(TTL + A +
// 1s) seconds (A, the latency allowance, as for claims below), granted by
// the holder's first Lease in the Dict and kept alive only while the
// holder takes or renews keys: so a key put with it, or renewed by its
// keep-alive, surely lives its TTL from the answer, and a new key needs
// no keep-alive alongside for about a second after the last. An etcd
// lease renews all its keys at once, so the Dict also keeps each key's
// deadline: its TTL from its take's answer or its last renewal's, on this
// process's monotonic clock (so no earlier than the holder's own
// reckoning from its call). A lease is its holder's until the first of:
//
//   - its release, which deletes the key;
//   - the end of its holder's etcd lease, counted down by the etcd leader,
//     which deletes the key: when the holder crashes, or is cut off, or
//     takes and renews nothing of that TTL. The key then lives at least
//     its TTL from its take's or renewal's answer, and at most
//     ceil(TTL + A + 1s) from the last keep-alive, plus the deletion delay
//     below;
//   - its deadline, when its holder goes on renewing other keys but not
//     this one (a run that ended and whose release failed, say). Renew
//     refuses it from then, and every keep-alive of the etcd lease, by
//     Lease or Renew, first deletes the keys past their deadline (a nested
//     transaction per key, by its token and etcd lease): the key is gone a
//     renewal period after its deadline if the holder renews that often,
//     and never later than the etcd lease's end as above.
//
// So a lease is never shorter than its TTL from the holder's call. One its
// holder no longer renews is gone at most about one TTL (plus A and a
// second) after its deadline, and at most A and about two seconds after
// it when the holder has crashed; until then no other holder can take it,
// which is safe. A Lease whose answer is lost may have put its key: the
// key gets a deadline too, without a token, and is deleted by it, so it is
// not kept alive for good. A renewal through another Dict than the one
// that took the key moves the key to that Dict's etcd lease of the holder,
// since only that Dict can keep its deadline. The record of keys and
// deadlines is in the Dict's memory: a new Dict of the same holder starts
// a new etcd lease, and the keys of the old one end with it.
//
// # What the guarantee rests on
//
// etcd commits a transaction on a quorum before it answers, so a claim is
// not lost by a leader change or a member's crash, and a restarted server
// keeps its leases (and renews them). Claims are lost only with the data:
// a cluster rebuilt from an old snapshot, or a wiped data directory.
//
// A lease rests on the same: the transaction's comparison makes taking it
// (with its claim) atomic; its token is etcd's revision, a counter of the
// whole store that never goes back, not even across restarts, so tokens
// increase per key across expiries, releases and crashes with no key to
// keep them; its expiry is the etcd leader's countdown of its holder's etcd
// lease, and, while the holder lives, the key's deadline (above). After a
// restart or a leader change the etcd lease is renewed to its full TTL: a
// lease may outlive its TTL then, by up to that TTL.
//
// # No store clock
//
// Dict does not implement ngxtasks.StoreClock. etcd has no time API:
// responses carry revisions, not times, and lease TTLs count whole seconds
// down on the leader's monotonic clock, which a leader change resets to the
// full TTL. Nothing yields a shared wall-clock reading, so managers on etcd
// rely on their hosts' clocks (and the skew tolerance).
//
// # Compaction
//
// Every claim is a write, so a fleet adds a revision per claim, and a lease
// that ends deletes its keys in one more. etcd keeps every revision until
// it is compacted: run the server with auto-compaction (the test servers use
// --auto-compaction-mode periodic --auto-compaction-retention 1m), or its
// memory and database grow with the claims ever made. Claims read only the
// present, so compacting away old revisions costs them nothing.
//
// # Close
//
// Close makes later calls return ngxtasks.ErrClosed and cancels a lease
// grant in flight. It does not revoke leases, which would delete claims that
// must live on, and it closes the client only when Open made it: a client
// passed to New stays the caller's to close, after Close.
//
// # URLs
//
//	etcd://[user:password@]host[:port][,host[:port]...][/prefix][?param=value&...]
//	etcds://...                          the same over TLS
//
// The port defaults to 2379. user:password are an etcd auth user's; the
// user needs read and write permission on the prefix. The prefix is the
// path without its leading slash and with a trailing one added: the claims
// of "etcd://10.0.0.1:2379/app/claims" are keys "app/claims/<key>"; without
// a path, keys are used as they are. Parameters:
//
//	endpoint=host:port       another server; repeat it or separate with commas
//	                         (needed for IPv6 addresses beyond the first)
//	dial_timeout=5s          connecting, and Open's first read
//	latency=1s               WithLatencyAllowance
//	window=15s               WithReuseWindow
//	concurrency=8            WithConcurrency
//	max_txn_ops=128          WithMaxTxnOps
//	ca=FILE                  etcds only: PEM CAs to trust (default: system's)
//	cert=FILE&key=FILE       etcds only: client certificate and key (PEM)
//	server_name=NAME         etcds only: name to verify the certificate for
//	skip_verify=true         etcds only: do not verify the certificate
//
// Examples:
//
//	etcd://127.0.0.1:2379/ngxtasks
//	etcd://app:secret@10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/app/claims
//	etcds://app:secret@etcd.internal:2379/app?ca=/etc/etcd/ca.pem
//
// Passwords belong in the userinfo only, where every error hides them.
package etcddict
