package status

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// This file turns what the local Managers report (Stats, History, Health,
// Explain) into the documents of model.go. Rows from peers arrive already
// built; finishStatus and finishHistory then derive what needs the whole
// view (order, last winners, winners of lost slots).

// timeLayout is RFC 3339 to the microsecond, the precision History keeps,
// at a fixed width so that times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// stamp formats t in UTC; the zero time, meaning never, is "".
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// human writes an interval as people do: "1m" rather than "1m0s".
func human(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// localStatus is the Status of the local Managers, unsorted.
func (h *Handler) localStatus() Status {
	doc := Status{Schema: Schema, Generated: stamp(time.Now()), Workers: []Worker{}, Peers: []Peer{}}
	n := 0
	stats := make([][]ngxtasks.RuleStats, len(h.managers))
	for i, m := range h.managers {
		stats[i] = m.Stats()
		n += len(stats[i])
	}
	doc.Rules = make([]Rule, 0, n)
	for i, m := range h.managers {
		id := m.WorkerID()
		doc.Workers = append(doc.Workers, workerOf(id, "local", len(stats[i]), m.Health()))
		doc.Rules = append(doc.Rules, rowsOf(m, id, stats[i])...)
	}
	return doc
}

// parallelRows is the number of rules from which a manager's rows are
// built on every processor: reading 10,000 Histories is most of the time
// status.json takes, and each rule's History has a lock of its own.
const parallelRows = 2048

// rowsOf builds the rows of one manager's rules, dropping those removed
// since Stats listed them.
func rowsOf(m *ngxtasks.Manager, worker string, stats []ngxtasks.RuleStats) []Rule {
	rows := make([]Rule, len(stats))
	build := func(from, to int) {
		var late []time.Duration // scratch for the quantiles, reused rule after rule
		for j := from; j < to; j++ {
			recs, err := m.History(stats[j].Identifier)
			if err == nil {
				rows[j] = ruleOf(worker, &stats[j], recs, &late)
			}
		}
	}
	if parts := min(runtime.GOMAXPROCS(0), len(stats)/parallelRows); parts > 1 {
		var wg sync.WaitGroup
		for p := range parts {
			wg.Go(func() { build(p*len(stats)/parts, (p+1)*len(stats)/parts) })
		}
		wg.Wait()
	} else {
		build(0, len(stats))
	}
	return slices.DeleteFunc(rows, func(r Rule) bool { return r.Identifier == "" })
}

func workerOf(id, source string, rules int, hl ngxtasks.Health) Worker {
	w := Worker{
		Worker:       id,
		Source:       source,
		Rules:        rules,
		StoreDown:    hl.StoreDown,
		StoreSkipped: hl.StoreSkipped,
		StoreError:   hl.StoreError,
		ClockSkewed:  hl.ClockSkewed,
		FirstStep:    stamp(hl.FirstStep),
	}
	if hl.StoreDown {
		w.StoreDownSince = stamp(hl.StoreDownSince)
	}
	if !hl.ClockMeasured.IsZero() {
		w.ClockOffset, w.ClockMeasured = seconds(hl.ClockOffset), stamp(hl.ClockMeasured)
	}
	return w
}

// ruleOf builds the row of one rule in one worker from its Stats and its
// History (oldest first). late is scratch space.
func ruleOf(worker string, s *ngxtasks.RuleStats, recs []ngxtasks.SlotRecord, late *[]time.Duration) Rule {
	r := Rule{
		Identifier:    s.Identifier,
		Name:          s.Name,
		Type:          s.Type.String(),
		Interval:      seconds(s.Interval),
		IntervalText:  human(s.Interval),
		Drive:         s.Drive.String(),
		Worker:        worker,
		Runs:          s.Runs,
		Succeeded:     s.Succeeded,
		Failed:        s.Failed,
		Panicked:      s.Panicked,
		TimedOut:      s.TimedOut,
		Errors:        s.Errors,
		Skips:         s.Skips,
		SkipsBy:       make(map[string]int64, len(s.SkipsBy)),
		Won:           s.Won,
		Lost:          s.Lost,
		CaughtUp:      s.CaughtUp,
		Retries:       s.Retries,
		LastStart:     stamp(s.LastStart),
		LastSuccess:   stamp(s.LastSuccess),
		LastError:     s.LastError,
		LastSkipError: s.LastSkipError,
		Running:       s.Running,
	}
	if s.NextDue.Unix() > 0 {
		r.NextDue = stamp(s.NextDue)
	}
	if s.Schedule != "" {
		r.Schedule, r.IntervalText = s.Schedule, s.Schedule
	}
	if s.Location != nil {
		r.Zone = s.Location.String()
		if s.NextDue.Unix() > 0 {
			r.NextDueLocal = s.NextDue.In(s.Location).Format(timeLayout)
		}
	}
	if s.LastResult != 0 {
		r.LastResult = s.LastResult.String()
	}
	if s.LastSkip != 0 {
		r.LastSkip = s.LastSkip.String()
	}
	for reason, n := range s.SkipsBy {
		r.SkipsBy[reason.String()] = n
	}
	var newest *ngxtasks.SlotRecord
	if len(recs) > 0 {
		newest = &recs[len(recs)-1]
		r.LastSlot = &LastSlot{N: newest.Slot.N, Start: stamp(newest.Slot.Start), Outcome: newest.Outcome.String(), Won: newest.Won}
		if newest.Outcome == ngxtasks.OutcomeSkipped {
			r.LastSlot.Reason = newest.Reason.String()
		}
	}
	r.State = stateOf(s, newest)
	if p := s.Paused; p != nil {
		r.State = "paused"
		r.Paused = pauseOf(*p)
	}
	if d := s.Disagreement; d != nil {
		r.Disagreement = &Disagreement{Worker: d.Worker, Ours: d.Ours, Theirs: d.Theirs, At: stamp(d.At)}
	}
	*late = (*late)[:0]
	for i := range recs {
		if !recs[i].Start.IsZero() {
			*late = append(*late, recs[i].Lateness)
		}
	}
	r.LatenessP50, r.LatenessP99 = quantile(*late, 0.50), quantile(*late, 0.99)
	return r
}

// stateOf derives a row's state; doc.go defines the states. The newest
// History record is the most precise witness of the present: Stats keeps
// no time of the last skip, so without History (HistoryLen < 0) a rule
// reads "skipping" only while it has skipped and never run.
func stateOf(s *ngxtasks.RuleStats, newest *ngxtasks.SlotRecord) string {
	switch {
	case s.Running:
		return "running"
	case newest != nil && newest.Outcome == ngxtasks.OutcomeSkipped,
		newest == nil && s.Runs == 0 && s.Skips > 0:
		return "skipping"
	}
	switch s.LastResult {
	case ngxtasks.OutcomeFailed, ngxtasks.OutcomePanicked, ngxtasks.OutcomeTimedOut:
		return "failing"
	case ngxtasks.OutcomeSucceeded:
		return "ok"
	}
	return "idle"
}

// quantile is the nearest-rank q-quantile of ds, in seconds, or nil for
// none. It sorts ds.
func quantile(ds []time.Duration, q float64) *float64 {
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	k := max(int(math.Ceil(q*float64(len(ds))))-1, 0)
	v := seconds(ds[k])
	return &v
}

// finishStatus orders the rows and works out, rule by rule, which worker
// of the view won the newest slot any of them recorded.
func finishStatus(doc *Status) {
	slices.SortFunc(doc.Workers, func(a, b Worker) int { return cmp.Compare(a.Worker, b.Worker) })
	slices.SortFunc(doc.Rules, func(a, b Rule) int {
		return cmp.Or(strings.Compare(a.Identifier, b.Identifier), strings.Compare(a.Worker, b.Worker))
	})
	for i := 0; i < len(doc.Rules); {
		j := i + 1
		for j < len(doc.Rules) && doc.Rules[j].Identifier == doc.Rules[i].Identifier {
			j++
		}
		rows := doc.Rules[i:j]
		winner, newest := "", int64(math.MinInt64)
		for k := range rows {
			if ls := rows[k].LastSlot; rows[k].Type == "preemption" && ls != nil && ls.N >= newest {
				if ls.N > newest {
					winner, newest = "", ls.N
				}
				if ls.Won {
					winner = rows[k].Worker
				}
			}
		}
		for k := range rows {
			if rows[k].Type == "preemption" {
				rows[k].LastWinner = winner
			}
		}
		i = j
	}
}

// localHistory is the History of rule id in the local Managers (only
// worker's, when worker is not empty), with, for a Preemption rule, what
// Explain says of each worker's newest lost slot. The dictionary is asked
// within h.explainTimeout: a slow store leaves StoreError set, not the
// page waiting.
func (h *Handler) localHistory(ctx context.Context, id, worker string) History {
	doc := History{Schema: Schema, Generated: stamp(time.Now()), Rule: id, Workers: []WorkerHistory{}, Peers: []Peer{}}
	type lost struct {
		m  *ngxtasks.Manager
		wh int // index in doc.Workers
		at time.Time
	}
	var ask []lost
	for _, m := range h.managers {
		if worker != "" && m.WorkerID() != worker {
			continue
		}
		recs, err := m.History(id)
		if err != nil {
			continue // not this worker's rule
		}
		rule, ok := ruleNamed(m, id)
		if !ok {
			continue
		}
		wh := WorkerHistory{Worker: m.WorkerID(), Source: "local", Type: rule.Type.String(), Interval: seconds(rule.Interval), Slots: make([]SlotRecord, len(recs))}
		newestLost := -1
		for i := range recs {
			rec := &recs[len(recs)-1-i] // newest first
			wh.Slots[i] = slotOf(rec)
			if rec.Outcome == ngxtasks.OutcomeLost && newestLost < 0 {
				newestLost = i
			}
		}
		if rule.Type == ngxtasks.Preemption && newestLost >= 0 {
			ask = append(ask, lost{m, len(doc.Workers), recs[len(recs)-1-newestLost].Slot.Start})
		}
		doc.Workers = append(doc.Workers, wh)
	}
	if len(ask) > 0 {
		ctx, cancel := context.WithTimeout(ctx, h.explainTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for _, a := range ask {
			wg.Go(func() {
				x, err := a.m.Explain(ctx, id, a.at)
				if err != nil {
					return // removed meanwhile
				}
				doc.Workers[a.wh].NewestLost = &Explanation{
					N: x.Slot.N, Start: stamp(x.Slot.Start), Winner: x.Winner, WinnerKnown: x.WinnerKnown,
					StoreError: x.StoreError, Why: x.Why,
				}
			})
		}
		wg.Wait()
	}
	return doc
}

// ruleNamed finds a Manager's rule by identifier. Managers have no lookup
// of one rule; this copies them all, which history.json (one rule, on a
// click) can afford.
func ruleNamed(m *ngxtasks.Manager, id string) (ngxtasks.Rule, bool) {
	for _, r := range m.Rules() {
		if r.Identifier == id {
			return r, true
		}
	}
	return ngxtasks.Rule{}, false
}

func slotOf(rec *ngxtasks.SlotRecord) SlotRecord {
	s := SlotRecord{
		N:        rec.Slot.N,
		Start:    stamp(rec.Slot.Start),
		End:      stamp(rec.Slot.End),
		Outcome:  rec.Outcome.String(),
		Missed:   rec.Missed,
		Won:      rec.Won,
		Claim:    seconds(rec.Claim),
		RunStart: stamp(rec.Start),
		Lateness: seconds(rec.Lateness),
		Duration: seconds(rec.Duration),
		Tries:    rec.Tries,
		Err:      rec.Err,
	}
	if rec.Outcome == ngxtasks.OutcomeSkipped {
		s.Reason = rec.Reason.String()
	}
	return s
}

// finishHistory orders the workers and names the winner of every lost
// slot the view can: a worker of the view that recorded the slot won, or
// else the dictionary's answer for the newest lost slot.
func finishHistory(doc *History) {
	slices.SortFunc(doc.Workers, func(a, b WorkerHistory) int { return cmp.Compare(a.Worker, b.Worker) })
	won := make(map[int64]string)
	for _, wh := range doc.Workers {
		for _, s := range wh.Slots {
			if s.Won {
				won[s.N] = wh.Worker
			}
		}
	}
	for _, wh := range doc.Workers {
		for i := range wh.Slots {
			s := &wh.Slots[i]
			if s.Outcome != ngxtasks.OutcomeLost.String() || s.Winner != "" {
				continue
			}
			if w, ok := won[s.N]; ok && w != wh.Worker {
				s.Winner = w
			} else if x := wh.NewestLost; x != nil && x.N == s.N && x.WinnerKnown {
				s.Winner = x.Winner
			}
		}
	}
}
