// Package dicttest is the conformance suite of ngxtasks dictionaries, in the
// spirit of database/sql's driver tests: every backend, the in-process one
// included, runs it against a real store and must pass all of it.
//
// Run checks, through one process's handles, what the manager relies on:
//
//   - add-if-absent: the first Add of a key stores, later ones do not, and
//     Get returns the winner's value;
//   - atomicity under 64 goroutines, through one handle and through several;
//   - expiry: a key cannot be taken before its TTL ends and can be shortly
//     after (Options.TTLGrace);
//   - batches (BatchAdder): one answer per element, taken keys refused, a key
//     repeated in a batch stored at most once, racing batches one winner
//     per key, invalid elements refused on their own;
//   - contexts: a cancelled context or a passed deadline gives an error that
//     errors.Is recognises, and never "stored";
//   - Close: later calls fail with ngxtasks.ErrClosed;
//   - limits: keys of ngxtasks.MaxKeyLen and values of MaxValueLen bytes round
//     trip, one byte more is ngxtasks.ErrTooLarge, empty keys and TTLs <= 0
//     ngxtasks.ErrInvalidEntry; odd bytes either round trip or are refused,
//     never altered;
//   - StoreClock, when implemented: the store's time is close to ours.
//
// RunProcesses checks atomicity across OS processes: several copies of the
// test binary race to add the same keys, and each key has exactly one
// winner, the one Get returns.
//
// The suite uses keys under a random prefix of its own, so it can share a
// server with other tests and earlier runs.
package dicttest
