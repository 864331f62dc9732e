package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/master"
)

// binary is the ngxtasks command built once for the package's tests: the
// tests run it as a user would, in real processes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ngxtasks-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ngxtasks")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ngxtasks: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one `ngxtasks run` in its own process group, logging JSON.
type instance struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string // of the status listener
	log  *logLines
	done chan struct{}
	err  error // of Wait, once done is closed
}

// logLines keeps the JSON log lines of an instance.
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
	raw   bytes.Buffer
}

func (l *logLines) consume(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for s.Scan() {
		var line map[string]any
		l.mu.Lock()
		l.raw.Write(s.Bytes())
		l.raw.WriteByte('\n')
		if json.Unmarshal(s.Bytes(), &line) == nil {
			l.lines = append(l.lines, line)
		}
		l.mu.Unlock()
	}
}

// find returns the lines whose msg is msg.
func (l *logLines) find(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range l.lines {
		if line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}

// writeFile writes a file atomically, as an editor that renames would.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// start runs `ngxtasks run -c config` with a listener on a spare loopback
// port, and waits until workers workers are ready.
func start(t testing.TB, config string, workers int, args ...string) *instance {
	t.Helper()
	return startEnv(t, nil, config, workers, args...)
}

// startEnv is start with variables added to the environment.
func startEnv(t testing.TB, env []string, config string, workers int, args ...string) *instance {
	t.Helper()
	return startBinary(t, binary, env, config, workers, args...)
}

// startBinary is startEnv with another build of the command.
func startBinary(t testing.TB, bin string, env []string, config string, workers int, args ...string) *instance {
	t.Helper()
	args = append([]string{"run", "-c", config, "--listen", "127.0.0.1:0", "--log-format", "json", "--workers", strconv.Itoa(workers)}, args...)
	in := runBinary(t, bin, env, args)
	in.waitFor("the listener and every worker", 30*time.Second, func() bool {
		if ls := in.log.find("ngxtasks: status and metrics"); len(ls) > 0 {
			in.url, _ = ls[0]["url"].(string)
		}
		return in.url != "" && len(in.log.find("ngxtasks: worker ready")) >= workers
	})
	return in
}

// startArgs runs ngxtasks with args, in its own process group, killed
// with its group when the test ends.
func startArgs(t testing.TB, env []string, args []string) *instance {
	t.Helper()
	return runBinary(t, binary, env, args)
}

// runBinary is startArgs with another build of the command.
func runBinary(t testing.TB, bin string, env []string, args []string) *instance {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, cmd: cmd, log: &logLines{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		in.log.consume(stderr)
		in.err = cmd.Wait()
		close(in.done)
	}()
	t.Cleanup(func() {
		// Whatever the test did: the master's group (it and its
		// workers) goes.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-in.done
		if t.Failed() {
			t.Logf("log of the instance:\n%s", in.log)
		}
	})
	return in
}

// waitFor polls cond every 20 ms for at most limit.
func (in *instance) waitFor(what string, limit time.Duration, cond func() bool) {
	in.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case <-in.done:
			in.t.Fatalf("ngxtasks exited (%v) while waiting for %s", in.err, what)
		default:
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches a document of the listener.
func (in *instance) get(doc string, header ...string) (int, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.url+doc, nil)
	if err != nil {
		in.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return resp.StatusCode, body
}

// workers reads /workers.json.
func (in *instance) workers() []master.WorkerInfo {
	in.t.Helper()
	code, body := in.get("workers.json")
	var ws []master.WorkerInfo
	if code != http.StatusOK || json.Unmarshal(body, &ws) != nil {
		in.t.Fatalf("workers.json: %d %s", code, body)
	}
	return ws
}

// signal sends sig to the master alone.
func (in *instance) signal(sig syscall.Signal) {
	in.t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		in.t.Fatal(err)
	}
}

// wait waits for the master to exit, for at most limit.
func (in *instance) wait(limit time.Duration) error {
	in.t.Helper()
	select {
	case <-in.done:
		return in.err
	case <-time.After(limit):
		in.t.Fatalf("ngxtasks did not exit within %v", limit)
		return nil
	}
}

// gone reports whether no process has pid (or it is a zombie of ours).
func gone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err == syscall.ESRCH {
		return true
	}
	b, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return rerr == nil && strings.Contains(string(b), ") Z ")
}

// waitGone waits up to limit for every pid to be gone.
func waitGone(t testing.TB, pids []int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var alive []int
		for _, pid := range pids {
			if !gone(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still alive %v after %v: %v", limit, limit, alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ngxtasks runs the binary to completion and returns its exit code and output.
func ngxtasks(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	return ngxtasksEnv(t, nil, args...)
}

// ngxtasksEnv is ngxtasks with variables added to the environment.
func ngxtasksEnv(t testing.TB, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}
