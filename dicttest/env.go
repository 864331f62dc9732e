package dicttest

import (
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
)

// ServerURL returns the URL of a test server from the environment variable
// env. Without it the test is skipped, or fails when CI is set: there the
// test script must have started the server.
func ServerURL(t testing.TB, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI; run the tests through scripts/test", env)
		}
		t.Skipf("%s is not set; source scripts/services to start the servers", env)
	}
	return u
}

// ServerControl returns functions that stop and start a test server through
// the control program named by the environment variable env (one taking
// the verbs stop and start, as scripts/services writes them). A server left
// stopped is started again when the test ends, however it ends. Stopping a
// shared server disturbs every other test using it, so the test is skipped
// unless NGXTASKS_OUTAGE is set, which means it runs alone. Without env it
// is skipped, or fails when CI is set.
func ServerControl(t testing.TB, env string) (stop, start func() error) {
	t.Helper()
	if os.Getenv("NGXTASKS_OUTAGE") == "" {
		t.Skip("stops the shared server: set NGXTASKS_OUTAGE=1 and run it alone")
	}
	ctl := ServerURL(t, env) // the same rules: skipped, or failed in CI
	run := func(verb string) error {
		if out, err := exec.Command(ctl, verb).CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %w\n%s", ctl, verb, err, out)
		}
		return nil
	}
	var down atomic.Bool // stopped and not started since
	t.Cleanup(func() {
		if down.Load() {
			_ = run("start")
		}
	})
	stop = func() error {
		down.Store(true)
		return run("stop")
	}
	start = func() error {
		err := run("start")
		if err == nil {
			down.Store(false)
		}
		return err
	}
	return stop, start
}
