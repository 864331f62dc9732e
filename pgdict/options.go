package pgdict

import (
	"errors"
	"fmt"
	"time"
)

// ErrBadConfig is matched (errors.Is) by errors about a malformed URL or
// option.
var ErrBadConfig = errors.New("pgdict: invalid configuration")

// An Option changes how New and Open set up a Dict.
type Option func(*config) error

type config struct {
	table   string
	cleanup time.Duration
}

// WithTable names the table, "name" or "schema.name", instead of ngxtasks_claims.
func WithTable(name string) Option {
	return func(c *config) error {
		c.table = name
		return nil
	}
}

// WithCleanupInterval sets how often a goroutine deletes expired rows; 0 turns it
// off (DeleteExpired can then be called by the program). Default one minute.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: cleanup interval %v is negative", ErrBadConfig, d)
		}
		c.cleanup = d
		return nil
	}
}
