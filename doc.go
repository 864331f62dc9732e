// Package ngxtasks runs periodic tasks in programs made of many workers:
// goroutine pools, processes on one host, replicas across machines. It is a
// Go rendering of the OpenResty module ngx_tasks ("the original" below),
// keeping its model and fixing its flaws.
//
// # Rules and slots
//
// A [Rule] has an identifier, an interval and a [Type]. Time is cut into
// slots: slot n of a rule is [base + phase + n·Interval, base + phase +
// (n+1)·Interval) as its [KeyGenerator] counts, the Unix epoch by default
// ([EpochKeys]), so that every worker agrees. A [Normal] rule runs once per
// slot in every worker that drives it. A [Preemption] rule runs once per
// slot in one worker of all those that share a [Dict]: the one whose atomic
// add-if-absent of the slot's claim key succeeds.
//
//	m := &ngxtasks.Manager{Dict: dict, Namespace: "billing"} // one per worker
//	err := m.Push(ngxtasks.Rule{
//		Identifier: "invoices", Interval: time.Minute, Type: ngxtasks.Preemption,
//		Callback: func(ctx context.Context, f ngxtasks.Firing) error { return send(ctx, f.Slot) },
//	})
//	go m.Start(ctx)
//	defer m.Shutdown(shutdownCtx)
//
// # Drive modes
//
// A [Manager] is one worker. It is driven by its own timer loop
// ([Manager.Start]), by HTTP requests ([Manager.Middleware]), where a
// callback may rewrite the response of the request that ran it through
// [Firing].Exchange, or by the caller ([Manager.Run], the original's
// tasks:run()); or by several at once. In every mode a rule runs at most
// once per slot in a worker, the period is exactly the interval, and a
// drive step with nothing due reads one clock and allocates nothing: due
// rules are kept in a heap, not scanned. A step sends all its claims in
// one round trip when the dictionary takes batches ([BatchAdder]), and
// Normal rules run while it is in flight. A rule's [Drive] keeps it to one
// mode: under a manager driven by its timer and by requests, a rule that
// rewrites responses takes [DriveRequest], or the timer would take its
// slots.
//
// # Guarantees
//
// Each has tests named after it (TestN1_…, TestP2_…, …), in this package
// with fake clocks and real goroutines, and across OS processes against
// real stores in internal/fleettest.
//
//   - N1: a Normal rule runs at most once per slot in a worker, however many
//     requests or drive steps race, also across Remove and Push of the same
//     rule.
//   - N2: every slot a worker drives runs there, from its first drive step
//     (the slot then in progress included), unless its filter vetoes it or
//     the rule's previous run is still going (then the slot is skipped and
//     counted; a run that began less than 100 ms before is waited for, up
//     to 100 ms). Normal rules never touch the dictionary and never wait for
//     it.
//   - N3: no drift: runs start at their slot's start plus the drive's
//     lateness, which does not accumulate.
//   - P1: a Preemption slot runs at most once across all workers sharing a
//     dictionary and namespace, provided the dictionary's add-if-absent is
//     atomic and either the dictionary can tell the time ([StoreClock]:
//     then at any skew, by default, see Clocks), or UseStoreClock is set,
//     or the workers' clocks differ by less than SkewTolerance.
//   - P2: a worker free to run a slot (filter allows, not busy with its
//     previous run) that drives it runs it if the store answers before the
//     slot ends; it checks, in order, overlap, filter, claim, and never claims
//     a slot it will not run. Each claim is judged by its own slot's end,
//     however many went in one batch. An error or a late answer skips the
//     slot (fail closed): a slot may be lost, never run twice.
//   - P3: if the winner dies before or during its callback, that slot is
//     lost; the next slot is claimed as usual, with no failover delay.
//   - P4: a claim lives Interval + SkewTolerance, so a worker whose clock is
//     behind still finds it.
//   - B1: a panic or error in a callback or filter is recovered, recorded and
//     reported; the worker goes on. A rule's Timeout cancels its callback's
//     context.
//   - B2: [Manager.Shutdown] stops new runs at once in every mode, waits for
//     running callbacks up to its deadline, then cancels them and names them.
//   - B3: invalid rules and configuration are refused, naming the rule and
//     the field ([RuleError], [ErrInvalidRule], [ErrInvalidConfig]); a
//     configuration field changed after the first use is refused too.
//
// # Clocks
//
// With UseStoreClock, slots follow the dictionary's clock ([StoreClock]) and
// no slot is taken before it has been read. Without it, on a dictionary
// that can tell the time, slots follow the worker's own clock and a worker
// claims a Preemption slot only while its clock is known to be within
// SkewTolerance/2 of the store's: measured every 10 s, and carried to the
// present by the monotonic clock, so that a clock stepped since is caught
// at its next claim. Any two workers that claim are then within
// SkewTolerance of each other, whatever the others' clocks say. A worker
// beyond it logs one error, shows it in [Manager.Health] (ClockSkewed),
// and skips its Preemption slots with reason [SkipClockSkewed] (counted in
// Stats, told by Explain) until a reading finds it back; the workers whose
// clocks are right run those slots. Its first claims wait for the first
// reading, within their slot. Normal rules never wait and are never
// skipped for the clock. A dictionary that cannot tell the time leaves
// P1 to the clocks being within SkewTolerance.
//
// # Seeing what happened
//
// [Manager.Stats] counts runs, errors, skips by reason, claims won and
// lost per rule; [Manager.History] keeps each rule's recent slots (what
// this worker did, and why not); [Manager.Explain] answers "why didn't it
// run" for one slot, from the history and, for a Preemption rule, from the
// dictionary; [Manager.Health] tells of the store and the clocks. Events
// go to the Logger, to Observer and to [Manager.Watch]ers. The packages
// metrics (Prometheus) and status (a JSON document and a dashboard page)
// of this module build on these, for any program that embeds a manager.
//
// # Dictionaries
//
// The in-process [MemoryDict] is the default. The packages sqlitedict,
// redisdict, pgdict and etcddict of this module register dictionaries that
// reach across processes and machines; [OpenDict] opens any of them from a
// URL, and their errors never show a password ([RedactURL]). The package
// dicttest is the conformance suite every one of them passes. The
// contexts a manager passes to its Dict carry its Logger ([LoggerFrom]),
// for the lines of the dictionary's client library.
package ngxtasks
