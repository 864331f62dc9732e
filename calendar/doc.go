// Package calendar schedules rules by cron expressions read in an IANA time
// zone, with daylight-saving time handled by explicit policies. A
// [Schedule] gives the core the slots of a rule: a slot runs from one
// occurrence to the next, and is named after the first.
//
// # Grammar
//
// An expression is five fields, minute hour day-of-month month day-of-week,
// or six with seconds first; or a descriptor: @hourly (0 * * * *), @daily
// and @midnight (0 0 * * *), @weekly (0 0 * * 0), @monthly (0 0 1 * *),
// @yearly and @annually (0 0 1 1 *). A field is a list of values, ranges
// (which may wrap: 22-2, fri-mon) and steps (*/15, 10-50/20); months and
// weekdays may be named (jan, mon), and Sunday is 0 or 7. The fields are
// read by github.com/netresearch/go-cron's parser, and the rest of its
// grammar is refused, each by name: L, W, #, hashed values (H), a year
// field, a TZ= prefix, and @every (an interval is a rule's Interval, not a
// calendar). So are a value outside its field's range, an expression that
// never occurs (0 0 30 2 *), and a sixth field that looks like a year
// (0 0 12 1 1 2027), which would otherwise be read as a weekday.
//
// # Day of month and day of week
//
// As in POSIX and Vixie cron: when both day fields are restricted, a day
// matches if either does (0 0 1 * 1 runs on the 1st and on Mondays); when
// one is * (or ?), only the other counts. A field counts as * only if
// written so: */2 restricts.
//
// # Daylight-saving time
//
// Occurrences are wall times in the zone. Where the clock skips (spring
// forward) or repeats (fall back) wall times, what runs depends on the
// expression's class, set by its hour field as written (descriptors
// expanded). With * or a step (*/15 * * * *, @hourly) it is a cadence: it
// keeps its rhythm in real time, so skipped wall times do not run and
// repeated ones run at each pass. Otherwise it names fixed times of day
// (30 2 * * *, @daily), which the policies of [Options] place:
//
//   - Gap: [RunAtTransition] (the default) runs a skipped fixed time at the
//     transition, the first instant after the gap, once for all the fixed
//     times of that gap (and for the wall time that starts at that instant,
//     if it is one); [SkipGap] drops it.
//   - Repeat: a fixed time read twice runs once, at the first pass
//     ([FirstPass], the default) or the last ([LastPass]), or at both
//     ([BothPasses]).
//
// The same holds for changes that are not an hour at 02:00: half-hour
// shifts (Australia/Lord_Howe), changes at midnight (America/Havana), and
// changes of standard offset (Asia/Almaty on 2024-03-01).
//
// # Identity
//
// An occurrence's identity ([Occurrence.ID]) is its wall time, read as if
// UTC, in seconds, times 4, plus its pass: 0 when the wall time runs once,
// 1 and 2 for the passes of a repeated hour when both run. So a fixed time
// run once in a repeated hour has one identity whichever pass runs it, and
// a gap's run carries the identity of its first skipped time. Identities
// never repeat and occurrences strictly increase. A slot's number is its
// first occurrence's identity, and [Schedule.SlotName] spells it:
// 2027-10-31T02:30:00~p2@Europe/Berlin.
//
// # How the search works
//
// The fields are bitmasks. A zone is a sequence of spans of instants, each
// with one UTC offset, found with [time.Time.ZoneBounds] (whose end for the
// last day of a leap year, past a zone's listed changes, is set right:
// go.dev/issue/81583); in a span, wall time is instant plus offset, both
// ways. [Schedule.Next] walks the spans
// forward from its instant and, in each, the matching wall times that span
// reads, by bit arithmetic on the time of day and day steps on the date;
// between two spans that skip wall times it looks for a gap's run. A wall
// time within 30 hours of a span's edge is checked against the spans
// nearby: the instants reading it are the wall time minus each nearby
// offset that is in force at the result; none is a gap, two a repeat.
// [Schedule.Prev] is the same walk backwards. Parse keeps a table of the
// zone's spans from a year before it to three years after (two dozen at
// most); outside it the location is asked. A call allocates nothing.
//
// A Schedule is immutable but for a memo of the slot [Schedule.Slot] found
// last, and safe for concurrent use: rules with the same schedule should
// share one. They fall due together, and the first to ask computes the
// boundary's slot, which the others read from the memo.
package calendar
