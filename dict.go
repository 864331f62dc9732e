package ngxtasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// A Dict is the shared dictionary that decides which worker runs a
// Preemption slot. Two operations are all the manager needs:
//
//   - Add stores value under key unless a live (unexpired) entry holds key,
//     and reports whether it stored. It must be atomic across every worker
//     sharing the dictionary: of concurrent Adds of one key, at most one
//     returns true while the entry lives. The entry expires ttl after the
//     store applied it.
//   - Get returns the value of the live entry under key (who won a slot).
//
// When Add returns an error the manager does not run the slot (fail closed),
// so an implementation may return an error whenever it cannot tell whether it
// stored. Close releases the dictionary; later calls return ErrClosed.
//
// Keys are at most MaxKeyLen bytes and values at most MaxValueLen; CheckEntry
// validates both for implementations.
type Dict interface {
	Add(ctx context.Context, key, value string, ttl time.Duration) (added bool, err error)
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	Close() error
}

// LoggerFrom returns the Logger of the manager on whose behalf a
// dictionary is called with ctx (every context a manager passes to its Dict
// carries it), or nil. A backend whose client library logs sends those
// lines there, rather than to the library's own default (often stderr),
// so that they reach the handler the program chose.
func LoggerFrom(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	return l
}

type loggerKey struct{}

// BatchAdder is implemented by dictionaries that can make many Adds in one
// round trip. AddBatch sets Added or Err of every element; it returns an error
// only when none of them could be attempted.
type BatchAdder interface {
	AddBatch(ctx context.Context, adds []Add) error
}

// Add is one element of a batch.
type Add struct {
	Key, Value string
	TTL        time.Duration
	Added      bool  // set by AddBatch
	Err        error // set by AddBatch
}

// Setter is implemented by dictionaries that can store a value whatever the
// key holds. Rules with CatchUp keep their last run with it, which needs an
// overwrite that Add, by design, never makes.
type Setter interface {
	Set(ctx context.Context, key, value string, ttl time.Duration) error
}

// StoreClock is implemented by dictionaries whose server can tell the time,
// for managers that compute slots from the store's clock.
type StoreClock interface {
	Now(ctx context.Context) (time.Time, error)
}

// Size limits every dictionary accepts; beyond them Add and Get fail with
// ErrTooLarge before reaching the store.
const (
	MaxKeyLen   = 1024
	MaxValueLen = 1024
)

var (
	// ErrTooLarge is matched by errors about keys or values over the limits.
	ErrTooLarge = errors.New("ngxtasks: key or value too large")
	// ErrInvalidEntry is matched by errors about empty keys or ttl <= 0.
	ErrInvalidEntry = errors.New("ngxtasks: invalid dictionary entry")
)

// CheckEntry validates an Add's arguments; pass ttl 1 to check a Get's key.
func CheckEntry(key, value string, ttl time.Duration) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidEntry)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key is %d bytes, limit %d", ErrTooLarge, len(key), MaxKeyLen)
	case len(value) > MaxValueLen:
		return fmt.Errorf("%w: value is %d bytes, limit %d", ErrTooLarge, len(value), MaxValueLen)
	case ttl <= 0:
		return fmt.Errorf("%w: ttl %v must be > 0", ErrInvalidEntry, ttl)
	}
	return nil
}
