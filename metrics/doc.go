// Package metrics exports the state of ngxtasks Managers to Prometheus.
//
//	c, err := metrics.New(m1, m2) // one Collector for every manager (worker) of the process
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	prometheus.MustRegister(c)
//
// or, to serve it beside a registry's metrics at the least cost (see
// Serving many rules):
//
//	http.Handle("/metrics", metrics.Handler(c, prometheus.DefaultGatherer, promhttp.HandlerOpts{}))
//
// Every series carries a worker label, the manager's [ngxtasks.Manager.WorkerID],
// so New refuses (returns an error for) two managers with one worker ID:
// their series would collide at every scrape. Per-rule series carry a rule label, the rule's
// Identifier. Nothing else a rule or a store knows (callback arguments, URLs,
// process IDs) becomes a label.
//
// # Aggregates and per-rule series
//
// By default a Collector exports every worker's aggregates (runs by
// result, skips by reason, claims by result, runs going on, rules, by
// worker and rule type) and the histograms, and no rule's series of its
// own: about a hundred series a worker, whatever its rule count. Per-rule
// series are seven or eight a rule: at 100,000 rules, 740,000 series and
// 62 MB a scrape, more than one Prometheus target should be, and 0.6 to
// 1.7 s of the worker's time at each scrape.
//
// Rules that need series of their own (an alert on one rule's last
// success, a dashboard of a few) are selected by identifier with
// [Options], path.Match patterns; a pattern that does not parse is an
// error from New:
//
//	c, err := metrics.Options{Rules: []string{"backup", "billing-*"}}.New(m)
//
// A program of a few rules that wants every rule's series, as the
// Collector gave before aggregates, asks for all of them:
//
//	c, err := metrics.Options{AllRules: true}.New(m)
//
// A selected rule is still counted in the aggregates: the sum of an
// aggregate over its labels is the worker's total, whatever was selected,
// and a dashboard need not add two families up.
//
// # Aggregates, fed by events
//
// Like the histograms, the aggregate counters are fed by
// [ngxtasks.Manager.Watch] and count from New on (a run that ended before
// is not in them; it is in the per-rule counters, which count from the
// rule's Push). They are counters, never going down: a rule removed or
// replaced keeps its part, where a sum of the per-rule counters would drop
// and rate() would read a reset. The gauges are read from
// [ngxtasks.Manager.Stats] at each scrape. Every series of every worker
// is there from New on, at zero, so that rate() sees the first event.
//
//	ngxtasks_worker_runs_total{worker,type,result}   runs of the worker's rules of
//	    the type that ended, by result: success, error, panic, timeout.
//	ngxtasks_worker_skips_total{worker,type,reason}  due slots not run, by reason:
//	    overlap, filtered, claim_error, late, closed, behind (each slot of the
//	    run of slots the timer loop missed), clock_skewed, busy, down,
//	    running_elsewhere (a run holds the rule's lease in another worker).
//	ngxtasks_worker_claims_total{worker,result}      claims of Preemption slots:
//	    won, lost, error (the dictionary failed).
//	ngxtasks_worker_running{worker,type}             runs going on.
//	ngxtasks_worker_rules{worker,type}               rules pushed to the worker.
//
// Lateness, the third thing a dashboard of many rules watches, is the
// histogram ngxtasks_run_lateness_seconds below.
//
// # Per-rule counters and gauges, read at scrape
//
// These are exported for the rules Options select, read from
// [ngxtasks.Manager.Stats] and [ngxtasks.Manager.Health] when Prometheus
// scrapes, so they cost nothing between scrapes. A series that
// would be zero is left out where its absence cannot mislead, to keep a scrape
// of many selected rules small:
//
//	ngxtasks_runs_total{rule,worker,result}           runs that ended, by result:
//	    success, error (the callback returned one), panic, timeout.
//	    success and error are always there; panic and timeout once nonzero.
//	ngxtasks_skips_total{rule,worker,reason}          due slots not run here, by reason:
//	    overlap, filtered, claim_error, late, closed, behind, clock_skewed, busy,
//	    down, running_elsewhere. Only nonzero ones.
//	ngxtasks_claims_total{rule,worker,result}         Preemption rules only: won, lost
//	    (always there) and error (the dictionary failed; once nonzero).
//	ngxtasks_retries_total{rule,worker}               runs that were a failed run's
//	    retry (Rule.Retry; runs_total counts them too); absent until one.
//	ngxtasks_rule_paused{rule,worker}                 1 while the rule is paused
//	    fleet-wide (as this worker last read); absent otherwise.
//	ngxtasks_rule_disagreement{rule,worker}           1 while this worker last found
//	    a claim of the rule made under another Version; absent otherwise.
//	ngxtasks_running{rule,worker}                     1 while a run goes on; absent
//	    otherwise (count by (worker) (ngxtasks_running) is the runs in flight).
//	ngxtasks_last_run_timestamp_seconds{rule,worker}     when the last run began,
//	ngxtasks_last_success_timestamp_seconds{rule,worker} when the last successful run
//	    ended; both by the wall clock, and absent until there is one.
//	ngxtasks_next_due_timestamp_seconds{rule,worker}  when the rule next falls due,
//	    on the clock slots follow (the store's, with UseStoreClock).
//	ngxtasks_rule_info{rule,worker,type,drive,name,schedule,zone}  1 for every rule
//	    pushed; type is normal or preemption, drive any, timer, request or run, name
//	    the Rule's Name, schedule and zone a Schedule's text and time zone (empty
//	    for an interval).
//	ngxtasks_rule_interval_seconds{rule,worker}       the rule's interval (none for a
//	    rule on a schedule).
//
// and for every worker, whatever is selected:
//
//	ngxtasks_store_up{worker}                         0 while the worker's dictionary
//	    fails or answers after the slot ended (Health's StoreDown), else 1.
//	ngxtasks_clock_offset_seconds{worker}             how far the dictionary's clock is
//	    ahead of the worker's; absent until measured (a manager measures it only
//	    when its Dict can tell the time and is shared, not its private default).
//
// # Histograms, fed by events
//
// Durations come from [ngxtasks.Manager.Watch] as events happen. They are kept
// per worker and rule type, not per rule: at 100,000 rules, per-rule buckets
// would make every scrape millions of lines. Every histogram of every worker
// exists from New on, at zero, so rate() sees its first observations.
//
//	ngxtasks_run_duration_seconds{worker,type}    how long runs took.
//	    Buckets: 0.5 ms, 1 ms, 5 ms, 10 ms, 50 ms, 0.1 s, 0.5 s, 1 s, 5 s, 10 s,
//	    30 s, 60 s, 300 s.
//	ngxtasks_run_lateness_seconds{worker,type}    how long after its slot began a
//	    run started, by the manager's clock: the timer loop's wake-up delay, a
//	    request's wait, a claim's round trip. Negative lateness (the clock moved
//	    back) counts as 0.
//	ngxtasks_claim_duration_seconds{worker,store} the round trip of a Preemption
//	    claim to the dictionary, whether won, lost, failed or answered too late.
//	    store names the dictionary by its Go type without the pointer:
//	    "redisdict.Dict", "pgdict.Dict", "ngxtasks.MemoryDict" (also for a manager
//	    without a Dict, which gets a private one). It is constant per worker, and
//	    tells apart the workers of a mixed fleet.
//
// Lateness and claims share their buckets, from a tenth of a millisecond (the
// timer loop wakes at most once a millisecond; a local store answers in less)
// to seconds: 0.1 ms, 0.25 ms, 0.5 ms, 1 ms, 2.5 ms, 5 ms, 10 ms, 25 ms, 50 ms,
// 0.1 s, 0.25 s, 0.5 s, 1 s, 2.5 s, 5 s.
//
// # One collector per registry
//
// A Collector describes every metric above, so a registry takes one of them:
// registering a second, even for other managers, fails with a
// [prometheus.AlreadyRegisteredError]. Pass every manager of the process to
// one New instead, or give each collector a registry of its own, or
// register each through [prometheus.WrapRegistererWith] with its own value
// of one label (pool="a", pool="b").
//
// # Serving many rules
//
// By default, a scrape of a worker of 100,000 rules is 116 series and
// 12 KB of text, and takes 36 to 45 ms on a two-core machine (more when
// it is busy), most of it [ngxtasks.Manager.Stats], read for the gauges;
// selecting 20 rules by two patterns adds 148 series and a few
// milliseconds (a pattern's literal prefix is compared before path.Match
// runs). Served with the other ways below, it takes about as long.
//
// With AllRules, a registry gathers a Collector by writing each series into a message of
// its own, checking it, hashing its labels against duplicates and sorting
// each family; a rule makes seven or eight series, and at 100,000 rules
// (740,000 series, 62 MB of text, 2.6 MB gzipped) a scrape took 1.1 to
// 1.7 s on a two-core machine shared with other work. A Collector is also a
// [prometheus.Gatherer] that builds its families itself, already valid and
// sorted (see [Collector.Gather]): served with promhttp.HandlerFor(c, opts),
// or next to a registry's metrics with [Handler], the same scrape took 0.6
// to 0.8 s (up to 1 s when the machine was busiest), most of it encoding
// the text. [prometheus.Gatherers]{reg, c} checks every series again and
// took 1 to 1.25 s: prefer Handler, or a second endpoint for c alone. Do not
// register c in reg for either, or its series would be served twice.
// BenchmarkScrape measures each way.
package metrics
