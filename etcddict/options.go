package etcddict

import (
	"errors"
	"fmt"
	"time"
)

// ErrBadConfig is matched (errors.Is) by errors about a malformed URL, an
// invalid option or unusable TLS files.
var ErrBadConfig = errors.New("etcddict: invalid configuration")

// An Option changes a setting of New. The URL parameters of the same names
// (see the package documentation) set them for OpenDict.
type Option func(*settings) error

type settings struct {
	latency      time.Duration
	window       time.Duration
	fixedWindow  bool
	concurrency  int
	maxTxnOps    int
	grantTimeout time.Duration
}

// Defaults. etcd's own default --max-txn-ops is 128; a server with a lower
// limit is found out by the first batch it refuses.
const (
	defaultLatency      = time.Second
	defaultConcurrency  = 8
	defaultMaxTxnOps    = 128
	defaultGrantTimeout = 10 * time.Second

	// maxTTL bounds a claim's ttl, so that ttl plus window and allowance
	// stays far from overflowing a Duration and below etcd's longest lease
	// (9e9 s). A hundred years is beyond any slot.
	maxTTL = 100 * 365 * 24 * time.Hour
	// maxSetting bounds the durations set by options.
	maxSetting = 24 * time.Hour
)

func defaults() settings {
	return settings{
		latency:      defaultLatency,
		concurrency:  defaultConcurrency,
		maxTxnOps:    defaultMaxTxnOps,
		grantTimeout: defaultGrantTimeout,
	}
}

// WithLatencyAllowance sets how long a claim's request may take (default
// 1 s). A claim takes a lease that outlives its ttl by at least this much,
// and an answer that comes later than the lease allows is an error (the key
// might live less than ttl). A larger allowance makes keys live longer.
func WithLatencyAllowance(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 || d > maxSetting {
			return fmt.Errorf("latency allowance %v must be in (0, %v]", d, maxSetting)
		}
		s.latency = d
		return nil
	}
}

// WithReuseWindow sets for how long a lease serves further claims of the
// same ttl, which is also how much longer than asked a key may live.
// Without it the window is a quarter of the claim's ttl, at least a second.
// Zero grants a lease for each second of claims.
func WithReuseWindow(d time.Duration) Option {
	return func(s *settings) error {
		if d < 0 || d > maxSetting {
			return fmt.Errorf("reuse window %v must be in [0, %v]", d, maxSetting)
		}
		s.window, s.fixedWindow = d, true
		return nil
	}
}

// WithConcurrency sets how many transactions one AddBatch sends at once
// (default 8).
func WithConcurrency(n int) Option {
	return func(s *settings) error {
		if n < 1 || n > 1024 {
			return fmt.Errorf("concurrency %d must be in [1, 1024]", n)
		}
		s.concurrency = n
		return nil
	}
}

// WithMaxTxnOps sets how many claims AddBatch puts in one transaction: at
// most the server's --max-txn-ops (default 128, which is this default too).
func WithMaxTxnOps(n int) Option {
	return func(s *settings) error {
		if n < 1 || n > 1<<16 {
			return fmt.Errorf("max txn ops %d must be in [1, 65536]", n)
		}
		s.maxTxnOps = n
		return nil
	}
}
