package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ngxtasks/ngxtasks/status"
)

// The control socket, ngxtasks.sock in the state directory, is how
// `ngxtasks reload` and `ngxtasks status` reach the master of that state
// directory, and no other process: only the master holding the pid file's
// lock binds it (removing a stale one first), it is a file in the
// directory rather than a pid that might be reused, and its mode (0600)
// lets only the master's user in. Over it the master serves, without a
// token:
//
//	POST /reload   reload the rule file; the answer (ReloadResult) comes
//	               once every worker applied it, or it was refused
//	POST /act      trigger, pause or resume a rule (a status.Action as
//	               JSON; the answer is a status.ActAnswer), through one
//	               worker (act.go); the origin names the command and the
//	               user the kernel says connected
//	GET  /workers.json, the status page and status.json, as the listener
//
// It serves HTTP, so that curl --unix-socket can use it too.

// ControlSocket is the state directory's control socket.
func ControlSocket(stateDir string) string { return filepath.Join(stateDir, "ngxtasks.sock") }

// maxUnixPath is what a socket path may take in sockaddr_un (108 bytes on
// Linux, with the terminating NUL), less a margin.
const maxUnixPath = 100

// unixAddr returns an address for the socket at path that fits in
// sockaddr_un: path itself, or, for a deep state directory, the same file
// reached through a descriptor of its directory (/proc/self/fd/N/name),
// valid until release is called.
func unixAddr(path string) (addr string, release func(), err error) {
	if len(path) <= maxUnixPath {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", filepath.Dir(path), err)
	}
	addr = "/proc/self/fd/" + strconv.Itoa(fd) + "/" + filepath.Base(path)
	if len(addr) > maxUnixPath {
		unix.Close(fd)
		return "", nil, fmt.Errorf("%s: the socket's name is too long", path)
	}
	return addr, func() { unix.Close(fd) }, nil
}

// listenControl binds the control socket. The caller holds the pid file's
// lock, so a socket file already there is a dead master's.
func listenControl(path string) (net.Listener, error) {
	addr, release, err := unixAddr(path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer release()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	old := syscall.Umask(0o077) // the owner's alone from the start, with no window in which it is not
	ln, err := net.Listen("unix", addr)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // removed by path in Run: addr may be a /proc alias
	if err := os.Chmod(path, 0o600); err != nil {  // 0700 from the umask; a socket needs no x
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return ln, nil
}

// serveControl serves the control socket until ln is closed.
func (m *Master) serveControl(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		res := m.reloadAndWait(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("POST /act", m.serveAct)
	mux.HandleFunc("GET /workers.json", m.serveWorkers)
	mux.Handle("GET /", m.statusHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second, ConnContext: withPeer}
	_ = srv.Serve(ln)
}

// statusHandler serves the status page and documents of every worker.
func (m *Master) statusHandler() http.Handler {
	return status.New(status.Options{Peers: m.peers(), Client: m.socketClient(), Title: "ngxtasks: " + m.opts.Config})
}

// peers are the workers' status handlers, as socketClient reaches them.
func (m *Master) peers() []string {
	var peers []string
	for i := range m.settings.Workers {
		peers = append(peers, fmt.Sprintf("http://w%d/", i))
	}
	return peers
}

// ControlClient returns a client whose requests to http://ngxtasks/ go to
// the control socket of the master running with stateDir. It fails when
// no master holds that state directory, whatever files are left there.
func ControlClient(stateDir string) (*http.Client, error) {
	pid, err := Holder(PIDFile(stateDir))
	if err != nil {
		return nil, err
	}
	if pid == 0 {
		return nil, fmt.Errorf("no ngxtasks master runs with state_dir %s", stateDir)
	}
	return unixClient(ControlSocket(stateDir)), nil
}

// unixClient sends every request to the Unix socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				addr, release, err := unixAddr(path)
				if err != nil {
					return nil, err
				}
				defer release()
				var d net.Dialer
				return d.DialContext(ctx, "unix", addr)
			},
		},
	}
}

// ReloadResult is the answer to a reload asked over the control socket.
type ReloadResult struct {
	Seq int64 `json:"seq,omitempty"`
	// Refused is set when the file was not applied: Errors say why, and
	// the old rules keep running.
	Refused bool     `json:"refused,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Added   []string `json:"added,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// Restart names the settings that changed but apply only at a restart.
	Restart []string `json:"restart,omitempty"`
	// Workers is how many worker processes were sent the file; Failed how
	// many of them refused it; Pending how many had not answered when the
	// answer was given.
	Workers int           `json:"workers"`
	Failed  int           `json:"failed,omitempty"`
	Pending int           `json:"pending,omitempty"`
	Took    time.Duration `json:"took"`
}
