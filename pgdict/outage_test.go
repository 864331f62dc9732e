package pgdict

import (
	"testing"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

// TestOutageRefusesClaimsThenRecovers stops the shared server for 5 s
// (dicttest.Outage); it runs only when asked to (NGXTASKS_OUTAGE=1), alone.
func TestOutageRefusesClaimsThenRecovers(t *testing.T) {
	stop, start := dicttest.ServerControl(t, "NGXTASKS_POSTGRES_CTL")
	dicttest.Outage(t, openTest(t), stop, start)
}
