package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The listener's bounds, as the master sets them (package master).
const (
	listenerIdleTimeout = 30 * time.Second
	listenerMaxConns    = 64
)

// request sends one request to the instance's listener, naming host in
// its Host header ("" for the listener's address), with header's pairs.
func (in *instance) request(method, doc, host string, header ...string) (int, http.Header, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.url+doc, nil)
	if err != nil {
		in.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, doc, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// openFiles counts the open descriptors of process pid.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// oneRule is a rule file whose rule does nothing, rarely.
const oneRule = `rules:
  - id: quiet
    interval: 1h
    type: normal
    exec: {argv: ["true"]}
`

func quietInstance(t *testing.T, env ...string) (*instance, string) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, oneRule)
	return startEnv(t, env, config, 1), config
}

// TestListenerBoundsAndClosesIdleConnections: 300 connections that send
// nothing, or one request and then nothing, hold no more than the listener's
// limit of the master's descriptors, a request meanwhile is answered, and
// they are closed within the idle timeout.
func TestListenerBoundsAndClosesIdleConnections(t *testing.T) {
	t.Parallel()
	in, _ := quietInstance(t)
	pid := in.cmd.Process.Pid
	if code, _, _ := in.request(http.MethodGet, "workers.json", ""); code != http.StatusOK {
		t.Fatalf("workers.json: %d", code)
	}
	base := openFiles(t, pid)
	addr := strings.TrimSuffix(strings.TrimPrefix(in.url, "http://"), "/")

	most := base
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 300 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 1 { // a keep-alive request, then silence
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET /workers.json HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} // else: closed for a newer connection, as it should be
		}
		most = max(most, openFiles(t, pid))
	}
	if code, _, _ := in.request(http.MethodGet, "workers.json", ""); code != http.StatusOK {
		t.Fatalf("workers.json with 300 connections open: %d", code)
	}
	most = max(most, openFiles(t, pid))
	if limit := base + listenerMaxConns + 8; most > limit {
		t.Errorf("the master held %d open files with 300 idle connections (%d before): more than %d", most, base, limit)
	}

	deadline := time.Now().Add(listenerIdleTimeout + 20*time.Second)
	for {
		n := openFiles(t, pid)
		if n <= base+4 {
			t.Logf("open files: %d before, at most %d with 300 idle connections, %d after", base, most, n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the master still holds %d open files (%d before, at most %d) %v after 300 idle connections were opened", n, base, most, listenerIdleTimeout+20*time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestListenerHostMustBeLoopbackWithoutAToken: without a token the listener
// answers requests for loopback names only, for a page of another site may
// rebind its name to 127.0.0.1; with one, any name that brings the token.
func TestListenerHostMustBeLoopbackWithoutAToken(t *testing.T) {
	t.Parallel()
	in, _ := quietInstance(t)
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(in.url, "http://"), "/"))
	for _, host := range []string{"", "localhost", "localhost:" + port, "LocalHost:" + port, "127.0.0.1", "127.3.2.1:" + port, "[::1]:" + port, "[::1]"} {
		for _, doc := range []string{"status.json", "workers.json", "metrics", ""} {
			if code, _, body := in.request(http.MethodGet, doc, host); code != http.StatusOK {
				t.Errorf("Host %q, /%s: %d %.200s", host, doc, code, body)
			}
		}
	}
	for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.1:" + port, "[::2]:" + port} {
		for _, doc := range []string{"status.json", "workers.json", "metrics", "", "app.js"} {
			code, _, body := in.request(http.MethodGet, doc, host)
			if code != http.StatusForbidden || !strings.Contains(string(body), "only requests for localhost or a loopback address") {
				t.Errorf("Host %q, /%s: %d %.200s; want 403", host, doc, code, body)
			}
		}
	}

	tok, _ := quietInstance(t, "NGXTASKS_TOKEN=host-token")
	for _, doc := range []string{"status.json", "workers.json", "metrics"} {
		if code, _, body := tok.request(http.MethodGet, doc, "status.example.org", "Authorization", "Bearer host-token"); code != http.StatusOK {
			t.Errorf("with the token, Host status.example.org, /%s: %d %.200s", doc, code, body)
		}
		if code, _, _ := tok.request(http.MethodGet, doc, "status.example.org"); code != http.StatusUnauthorized {
			t.Errorf("without the token, Host status.example.org, /%s: %d, want 401", doc, code)
		}
	}
}

// TestListenerIsReadOnlyOnEveryPath: the listener is read only, every path
// of it.
func TestListenerIsReadOnlyOnEveryPath(t *testing.T) {
	t.Parallel()
	in, _ := quietInstance(t)
	for _, doc := range []string{"metrics", "workers.json", "status.json", "history.json?rule=quiet", "", "app.js"} {
		for _, method := range []string{http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch, "TRACE", http.MethodOptions} {
			code, h, _ := in.request(method, doc, "")
			if code != http.StatusMethodNotAllowed || h.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s /%s: %d, Allow %q; want 405, GET, HEAD", method, doc, code, h.Get("Allow"))
			}
		}
		if code, _, _ := in.request(http.MethodHead, doc, ""); code != http.StatusOK {
			t.Errorf("HEAD /%s: %d", doc, code)
		}
	}
}

// TestListenerTokenGuardsTheDataAndAnUnsendableOneIsRefused: a token read
// with its trailing newline (a secret file's) is the token without it, for
// the master and `ngxtasks status`; the page's shell is served without it,
// its data only with it; a token that no header can carry is refused at
// start, naming its variable and not its value.
func TestListenerTokenGuardsTheDataAndAnUnsendableOneIsRefused(t *testing.T) {
	t.Parallel()
	env := []string{"NGXTASKS_TOKEN=s3cret-token\n"}
	in, config := quietInstance(t, env...)
	if code, _, _ := in.request(http.MethodGet, "status.json", ""); code != http.StatusUnauthorized {
		t.Errorf("status.json without the token: %d, want 401", code)
	}
	for _, doc := range []string{"status.json", "history.json?rule=quiet", "workers.json", "metrics"} {
		if code, _, body := in.request(http.MethodGet, doc, "", "Authorization", "Bearer s3cret-token"); code != http.StatusOK {
			t.Errorf("%s with the token: %d %.200s", doc, code, body)
		}
		if code, _, _ := in.request(http.MethodGet, doc, "", "Authorization", "Bearer s3cret-tokeN"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", doc, code)
		}
	}
	for _, doc := range []string{"", "app.js", "app.css"} {
		code, _, body := in.request(http.MethodGet, doc, "")
		if code != http.StatusOK {
			t.Errorf("/%s without the token: %d, want 200 (the page's shell)", doc, code)
		}
		if strings.Contains(string(body), config) || strings.Contains(string(body), filepath.Base(config)) {
			t.Errorf("/%s without the token names the rule file", doc)
		}
	}
	listen := strings.TrimSuffix(strings.TrimPrefix(in.url, "http://"), "/")
	if code, out, errOut := ngxtasksEnv(t, env, "status", "-c", config, "--listen", listen); code != 0 || !strings.Contains(out, "quiet") {
		t.Errorf("ngxtasks status with the token and its newline: %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range []struct {
		env  []string // added to the test's, which has no NGXTASKS_TOKEN
		says string
	}{
		{nil, "the listener has a token; give it in $NGXTASKS_TOKEN (token_env)"},
		{[]string{"NGXTASKS_TOKEN=other-token"}, "the listener refused the token of $NGXTASKS_TOKEN (token_env)"},
	} {
		code, _, errOut := ngxtasksEnv(t, c.env, "status", "-c", config, "--listen", listen)
		if code != 1 || !strings.Contains(errOut, "401 Unauthorized: "+c.says) {
			t.Errorf("ngxtasks status with %q: %d %q; want 1 and %q", c.env, code, errOut, c.says)
		}
	}

	for name, value := range map[string]string{
		"blank":        " \n",
		"inner space":  "s3cret token",
		"control":      "s3cret\x01token",
		"inner line":   "s3cret\ntoken",
		"non-ASCII":    "s3crét-token",
		"set to empty": "",
	} {
		env := []string{"NGXTASKS_TOKEN=" + value}
		for _, args := range [][]string{
			{"validate", "-c", config},
			{"run", "-c", config, "--listen", "127.0.0.1:0", "--workers", "1"},
			{"status", "-c", config, "--listen", listen},
		} {
			code, _, errOut := ngxtasksEnv(t, env, args...)
			if code != 2 || !strings.Contains(errOut, "$NGXTASKS_TOKEN (token_env)") {
				t.Errorf("%s token, ngxtasks %s: exit %d, %q; want 2 and the variable named", name, args[0], code, errOut)
			}
			if v := strings.TrimSpace(value); v != "" && strings.Contains(errOut, v) {
				t.Errorf("%s token, ngxtasks %s: the error shows the token: %q", name, args[0], errOut)
			}
		}
	}
}
