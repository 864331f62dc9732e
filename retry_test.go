package ngxtasks_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestR1_RetryTriesAFailedRunAgainAndCountsEveryTry: a run that fails twice
// is tried again until it succeeds, each try told its number, and every
// try is an event, a run in the stats (two of them retries) and counted in
// the slot's history record.
func TestR1_RetryTriesAFailedRunAgainAndCountsEveryTry(t *testing.T) {
	var mu sync.Mutex
	var tries []int
	log := newRunLog()
	m := &ngxtasks.Manager{Logger: quiet(), Observer: log.observe}
	shutdown(t, m)
	err := m.Push(ngxtasks.Rule{Identifier: "flaky", Interval: time.Hour, Type: ngxtasks.Normal,
		Retry: &ngxtasks.Retry{Attempts: 5, Backoff: 10 * time.Millisecond},
		Callback: func(_ context.Context, fi ngxtasks.Firing) error {
			mu.Lock()
			defer mu.Unlock()
			tries = append(tries, fi.Retry)
			if len(tries) < 3 {
				return errors.New("not yet")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v; want the last try's success", err)
	}
	if want := []int{0, 1, 2}; len(tries) != 3 || tries[0] != 0 || tries[1] != 1 || tries[2] != 2 {
		t.Fatalf("tries told %v; want %v", tries, want)
	}
	var fired, failed []int
	for _, ev := range log.kinds(ngxtasks.EventFired) {
		fired = append(fired, ev.Retry)
	}
	for _, ev := range log.kinds(ngxtasks.EventFinished) {
		if ev.Err != nil {
			failed = append(failed, ev.Retry)
		}
	}
	if len(fired) != 3 || len(failed) != 2 || failed[1] != 1 {
		t.Errorf("fired events numbered %v, failed ones %v; want 3 and 2", fired, failed)
	}
	st := m.Stats()[0]
	if st.Runs != 3 || st.Retries != 2 || st.Succeeded != 1 || st.Failed != 2 || st.LastResult != ngxtasks.OutcomeSucceeded {
		t.Errorf("stats: runs %d, retries %d, succeeded %d, failed %d, last %v; want 3, 2, 1, 2, succeeded",
			st.Runs, st.Retries, st.Succeeded, st.Failed, st.LastResult)
	}
	h, _ := m.History("flaky")
	if len(h) != 1 || h[0].Tries != 3 || h[0].Outcome != ngxtasks.OutcomeSucceeded {
		t.Errorf("history %+v; want one slot, tried 3 times, succeeded", h)
	}
}

// TestR1_RetryStaysWithinItsSlot: a run that always fails is tried again
// only while its slot lasts: every retry's context ends by the slot's end
// (ErrSlotEnded, for a try the end cuts), so none runs into the next slot.
func TestR1_RetryStaysWithinItsSlot(t *testing.T) {
	const interval = 400 * time.Millisecond
	type try struct {
		deadline, end time.Time
		hasDeadline   bool
	}
	var mu sync.Mutex
	var tries []try
	m := &ngxtasks.Manager{Logger: quiet()}
	shutdown(t, m)
	err := m.Push(ngxtasks.Rule{Identifier: "failing", Interval: interval, Type: ngxtasks.Normal,
		Retry: &ngxtasks.Retry{Attempts: ngxtasks.MaxRetries, Backoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond},
		Callback: func(ctx context.Context, fi ngxtasks.Firing) error {
			d, ok := ctx.Deadline()
			mu.Lock()
			tries = append(tries, try{deadline: d, end: fi.Slot.End, hasDeadline: ok})
			mu.Unlock()
			if fi.Retry%3 == 2 { // some tries last until they are cut
				<-ctx.Done()
				return context.Cause(ctx)
			}
			return errors.New("always")
		}})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Run(context.Background())
	if err == nil {
		t.Fatal("Run succeeded; the rule always fails")
	}
	if len(tries) < 2 {
		t.Fatalf("%d tries in a %v slot; want retries", len(tries), interval)
	}
	for i, tr := range tries {
		if i > 0 && (!tr.hasDeadline || tr.deadline.After(tr.end)) {
			t.Errorf("retry %d may run until %v (deadline set: %v), past its slot's end %v", i, tr.deadline, tr.hasDeadline, tr.end)
		}
	}
	if st := m.Stats()[0]; st.Retries != int64(len(tries)-1) || st.Runs != int64(len(tries)) {
		t.Errorf("stats count %d runs and %d retries for %d tries", st.Runs, st.Retries, len(tries))
	}
}

// TestR1_RetryKeepsTheLease: the retries of a run that holds a lease run
// under the same token, and the lease stays held between them.
func TestR1_RetryKeepsTheLease(t *testing.T) {
	d := ngxtasks.NewMemoryDict()
	defer d.Close()
	var tokens []uint64
	var heldBetween []bool
	m := &ngxtasks.Manager{Dict: d, Logger: quiet()}
	shutdown(t, m)
	err := m.Push(ngxtasks.Rule{Identifier: "fenced", Interval: time.Hour, Type: ngxtasks.Preemption, Overlap: ngxtasks.OverlapSkip,
		Retry: &ngxtasks.Retry{Attempts: 2, Backoff: 10 * time.Millisecond},
		Callback: func(ctx context.Context, fi ngxtasks.Firing) error {
			tokens = append(tokens, fi.Token)
			other := ngxtasks.LeaseRequest{Key: "ngxtasks:fenced:lease", Holder: "other", TTL: time.Second}
			if err := d.Lease(ctx, &other); err != nil {
				return err
			}
			heldBetween = append(heldBetween, !other.Acquired)
			return errors.New("fails")
		}})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Run(context.Background())
	if len(tokens) != 3 || tokens[0] == 0 || tokens[1] != tokens[0] || tokens[2] != tokens[0] {
		t.Errorf("tries ran under tokens %v; want 3 tries under one", tokens)
	}
	for i, held := range heldBetween {
		if !held {
			t.Errorf("try %d: another holder could take the lease", i)
		}
	}
}

// TestRetryIsValidated: a Retry with a bad field is refused, naming it.
func TestRetryIsValidated(t *testing.T) {
	for _, c := range []struct {
		retry ngxtasks.Retry
		field string
	}{
		{ngxtasks.Retry{}, "Retry.Attempts"},
		{ngxtasks.Retry{Attempts: ngxtasks.MaxRetries + 1}, "Retry.Attempts"},
		{ngxtasks.Retry{Attempts: 1, Backoff: -1}, "Retry.Backoff"},
		{ngxtasks.Retry{Attempts: 1, MaxBackoff: -1}, "Retry.MaxBackoff"},
		{ngxtasks.Retry{Attempts: 1, Backoff: time.Second, MaxBackoff: time.Millisecond}, "Retry.MaxBackoff"},
	} {
		r := ngxtasks.Rule{Identifier: "r", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop, Retry: &c.retry}
		var re *ngxtasks.RuleError
		if err := r.Validate(); !errors.As(err, &re) || re.Field != c.field {
			t.Errorf("Retry %+v: %v; want a RuleError for %s", c.retry, err, c.field)
		}
	}
}
