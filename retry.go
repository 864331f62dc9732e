package ngxtasks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry tries a failed run of a rule again, within its slot: a run that
// returned an error, panicked or timed out. Each retry waits first, a
// time drawn at random below a bound that starts at Backoff and doubles
// with each retry up to MaxBackoff ("full jitter": workers that failed
// together do not retry together). A retry starts only if its wait ends
// before the slot does, and is cancelled at the slot's end (ErrSlotEnded),
// so that tries never run into the next slot; a run holding a lease
// (Rule.Overlap) keeps it through them. A run cancelled by a shutdown or a
// lost lease is not tried again. Every try is an EventFired and an
// EventFinished, numbered by Event.Retry and Firing.Retry, and counted in
// the rule's Runs (Retries among them) and history (SlotRecord.Tries).
type Retry struct {
	// Attempts is how many times a failed run is tried again: 1 to
	// MaxRetries.
	Attempts int
	// Backoff bounds the wait before the first retry; zero is
	// DefaultRetryBackoff.
	Backoff time.Duration
	// MaxBackoff caps the bound as it doubles; zero leaves only the slot's
	// end as a cap.
	MaxBackoff time.Duration
}

// DefaultRetryBackoff bounds the wait before a first retry when
// Retry.Backoff is zero.
const DefaultRetryBackoff = time.Second

// MaxRetries bounds Retry.Attempts: a slot's tries are counted in a byte.
const MaxRetries = 100

// problem says what is wrong with r, naming its field, or "".
func (r *Retry) problem() (field, problem string) {
	switch {
	case r.Attempts < 1 || r.Attempts > MaxRetries:
		return "Retry.Attempts", fmt.Sprintf("must be 1 to %d, got %d", MaxRetries, r.Attempts)
	case r.Backoff < 0:
		return "Retry.Backoff", "must be >= 0, got " + r.Backoff.String()
	case r.MaxBackoff < 0:
		return "Retry.MaxBackoff", "must be >= 0, got " + r.MaxBackoff.String()
	case r.MaxBackoff != 0 && r.MaxBackoff < r.backoff():
		return "Retry.MaxBackoff", "must be at least Backoff (" + r.backoff().String() + "), got " + r.MaxBackoff.String()
	}
	return "", ""
}

func (r *Retry) backoff() time.Duration {
	if r.Backoff == 0 {
		return DefaultRetryBackoff
	}
	return r.Backoff
}

// wait is how long retry n (from 1) waits: at random below its bound.
func (r *Retry) wait(n int) time.Duration {
	bound := r.backoff()
	for i := 1; i < n && (r.MaxBackoff == 0 || bound < r.MaxBackoff) && bound < time.Duration(1)<<62; i++ {
		bound *= 2
	}
	if r.MaxBackoff != 0 {
		bound = min(bound, r.MaxBackoff)
	}
	return rand.N(bound)
}

// retryRun tries a turn's failed run again, as its rule's Retry says, while
// the slot lasts; it returns the last try's error.
func (m *Manager) retryRun(ctx context.Context, f *turn, ex *Exchange, err error) error {
	r := f.e.rule.Retry
	for n := 1; n <= r.Attempts && err != nil && ctx.Err() == nil; n++ {
		wait := r.wait(n)
		if wait >= f.slot.End.Sub(m.now()) {
			break // no time left in the slot
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		// The real clock read first, the slots' after: the deadline is not
		// past the slot's end by the time between the two readings.
		start := time.Now()
		left := f.slot.End.Sub(m.now())
		if left <= 0 {
			break
		}
		tctx, cancel := context.WithDeadlineCause(ctx, start.Add(left), ErrSlotEnded)
		err = m.try(tctx, f, ex, start, uint8(n))
		cancel()
	}
	return err
}
