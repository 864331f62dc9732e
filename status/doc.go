// Package status serves what one or more ngxtasks Managers are doing: an
// HTML dashboard and the JSON documents it is made from; read only unless
// it is given a way to act (Options.Act, below).
//
//	h := status.New(status.Options{}, m1, m2)
//	mux.Handle("/debug/ngxtasks/", h)
//
// It is mounted as net/http/pprof is, under any path that ends in a
// slash; a request for that path without its slash is redirected to it.
// Below it:
//
//	""                             the dashboard (HTML)
//	status.json                    every worker and every (rule, worker)
//	history.json?rule=ID[&worker=W] one rule's recent slots in each worker
//	app.js, app.css                the dashboard's script and style
//	act                            POST: trigger, pause or resume a rule (with Options.Act only)
//
// Anything else is 404, a method other than GET and HEAD 405 (act: other
// than POST). Every answer
// carries Content-Security-Policy "default-src 'self'" and
// X-Content-Type-Options nosniff: the page runs only its own script, which
// inserts every value as text, so a rule identifier written as markup
// shows as that markup's text.
//
// # Token
//
// A Handler given Options.Token answers status.json and history.json only
// to requests that carry it (Authorization: Bearer <token>), 401 with
// WWW-Authenticate and an error document to the others. The page, app.js
// and app.css hold no data and are served to anyone, so that a browser
// can load the page: when a document answers 401 the page asks for the
// token in a form of its own, keeps it in the tab's sessionStorage (until
// the tab closes, or its "Forget token" button) and sends it with every
// request; a token the handler refuses is said to be refused, and asked
// for again. Put nothing secret in Options.Title then. The Handler sends
// the token to its Peers too. Without a token, the default, nothing is
// asked and the page never shows the form.
//
// # Actions
//
// A Handler given Options.Act (status.LocalAct(managers...) for its own
// Managers; the ngxtasks command passes the action to one of its worker
// processes) adds to each rule's row of the page a Trigger button and a
// Pause button, or Resume for a paused rule; Pause asks, in a form of the
// page, for a note and an optional end (an RFC 3339 time, or a duration
// from now such as 30m). They run ngxtasks.Manager.Trigger, Pause and
// Resume, which act for every worker sharing the dictionary, naming the
// origin "status page from <client address>" (logged by the core with
// the note; a pause's origin and note are shown in the row's "paused"
// column, status.json's rules[].paused, above the rule's history, and in
// the history's slots skipped "paused"). The page shows the answer: done,
// or the core's reason (already triggered within the second, running
// elsewhere naming the holder, paused with its note). With
// Options.Logger, each action asked for is logged with its origin, note
// and outcome (LogAction), refused ones too.
//
// The buttons send a POST to act, whose body is JSON: {"rule", "kind"
// ("trigger", "pause", "resume"), "until" (pause: RFC 3339 or a duration
// from now; absent: until resumed), "note" (pause, resume; at most 512
// bytes), "force" (trigger: even while held or paused)}. The answer is
// ActAnswer: {"ok", "message", "reason", …}; 200 when done, 409 when the
// core refused it (reason "triggered", "running elsewhere", "paused"),
// 404 for an unknown rule, 400 for a bad action, 502 when acting failed.
// Before anything is done, in this order, a request is refused:
//
//   - 405 (Allow: POST) unless it is a POST;
//   - 401 without Options.Token, when one is set (as the documents);
//   - 403 when it comes from another origin. An Origin header, when
//     present, must be http or https and name the very host and port of
//     the request's Host ("null", another port or another name are
//     refused); a Sec-Fetch-Site header, when present, must be
//     same-origin (same-site is refused too). Every browser sends Origin
//     with a POST, and Chromium and Firefox send Sec-Fetch-Site too: a
//     request with neither is not from a browser (curl, a script), cannot
//     be a cross-site request, and passes this check, not the next;
//   - 403 without the page's action token in the Ngxtasks-Csrf header:
//     each load of the page carries a new one (a random nonce and its
//     HMAC-SHA256 under a key the Handler draws at New, checked in
//     constant time), which the page's script sends. A page of another
//     site can neither read it nor set the header without a CORS
//     preflight, which the Handler never grants. Tokens do not expire;
//     they are void when the process restarts (the page then says to
//     reload it);
//   - 415 unless the body is application/json (a form cannot send it).
//
// The page itself is then rendered at each load, and never cached.
//
// These protect against other sites' pages, not against DNS rebinding: a
// page of a name the attacker points at 127.0.0.1 is of the same origin
// as the Handler reached under that name. A Handler without a Token must
// answer only requests whose Host names it (the ngxtasks command's
// listener serves only loopback names without a token); with a Token,
// the token is what lets a request in. Behind a proxy, the Host must
// reach the Handler as the browser sent it.
//
// # Fleets
//
// A fleet's workers are spread over processes, each with its own Handler.
// Give one of them Options.Peers, the addresses of the others' Handlers,
// and its documents hold every worker: it asks each peer for the same
// document with local=1 (which a Handler answers from its own Managers
// only, so that peers do not ask one another in turn), concurrently and
// within Options.PeerTimeout each, and merges their workers and rows into
// its view. A peer that cannot be read is listed with its error; the rest
// of the view is served. A worker reported twice (a peer list that holds
// the serving process itself) is shown once.
//
// # Documents
//
// Both documents carry "schema": "ngxtasks.status/v1" and "generated", the
// time they were made. Times are RFC 3339 in UTC to the microsecond
// ("2026-11-24T12:00:01.250000Z"), absent when they never happened;
// durations are seconds, as numbers; enumerations are the names the core
// package prints. Fields may be added within v1; a change that could
// mislead a v1 reader gets a new schema name. The types of model.go are
// the schema; in short:
//
// status.json:
//
//	workers[]  worker, source ("local" or the peer's address), rules,
//	           store_down, store_down_since, store_skipped, store_error,
//	           clock_offset, clock_measured, clock_skewed, first_step
//	           (Manager.Health)
//	peers[]    address, error (absent when the peer answered)
//	rules[]    one per (rule, worker), sorted by identifier then worker:
//	           identifier, name, type ("normal", "preemption"), interval,
//	           interval_text (a schedule's text), schedule, zone, drive,
//	           worker, state, next_due, next_due_local (in the zone),
//	           last_slot {n, start, outcome, reason, won} (the newest
//	           History record; null without one), last_winner,
//	           runs, succeeded, failed, panicked, timed_out, errors,
//	           skips, skips_by {reason: n}, won, lost, caught_up, last_start,
//	           last_success, last_result, last_error, last_skip,
//	           last_skip_error, running (Manager.Stats),
//	           lateness_p50, lateness_p99
//
// lateness_p50 and lateness_p99 are nearest-rank quantiles of the lateness
// (start minus slot start) of the runs in the rule's History, null when it
// holds no run.
//
// last_winner, for a Preemption rule, is the worker of this view that won
// the newest slot that any worker of this view recorded (the largest
// last_slot.n among the rule's rows). It is empty when none of them won
// it: the slot went to a worker outside the view, or nobody has claimed it
// yet, or every worker skipped it. It is the same on each of the rule's
// rows, and empty for Normal rules.
//
// state is derived, in this order, from Stats and the newest History
// record:
//
//	running   a run of the rule is going on in this worker
//	paused    the rule is paused fleet-wide (paused says by whom, until
//	          when and why)
//	skipping  the newest slot in the History was skipped, for any reason
//	          (overlap, filtered, claim error, late, closed, behind); a
//	          worker keeping no History (HistoryLen < 0) says so only of a
//	          rule that skipped and never ran, for Stats keep no time of skips
//	failing   the last run that ended failed, panicked or timed out
//	ok        the last run that ended succeeded
//	idle      no run has ended here: the rule never ran in this worker
//	          (a Preemption rule whose slots all went elsewhere is idle)
//
// A lost Preemption slot is not a skip: the rule keeps the state of its
// last run here.
//
// paused, when the rule is paused: {until (empty: until resumed), origin,
// note}. disagreement, when this worker found a claim of the rule's slots
// made under another definition: {worker, ours, theirs, at}, the two
// definitions named by tags, never shown.
//
// history.json?rule=ID (404 with an error document when no worker of the
// view has the rule; &worker=W keeps one worker):
//
//	rule
//	workers[]  worker, source, type, interval,
//	           slots[] newest first: n, start, end, outcome, reason,
//	             missed, won, claim, run_start, lateness, duration, err,
//	             winner (lost slots only: a worker of the view that
//	             recorded the slot won, or the dictionary's answer below)
//	           newest_lost {n, start, winner, winner_known, store_error,
//	             why}: for a Preemption rule, Manager.Explain of the newest
//	             slot this worker lost, asked within Options.ExplainTimeout
//	peers[]    address, error
//
// Errors (400, 404, 405) are {"schema", "error", "peers"}.
//
// # Cost
//
// Nothing is kept between requests: each status.json reads Stats, Health
// and every rule's History of every Manager. At 10,000 rules that is a
// document of several megabytes; see the package benchmark for its cost.
// The page fetches it every Options.Refresh (2 seconds by default) while
// it is open and not paused.
package status
