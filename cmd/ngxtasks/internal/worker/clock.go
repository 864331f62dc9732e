//go:build !ngxtasks_testclock

package worker

import "github.com/ngxtasks/ngxtasks"

// clock is the manager's clock: the real one. A test build
// (-tags ngxtasks_testclock, see testclock.go) offsets it, so that a
// fleet of real processes can run with skewed clocks.
func clock() ngxtasks.Clock { return nil }
