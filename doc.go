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
// The package promises N1–N3 for Normal rules (at most once per slot in a
// worker, every slot it drives runs there, no drift), P1–P4 for Preemption
// rules (at most once per slot across the workers sharing a dictionary, a
// slot runs when the store answers within it, a dead winner loses its slot
// and nothing more, claims outlive the clocks' skew) and B1–B3 for its
// behaviour (failures recovered, a graceful Shutdown, invalid rules and
// configuration refused). The one full statement of them, each with when
// it holds, is the table in the [README]; their fine print (fail closed,
// clocks, missed slots, a big start) is in [docs/guarantees.md]. Each has
// tests named after it (TestN1_…, TestP2_…, …), in this package with fake
// clocks and real goroutines, and across OS processes against real stores
// in internal/fleettest.
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
//
// # How a slot runs
//
// One function takes a slot from "due" to "its callback ran", whatever
// drives the manager: step, in step.go. Start's loop (lifecycle.go) calls
// it for every chunk of 256 due slots; Run and Middleware call it through
// drive, once per call or request, when the gate says something is due.
// For a Preemption rule driven by the timer:
//
//  1. Start (lifecycle.go) wakes when the gate of DriveTimer comes, and
//     calls step with the present.
//  2. step (step.go) calls take (schedule.go), which pops the rules due
//     now from the timer's lanes (those due at the same instant in push
//     order), moves each to its next slot, and hands out each slot once:
//     the turns.
//  3. step calls admit on each turn: not while the rule's last run goes on
//     in this worker, not once closed; the turn now counts as in flight.
//  4. step hands the admitted turns, a batch, to an executor: start, for
//     the timer (pooled goroutines), or runHere, for Run and requests (the
//     caller's goroutine). Either calls exec: settle, then work.
//  5. settle calls screen on every turn (the filter; the slot still holds
//     the present), then claim: every claim of the batch in one round trip
//     to the Dict (AddBatch, or the Adds at once), each answer judged by
//     judge against its own slot's end. While the claims are in flight,
//     on a goroutine of their own, the batch's Normal turns run.
//  6. work takes the turns one by one, each claiming turn once the
//     answers are in, and calls run: within MaxRunning (room.go), the rule
//     marked running, its timeout set; call invokes the callback with a
//     panic recovered, and outcome records how it ended.
//  7. The last worker of the batch calls retire, and Shutdown, waiting
//     for the runs in flight, may return.
//
// Every stage reports what it did to the rule's slot through emit
// (event.go): the statistics, the history, the Observer, the watchers and
// the logger.
//
// [README]: https://github.com/ngxtasks/ngxtasks#guarantees
// [docs/guarantees.md]: https://github.com/ngxtasks/ngxtasks/blob/main/docs/guarantees.md
package ngxtasks
