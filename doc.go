// Package ngxtasks runs periodic tasks in programs made of many workers:
// goroutine pools, processes on one host, replicas across machines. It is a Go
// rendering of the OpenResty module ngx_tasks, keeping its model and fixing
// its flaws.
//
// A Rule has an identifier, an interval and a type. Time is cut into slots,
// slot n of a rule being [base + phase + n·Interval, base + phase +
// (n+1)·Interval) as its KeyGenerator counts (the Unix epoch by default, so
// every worker agrees). A Normal rule runs once per slot in every worker that
// drives it. A Preemption rule runs once per slot in one worker of all those
// that share a Dict: the one whose atomic add-if-absent of the slot's claim
// key succeeds.
//
// A Manager is one worker. It can be driven by its own timer loop (Start), by
// HTTP requests (Middleware), where a callback may rewrite the response of
// the request that ran it, or by the caller (Run). In every mode a rule runs
// at most once per slot in a worker, the period is exactly the interval, and
// a drive step with nothing due reads one clock and allocates nothing: due
// rules are kept in a heap, not scanned.
//
// Guarantees, exactly:
//
//   - Normal: at most once per slot per worker; every slot a worker drives
//     runs, from its first drive step (the slot then in progress included),
//     unless its filter vetoes it or the rule's previous run is still going
//     (then the slot is skipped and counted). Normal rules never touch the
//     dictionary and never wait for it.
//   - Preemption: at most one run per slot across the workers sharing a
//     dictionary, provided the dictionary's add-if-absent is atomic and the
//     workers' clocks differ by less than SkewTolerance. A worker checks, in
//     order: its own overlap, the filter, the claim; only then does it run.
//     When the dictionary errors or answers after the slot has ended, the
//     slot is not run (fail closed); an answer that came before its own slot
//     ended runs it, however many claims went in the same batch. If the
//     winner dies, its slot is lost; the next slot is claimed as usual.
//   - Clocks: with UseStoreClock no slot is taken before the store's clock
//     is read; without it, a worker whose clock is further than half the
//     SkewTolerance from the store's (where the store can tell the time)
//     logs an error and shows it in Health.
//   - Failures: a panic or error in a callback is recovered, recorded and
//     reported; the worker goes on. A rule's Timeout cancels its callback's
//     context. Shutdown stops new runs at once, waits for running ones up to
//     its deadline, then cancels them and says which.
//
// The in-process MemoryDict is the default dictionary. Other packages of this
// module register dictionaries that reach across processes and machines;
// OpenDict opens any of them from a URL.
package ngxtasks
