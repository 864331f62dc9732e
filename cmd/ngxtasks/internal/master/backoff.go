package master

import "time"

// Restart backoff: a worker that keeps dying is restarted less and less
// often, up to maxBackoff; one that ran for resetAfter starts over.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	resetAfter = 30 * time.Second
)

// backoff is the wait before each restart of one worker: min at first,
// twice the last wait after each exit, up to max, and min again after a
// process that ran longer than resetAfter — a worker that died of a
// passing cause is not held back by its old failures.
type backoff struct {
	min, max, resetAfter time.Duration
	last                 time.Duration // the last wait; 0 before the first
}

// next returns the wait before starting the process after one that ran
// for ran.
func (b *backoff) next(ran time.Duration) time.Duration {
	if b.last == 0 || ran > b.resetAfter {
		b.last = b.min
	} else {
		b.last = min(2*b.last, b.max)
	}
	return b.last
}
