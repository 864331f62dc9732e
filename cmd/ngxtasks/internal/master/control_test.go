package master

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestControlSocketIsPrivateReplacesAStaleFileAndWorksDeep: the control
// socket is the master's user's alone (0600), replaces a dead master's
// socket file, and works in a state directory too deep for a socket path
// (sockaddr_un holds 108 bytes).
func TestControlSocketIsPrivateReplacesAStaleFileAndWorksDeep(t *testing.T) {
	for _, deep := range []bool{false, true} {
		dir := t.TempDir()
		if deep {
			dir = filepath.Join(dir, strings.Repeat("d", 120))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		path := ControlSocket(dir)
		if err := os.WriteFile(path, nil, 0o644); err != nil { // a dead master's
			t.Fatal(err)
		}
		ln, err := listenControl(path)
		if err != nil {
			t.Fatalf("deep %v: %v", deep, err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "master") })}
		go srv.Serve(ln)
		st, err := os.Stat(path)
		if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
			t.Fatalf("deep %v: the socket file: %v %v", deep, st.Mode(), err)
		}
		client := unixClient(path)
		resp, err := client.Get("http://ngxtasks/")
		if err != nil {
			t.Fatalf("deep %v: %v", deep, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "master" {
			t.Fatalf("deep %v: %q", deep, body)
		}
		srv.Close()
	}
}
