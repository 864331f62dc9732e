package dicttest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

const childEnv = "NGXTASKS_DICTTEST_CHILD"

// childSpec is what a child process is asked to do, passed in childEnv.
type childSpec struct {
	URL    string
	Prefix string
	Keys   int
	Start  time.Time // when to begin, so that all children race
}

// Child runs this process as a child of RunProcesses, and exits, when it
// was started as one; otherwise it returns at once. Call it first thing in
// the TestMain of a package that calls RunProcesses.
func Child() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "dicttest child:", err)
		os.Exit(2)
	}
	if err := runChild(spec); err != nil {
		fmt.Fprintln(os.Stderr, "dicttest child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild adds every key, in an order of its own, with its pid as the
// value, and prints "won <key>" for each it stored.
func runChild(spec childSpec) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := ngxtasks.OpenDict(ctx, spec.URL)
	if err != nil {
		return err
	}
	defer d.Close()
	me := strconv.Itoa(os.Getpid())
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	time.Sleep(time.Until(spec.Start))
	for i := range spec.Keys {
		// Half the children go forwards and half backwards, so that they
		// meet on every key rather than trail each other.
		if os.Getpid()%2 == 1 {
			i = spec.Keys - 1 - i
		}
		added, err := d.Add(ctx, spec.Prefix+strconv.Itoa(i), me, 10*time.Minute)
		if err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		if added {
			fmt.Fprintf(out, "won %d\n", i)
		}
	}
	return nil
}

// RunProcesses starts procs copies of the test binary, which open dictURL
// with ngxtasks.OpenDict and race to add the same 500 keys: each key must
// be stored by exactly one process, whose pid Get then returns.
func RunProcesses(t *testing.T, dictURL string, procs int) {
	t.Helper()
	const keys = 500
	spec := childSpec{URL: dictURL, Prefix: "dicttest:" + randomHex() + ":proc:", Keys: keys,
		Start: time.Now().Add(time.Second)}
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		winners = make([][]string, keys)
		wg      sync.WaitGroup
	)
	cmds := make([]*exec.Cmd, procs)
	for p := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		cmds[p] = cmd
		pid := strconv.Itoa(cmd.Process.Pid)
		wg.Go(func() { readWins(stdout, pid, &mu, winners) })
	}
	timeout := time.AfterFunc(90*time.Second, func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
		}
	})
	defer timeout.Stop()
	wg.Wait()
	for p, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v", p, err)
		}
	}
	if t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := ngxtasks.OpenDict(ctx, dictURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i, w := range winners {
		if len(w) != 1 {
			t.Errorf("key %d stored by %d processes %v, want exactly 1", i, len(w), w)
			continue
		}
		if v, ok, err := d.Get(ctx, spec.Prefix+strconv.Itoa(i)); err != nil || !ok || v != w[0] {
			t.Errorf("Get of key %d = %q, %v, %v; want the winner %s", i, v, ok, err, w[0])
		}
	}
}

// readWins records the "won <key>" lines of one child.
func readWins(r io.Reader, pid string, mu *sync.Mutex, winners [][]string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || f[0] != "won" {
			continue
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 0 || i >= len(winners) {
			continue
		}
		mu.Lock()
		winners[i] = append(winners[i], pid)
		mu.Unlock()
	}
}

// OpenURL returns an Opener that opens rawURL with ngxtasks.OpenDict, for
// backends that register a scheme.
func OpenURL(rawURL string) Opener {
	return func(t testing.TB) ngxtasks.Dict {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := ngxtasks.OpenDict(ctx, rawURL)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
}
