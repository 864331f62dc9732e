package dicttest

import (
	"fmt"
	"os"
	"os/exec"
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
// the verbs stop and start, as scripts/services writes them). Stopping a
// shared server disturbs every other test using it, so the test is skipped
// unless NGXTASKS_OUTAGE is set, which means it runs alone. Without env it
// is skipped, or fails when CI is set.
func ServerControl(t testing.TB, env string) (stop, start func() error) {
	t.Helper()
	if os.Getenv("NGXTASKS_OUTAGE") == "" {
		t.Skip("stops the shared server: set NGXTASKS_OUTAGE=1 and run it alone")
	}
	ctl := ServerURL(t, env) // the same rules: skipped, or failed in CI
	verb := func(v string) func() error {
		return func() error {
			if out, err := exec.Command(ctl, v).CombinedOutput(); err != nil {
				return fmt.Errorf("%s %s: %w\n%s", ctl, v, err, out)
			}
			return nil
		}
	}
	return verb("stop"), verb("start")
}
