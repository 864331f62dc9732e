//go:build ngxtasks_testclock

package worker

import (
	"os"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// clock, in a test build only, is the real clock offset by
// $NGXTASKS_TEST_CLOCK_OFFSET (a Go duration): the command's tests run
// fleets of real processes whose clocks disagree. A release build has no
// such variable (clock.go).
func clock() ngxtasks.Clock {
	d, err := time.ParseDuration(os.Getenv("NGXTASKS_TEST_CLOCK_OFFSET"))
	if err != nil || d == 0 {
		return nil
	}
	return offsetClock(d)
}

type offsetClock time.Duration

func (c offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c)) }
