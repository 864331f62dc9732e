package sqlitedict

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// ErrBadConfig is matched by the errors of Open and OpenFile about their
// arguments: the URL, its parameters, the options or the path. They name
// the part at fault.
var ErrBadConfig = errors.New("sqlitedict: invalid configuration")

// An Option changes how OpenFile and Open set up a Dict.
type Option func(*config) error

type config struct {
	table   string
	busy    time.Duration
	cleanup time.Duration
}

func defaults() config {
	return config{table: "ngxtasks_claims", busy: 5 * time.Second, cleanup: 10 * time.Second}
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// WithTable sets the table's name: letters, digits and underscores. The
// leases go in the table of that name plus "_leases", which no other
// dictionary's table should be named.
func WithTable(name string) Option {
	return func(c *config) error {
		if !tableName.MatchString(name) {
			return fmt.Errorf("table %q: want letters, digits and underscores, not starting with a digit", name)
		}
		c.table = name
		return nil
	}
}

// WithBusyTimeout sets how long a write waits for another process's lock on the
// file before it fails. It is rounded down to a millisecond; 0 means fail at
// once.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("busy_timeout %v: must be >= 0", d)
		}
		c.busy = d
		return nil
	}
}

// WithCleanupInterval sets how often expired rows are deleted; 0 turns the
// cleanup goroutine off (call DeleteExpired yourself).
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("cleanup %v: must be >= 0", d)
		}
		c.cleanup = d
		return nil
	}
}
