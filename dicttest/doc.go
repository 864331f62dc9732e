// Package dicttest is the conformance suite of ngxtasks dictionaries, in the
// spirit of golang.org/x/net/nettest and database/sql's driver tests: every
// backend, the in-process MemoryDict included, runs it against a real store
// and must pass all of it.
//
// A Manager's promise that a Preemption slot runs at most once (P1) rests
// on nothing but the dictionary; the suite checks, through the public
// interfaces only, the properties the manager relies on:
//
//   - AddIfAbsent: the first Add of a key stores and later ones do not; Get
//     returns the winner's value, and a missing key is "not found", not an
//     error.
//   - Atomic: of 64 goroutines adding the same keys with values of their
//     own, through one handle and through four, exactly one stores each key,
//     and Get returns that one's value. Add and AddBatch racing each other
//     agree too.
//   - Expiry: a key cannot be taken again before its TTL has passed (that
//     would be a second winner), and can be within Options.TTLGrace after
//     (or the next slot would be lost); Get stops returning it.
//   - Batch (ngxtasks.BatchAdder): one answer per element in a batch of a
//     thousand, taken keys refused, a key repeated in the batch stored at
//     most once, invalid elements refused on their own without failing the
//     batch, and racing batches one winner per key.
//   - Context: a call whose context is already cancelled or past its
//     deadline fails with an error errors.Is matches with context.Canceled or
//     context.DeadlineExceeded, never reports "stored", and stores nothing; a
//     context ending during a call ends the call.
//   - Closed: after Close every call fails with ngxtasks.ErrClosed, a second
//     Close does not panic, Close racing calls neither panics nor hangs, and
//     claims outlive the handle that made them.
//   - Limits: keys of ngxtasks.MaxKeyLen and values of MaxValueLen bytes round
//     trip, one byte more is ngxtasks.ErrTooLarge, empty keys and TTLs <= 0
//     are ngxtasks.ErrInvalidEntry; separators, spaces, case, UTF-8, empty
//     values, NUL bytes and invalid UTF-8 (or, for Options.TextOnly stores,
//     their refusal) come back exactly as given, each key its own.
//   - StoreClock, when implemented: the store's time is close to ours and
//     does not go back.
//   - Set (ngxtasks.Setter), when implemented: Set stores whatever the key
//     holds (a live value, an expired one, none), Add still refuses a key Set
//     made, and a value Set stores expires with its TTL. Context, Closed and
//     Limits hold Set to what they hold Add to.
//   - Lease (ngxtasks.Leaser), when implemented: one holder at a time,
//     through two handles; the other told who holds it under which token; a
//     renewal or release by a token not the holder's changes nothing; the
//     holder's work, and the next taking has a higher token. LeaseExpiry:
//     three holders in turn "crash" holding it, each next one takes it
//     after the TTL under a higher token, the dead holder can neither renew
//     nor release, and a renewal moves the end. LeaseClaim: a slot's claim
//     made with a lease is added only with it, and the lease taken only
//     with the claim. LeaseRace: 16 holders on four handles race for a
//     free lease, five times: one wins each time, under a higher token.
//     LeaseRenewBatch: one Renew of 200 leases renews the holders' tokens
//     and no others, an invalid renewal failing alone.
//
// RunProcesses checks atomicity where it matters most, across OS processes:
// copies of the test binary open the same URL with ngxtasks.OpenDict and
// race, starting at one instant, to add the same keys; each key must have
// exactly one winner, the one Get returns.
//
// Outage checks a networked store's failure mode: while the server is
// stopped every Add fails and none reports a claim stored, claims work again
// once it is back, and a claim made before survives. It needs a way to stop
// and start the server (ServerControl reads the control programs that
// scripts/services writes), so it runs alone, outside Run. ServerURL reads a
// test server's URL from the environment, skipping the test without one
// except in CI.
//
// What the suite cannot show: durability across server crashes and
// failovers, behaviour under partitions, and clock skew between hosts. Each
// backend's documentation states what its claims rest on; the fleet tests
// (internal/fleettest) cover what can be staged.
//
// Every test uses keys under "dicttest:<random>:", so runs can share a
// server with other tests and with earlier runs; keys expire by themselves
// within minutes.
package dicttest
