package master

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestIsLocalHostAcceptsOnlyLoopbackAndItsOwnName(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:9090": true, "127.0.0.1": true, "127.0.0.1:9090": true,
		"127.255.0.9:1": true, "[::1]:9090": true, "[::1]": true, "status.internal:9090": true,
		"": false, "evil.example": false, "evil.example:9090": false, "localhost.evil.example": false,
		"127.0.0.1.nip.io": false, "10.0.0.1": false, "[::2]:9090": false, "[::1": false,
	} {
		if got := isLocalHost(host, "status.internal"); got != want {
			t.Errorf("isLocalHost(%q): %v, want %v", host, got, want)
		}
	}
}

func TestTokenIsTrimmedAndABadOneNamesItsVariable(t *testing.T) {
	const env = "NGXTASKS_TEST_TOKEN"
	for value, want := range map[string]string{
		"s3cret": "s3cret", "s3cret\n": "s3cret", "\t s3cret \r\n": "s3cret", "a.b-c_d~e+f/g==": "a.b-c_d~e+f/g==",
	} {
		t.Setenv(env, value)
		if got, err := Token(env); got != want || err != nil {
			t.Errorf("Token(%q): %q, %v; want %q", value, got, err, want)
		}
	}
	for _, value := range []string{"", " \n", "two words", "tab\there", "ctl\x7f", "line\nbreak", "café"} {
		t.Setenv(env, value)
		got, err := Token(env)
		if err == nil || got != "" || !strings.Contains(err.Error(), "$"+env+" (token_env)") {
			t.Errorf("Token(%q): %q, %v; want an error naming the variable", value, got, err)
		}
	}
}

// TestConnLimitClosesTheLongestWaitingOrTheNewConnection: beyond its limit
// the listener closes the connection that has waited longest for a request,
// and the new one is served.
func TestConnLimitClosesTheLongestWaitingOrTheNewConnection(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newConnLimit(tcp, 4)
	release := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			io.WriteString(w, "ok")
		}),
		ConnState:         ln.track,
		ReadHeaderTimeout: time.Minute,
	}
	go srv.Serve(ln)
	defer srv.Close()
	addr := tcp.Addr().String()

	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	// count counts the open connections, and those serving a request.
	count := func() (open, busy int) {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		for _, since := range ln.conns {
			if since.IsZero() {
				busy++
			}
		}
		return len(ln.conns), busy
	}
	waitOpen := func(open, busy int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			o, b := count()
			if o == open && b == busy {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d connections open, %d busy; want %d, %d", o, b, open, busy)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	closed := func(c net.Conn) bool { // by the server: a read ends without data
		_, err := c.Read(make([]byte, 1))
		return err != nil
	}

	var idle []net.Conn
	for range 4 {
		idle = append(idle, dial())
		waitOpen(len(idle), 0)
	}
	fresh := dial()
	defer fresh.Close()
	io.WriteString(fresh, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(fresh), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the request beyond the limit: %v, %v", resp, err)
	}
	if !closed(idle[0]) {
		t.Error("the oldest waiting connection was not closed")
	}
	for _, c := range idle {
		c.Close()
	}
	waitOpen(1, 0) // fresh, idle

	// Every connection busy: a new one is closed at once, the busy ones stay.
	var busy []net.Conn
	for range 4 {
		c := dial()
		defer c.Close()
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		busy = append(busy, c)
		waitOpen(min(len(busy)+1, 4), len(busy)) // fresh, idle, goes for the fourth
	}
	extra := dial()
	defer extra.Close()
	if !closed(extra) {
		t.Error("a connection beyond the limit with every one busy was not closed")
	}
	close(release)
	for i, c := range busy {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("busy connection %d: %v", i, err)
			continue
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Errorf("busy connection %d: %q", i, b)
		}
	}
}
