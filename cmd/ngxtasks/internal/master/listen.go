package master

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ngxtasks/ngxtasks/status"
)

// The master's listener serves the whole fleet of its workers:
//
//	/             the status page, status.json and history.json, gathered
//	              from every worker (status.Options.Peers)
//	/act          POST: the page's Trigger, Pause and Resume buttons
//	              (status.Options.Act; act.go)
//	/metrics      every worker's metrics, and the master's own
//	/workers.json the worker processes: pid, up, restarts, last exit
//
// Workers serve their own on Unix sockets in a private directory; the
// master reaches them as http://w<index>/ through a client that dials
// those sockets, so a worker's new process is found where the old one was.

// The listener's bounds. A request is a GET without a body, so reading
// one is quick; answering may wait for every worker: status.json for at
// most the status handler's PeerTimeout (2 s), /metrics for the socket
// client's Timeout (30 s; the workers are asked at once), which
// writeTimeout leaves room for. A keep-alive connection may wait for its
// next request idleTimeout, longer than a usual scrape interval (15 s).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 30 * time.Second
	maxHeaderBytes    = 64 << 10 // a browser's headers and cookies for localhost, a bearer token
	maxConns          = 64       // open at once (connLimit)
)

// listen starts the listener, or returns nil when it is off.
func (m *Master) listen() (net.Listener, error) {
	if m.settings.Listen == "" {
		return nil, nil
	}
	tcp, err := net.Listen("tcp", m.settings.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ln := newConnLimit(tcp, maxConns)
	srv := &http.Server{
		Handler:           m.handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         ln.track,
	}
	go func() { _ = srv.Serve(ln) }()
	m.log.Info("ngxtasks: status and metrics", "url", "http://"+ln.Addr().String()+"/", "token", m.settings.Token != "")
	return ln, nil
}

// handler serves the listener's documents, read only but for the status
// page's actions (POST /act, which the status handler guards: token,
// same origin, the page's action token). With a token the
// status handler asks for it itself (its page, which holds no data, is
// served without it, and asks the user for the token), and names no file:
// the page is for anyone who reaches the listener. Without a token only
// requests for loopback names are served.
func (m *Master) handler() http.Handler {
	client := m.socketClient()
	token := m.settings.Token
	opts := status.Options{Peers: m.peers(), Client: client, Title: "ngxtasks: " + m.opts.Config, Token: token, Act: m.act}
	metrics := http.Handler(promhttp.HandlerFor(m.gatherer(client), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	workers := http.Handler(http.HandlerFunc(m.serveWorkers))
	if token != "" {
		opts.Title = "ngxtasks"
		metrics, workers = authorize(token, metrics), authorize(token, workers)
	}
	mux := http.NewServeMux()
	mux.Handle("/", status.New(opts))
	mux.Handle("/metrics", metrics)
	mux.Handle("/workers.json", workers)
	if token != "" {
		return readOnly(mux)
	}
	host, _, _ := net.SplitHostPort(m.settings.Listen) // Resolve checked it
	return localHostsOnly(host, readOnly(mux))
}

// socketClient dials http://w<i>/ to worker i's socket.
func (m *Master) socketClient() *http.Client {
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				host, _, _ := net.SplitHostPort(addr)
				if i, err := strconv.Atoi(strings.TrimPrefix(host, "w")); err == nil && i >= 0 && i < m.settings.Workers && host == "w"+strconv.Itoa(i) {
					return dialer.DialContext(ctx, "unix", m.socketOf(i))
				}
				return nil, fmt.Errorf("no worker %q", host)
			},
			MaxIdleConnsPerHost: 2,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// WorkerInfo is one worker process in /workers.json.
type WorkerInfo struct {
	Index    int       `json:"index"`
	Name     string    `json:"name"`
	PID      int       `json:"pid,omitempty"`
	Up       bool      `json:"up"`
	Since    time.Time `json:"since,omitzero"`
	Restarts int       `json:"restarts"`
	LastExit string    `json:"last_exit,omitempty"`
}

// Workers describes the worker processes.
func (m *Master) Workers() []WorkerInfo {
	out := make([]WorkerInfo, 0, len(m.workers))
	for _, p := range m.workers {
		p.mu.Lock()
		out = append(out, WorkerInfo{Index: p.index, Name: p.name, PID: p.pid, Up: p.up, Since: p.since, Restarts: p.restarts, LastExit: p.lastExit})
		p.mu.Unlock()
	}
	return out
}

func (m *Master) serveWorkers(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m.Workers())
}
