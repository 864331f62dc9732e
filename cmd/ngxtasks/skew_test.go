package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/dicttest"
)

// skewBinary is the command built with -tags ngxtasks_testclock, whose
// workers offset their clock by $NGXTASKS_TEST_CLOCK_OFFSET; built once,
// for the tests that need it.
var skewBinary = sync.OnceValues(func() (string, error) {
	bin := binary + "-testclock"
	out, err := exec.Command("go", "build", "-tags", "ngxtasks_testclock", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building ngxtasks with the test clock: %v\n%s", err, out)
	}
	return bin, nil
})

// TestSkewedFleetRunsNoSlotTwice runs five instances of the command on one
// Redis, one worker each, with clocks at −8, −4, 0, +4 and +8 s and no clock
// setting in the rule file: no preemption slot runs twice. (Before, all
// 4,074 slots measured in such a fleet ran more than once.) The workers
// beyond half the default tolerance (2.5 s) leave their slots to the others,
// so every slot still runs, by the worker whose clock is right.
func TestSkewedFleetRunsNoSlotTwice(t *testing.T) {
	t.Parallel()
	redis := dicttest.ServerURL(t, "NGXTASKS_REDIS_URL")
	bin, err := skewBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	var b strings.Builder
	fmt.Fprintf(&b, "namespace: skew-%s\nrules:\n", uniqueSuffix())
	for i := range 4 {
		fmt.Fprintf(&b, "  - id: p%d\n    interval: 1s\n    type: preemption\n    exec:\n      shell: true\n", i)
		fmt.Fprintf(&b, "      command: 'echo \"$NGXTASKS_RULE $NGXTASKS_SLOT $NGXTASKS_WORKER x $NGXTASKS_SCHEDULED\" >> %s'\n", runs)
	}
	began := time.Now()
	for i, skew := range []time.Duration{-8 * time.Second, -4 * time.Second, 0, 4 * time.Second, 8 * time.Second} {
		own := filepath.Join(dir, fmt.Sprintf("i%d", i)) // its own state_dir
		if err := os.Mkdir(own, 0o755); err != nil {
			t.Fatal(err)
		}
		config := filepath.Join(own, "rules.yaml")
		writeFile(t, config, b.String())
		startBinary(t, bin, []string{"NGXTASKS_TEST_CLOCK_OFFSET=" + skew.String()}, config, 1,
			"--dict", redis, "--listen", "127.0.0.1:0")
	}
	time.Sleep(15 * time.Second)
	ended := time.Now()

	byRule := runsOnce(t, runs, "p0", "p1", "p2", "p3")
	// Liveness, for the slots wholly inside the run, a second of starting
	// and of stopping aside: the worker with the right clock ran them.
	for rule, lines := range byRule {
		seen := map[int64]bool{}
		for _, l := range lines {
			seen[l.slot] = true
		}
		from, to := began.Add(2*time.Second).Unix(), ended.Add(-time.Second).Unix()
		missing := 0
		for s := from; s < to; s++ {
			if !seen[s] {
				missing++
			}
		}
		if missing > 1 {
			t.Errorf("%s: %d of the %d slots from %d to %d did not run", rule, missing, to-from, from, to)
		}
	}
	if len(byRule) != 4 {
		t.Errorf("runs of %d rules; want 4", len(byRule))
	}
}
