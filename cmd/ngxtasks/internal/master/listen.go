package master

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ngxtasks/ngxtasks/status"
)

// The master's listener serves the whole fleet of its workers:
//
//	/             the status page, status.json and history.json, gathered
//	              from every worker (status.Options.Peers)
//	/metrics      every worker's metrics, and the master's own
//	/workers.json the worker processes: pid, up, restarts, last exit
//
// Workers serve their own on Unix sockets in a private directory; the
// master reaches them as http://w<index>/ through a client that dials
// those sockets, so a worker's new process is found where the old one was.

// listen starts the listener, or returns nil when it is off.
func (m *Master) listen() (net.Listener, error) {
	if m.settings.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", m.settings.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	client := m.socketClient()
	var peers []string
	for i := range m.settings.Workers {
		peers = append(peers, fmt.Sprintf("http://w%d/", i))
	}
	mux := http.NewServeMux()
	mux.Handle("/", status.New(status.Options{Peers: peers, Client: client, Title: "ngxtasks: " + m.opts.Config}))
	mux.Handle("/metrics", promhttp.HandlerFor(m.gatherer(client), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/workers.json", m.serveWorkers)
	srv := &http.Server{Handler: m.authorize(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	m.log.Info("ngxtasks: status and metrics", "url", "http://"+ln.Addr().String()+"/", "token", m.settings.Token != "")
	return ln, nil
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

// authorize asks for the bearer token when there is one. Without one the
// listener is on loopback (Settle refuses otherwise).
func (m *Master) authorize(next http.Handler) http.Handler {
	token := m.settings.Token
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ngxtasks"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
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

// gatherer gathers every worker's metrics, and the master's own: worker
// processes up and their restarts.
func (m *Master) gatherer(client *http.Client) prometheus.Gatherer {
	own := prometheus.NewRegistry()
	own.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ngxtasks_worker_processes_up", Help: "Worker processes ready and running.",
	}, func() float64 {
		n := 0
		for _, w := range m.Workers() {
			if w.Up {
				n++
			}
		}
		return float64(n)
	}))
	own.MustRegister(restartsCollector{m})
	gs := prometheus.Gatherers{own}
	for i := range m.settings.Workers {
		gs = append(gs, remote{client, fmt.Sprintf("http://w%d/metrics", i)})
	}
	return gs
}

// restartsCollector reports each worker's restarts.
type restartsCollector struct{ m *Master }

var restartsDesc = prometheus.NewDesc("ngxtasks_worker_restarts_total", "Times the master restarted a worker process.", []string{"worker"}, nil)

func (c restartsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- restartsDesc }

func (c restartsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.m.Workers() {
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(w.Restarts), w.Name)
	}
}

// remote gathers one worker's metrics over its socket.
type remote struct {
	client *http.Client
	url    string
}

func (r remote) Gather() ([]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(r.url, "http://"), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", strings.TrimPrefix(r.url, "http://"), resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(r.url, "http://"), err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out, nil
}
