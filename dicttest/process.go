package dicttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// childEnv marks a process started by RunProcesses; its value is the
// childSpec, as JSON.
const childEnv = "NGXTASKS_DICTTEST_CHILD"

// childSpec is what a child is asked to do.
type childSpec struct {
	URL    string
	Prefix string
	Keys   int
}

// The lines a child writes on stdout. The parent answers "ready" with the
// start instant, in Unix nanoseconds, on the child's stdin.
const (
	lineReady = "ready"
	lineWon   = "won" // won <key index>
	lineDone  = "done"
)

// processTimeout bounds a whole RunProcesses: children are killed after it.
const processTimeout = 2 * time.Minute

// Child runs this process as a child of RunProcesses, and exits, when it
// was started as one; otherwise it returns at once. Call it first thing in
// the TestMain of a package that calls RunProcesses.
func Child() {
	raw, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	var spec childSpec
	err := json.Unmarshal([]byte(raw), &spec)
	if err == nil {
		err = runChild(spec, os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dicttest child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild opens the dictionary, says it is ready, waits for the start
// instant, then adds every key in order with its pid as the value and
// reports each it stored. Every child walks the keys in the same order, so
// that they contend for each key at about the same moment.
func runChild(spec childSpec, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	d, err := ngxtasks.OpenDict(ctx, spec.URL)
	if err != nil {
		return err
	}
	defer d.Close()
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, lineReady)
	if err := w.Flush(); err != nil {
		return err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for the start instant: %w", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return fmt.Errorf("start instant %q: %w", line, err)
	}
	time.Sleep(time.Until(time.Unix(0, ns)))
	me := strconv.Itoa(os.Getpid())
	for i := range spec.Keys {
		added, err := d.Add(ctx, spec.Prefix+strconv.Itoa(i), me, processTimeout)
		if err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		if added {
			fmt.Fprintln(w, lineWon, i)
		}
	}
	fmt.Fprintln(w, lineDone)
	return w.Flush()
}

// child is one process of RunProcesses, as the parent sees it.
type child struct {
	cmd    *exec.Cmd
	pid    string
	stdin  io.WriteCloser
	stderr *bytes.Buffer // what it said on stderr; read it after cmd.Wait
	ready  chan struct{} // closed when the child said ready
	lines  chan struct{} // closed when its stdout ended; then:
	wins   []int         // the keys it stored,
	done   bool          // whether it finished its keys,
	err    error         // and an error reading its stdout
}

// RunProcesses starts procs copies of the test binary (os.Args[0], with
// -test.run=^$ so that no test runs in them), which open dictURL with
// ngxtasks.OpenDict and, once all are connected, start at one instant to
// add the same 500 keys, each with its pid as the value. Each key must be
// stored by exactly one process, whose pid Get then returns.
//
// The package's TestMain must call Child first. The scheme's backend
// package must be imported by the test binary, as OpenDict needs.
func RunProcesses(t *testing.T, dictURL string, procs int) {
	t.Helper()
	const keys = 500
	spec := childSpec{URL: dictURL, Prefix: "dicttest:" + randomHex() + ":proc:", Keys: keys}
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	t.Cleanup(cancel) // kills any child still running (CommandContext)

	children := make([]*child, procs)
	for p := range children {
		ch, err := startChild(ctx, string(raw), keys)
		if err != nil {
			t.Fatalf("start process %d: %v", p, err)
		}
		t.Cleanup(func() { _ = ch.cmd.Process.Kill(); <-ch.lines; _ = ch.cmd.Wait() })
		children[p] = ch
	}
	for p, ch := range children {
		select {
		case <-ch.ready:
		case <-ch.lines:
			_ = ch.cmd.Wait()
			t.Fatalf("process %d ended before it was ready (does TestMain call dicttest.Child first?)\n%s", p, ch.stderr)
		case <-ctx.Done():
			t.Fatalf("process %d not ready after %v", p, processTimeout)
		}
	}
	// Every child has its connection: start them all 50 ms from now.
	start := strconv.FormatInt(time.Now().Add(50*time.Millisecond).UnixNano(), 10) + "\n"
	for _, ch := range children {
		_, _ = io.WriteString(ch.stdin, start)
		_ = ch.stdin.Close()
	}

	winners := make([][]string, keys)
	for p, ch := range children {
		<-ch.lines
		werr := ch.cmd.Wait()
		switch {
		case ctx.Err() != nil:
			t.Errorf("process %d killed after %v", p, processTimeout)
		case werr != nil || ch.err != nil || !ch.done:
			t.Errorf("process %d (pid %s): exit %v, read %v, finished %v\n%s", p, ch.pid, werr, ch.err, ch.done, ch.stderr)
		}
		for _, i := range ch.wins {
			winners[i] = append(winners[i], ch.pid)
		}
	}
	if t.Failed() {
		return
	}
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
			t.Errorf("Get of key %d = %q, %v, %v; want the winner's pid %s", i, v, ok, err, w[0])
		}
	}
}

// startChild starts one child and a goroutine reading its stdout.
func startChild(ctx context.Context, spec string, keys int) (*child, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+spec)
	ch := &child{cmd: cmd, ready: make(chan struct{}), lines: make(chan struct{}), stderr: new(bytes.Buffer)}
	cmd.Stderr = ch.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch.stdin, ch.pid = stdin, strconv.Itoa(cmd.Process.Pid)
	go ch.read(stdout, keys)
	return ch, nil
}

// read records a child's lines until its stdout ends. The parent reads
// ch.wins, ch.done and ch.err only after ch.lines is closed.
func (ch *child) read(r io.Reader, keys int) {
	defer close(ch.lines)
	ready := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == lineReady && !ready:
			ready = true
			close(ch.ready)
		case len(f) == 1 && f[0] == lineDone:
			ch.done = true
		case len(f) == 2 && f[0] == lineWon:
			i, err := strconv.Atoi(f[1])
			if err != nil || i < 0 || i >= keys {
				ch.err = fmt.Errorf("bad line %q", sc.Text())
				continue
			}
			ch.wins = append(ch.wins, i)
		}
	}
	if ch.err == nil {
		ch.err = sc.Err()
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
