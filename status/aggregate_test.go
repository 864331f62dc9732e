package status_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// recorder counts the requests a peer gets, by their URL.
type recorder struct {
	mu   sync.Mutex
	seen []string
	next http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL.RequestURI())
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen
	r.seen = nil
	return s
}

// TestAggregateMergesPeersAndNamesTheirErrors: a handler with peers merges
// their workers and rows into one view, works out the last winner across it,
// lists a dead peer and a slow one with their errors, and asks each peer with
// local=1, which a peer answers without asking its own peers.
func TestAggregateMergesPeersAndNamesTheirErrors(t *testing.T) {
	w1, w2 := fleet(t)
	w3 := &ngxtasks.Manager{Worker: "w3", Logger: quiet()}
	if err := w3.Push(ngxtasks.Rule{Identifier: "ok", Interval: 10 * time.Second, Type: ngxtasks.Normal, Callback: ok}); err != nil {
		t.Fatal(err)
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	notOurs := httptest.NewServer(http.NotFoundHandler()) // a wrong address
	defer notOurs.Close()

	// Peer A lists B and C as its own peers: a request with local=1 must
	// not make it ask them.
	peerB := &recorder{next: status.New(status.Options{}, w2)}
	srvB := serve(t, peerB)
	peerA := &recorder{next: status.New(status.Options{Peers: []string{srvB.URL + "/debug/ngxtasks/"}}, w1)}
	srvA := serve(t, peerA)

	peers := []string{
		srvA.URL + "/debug/ngxtasks/",
		srvB.URL + "/debug/ngxtasks", // without its slash: the same
		dead.URL + "/debug/ngxtasks/",
		slow.URL + "/debug/ngxtasks/",
		notOurs.URL + "/debug/ngxtasks/",
		"ftp://example.com/",
		"http://user:hunter2@" + strings.TrimPrefix(dead.URL, "http://") + "/x/",
	}
	h := status.New(status.Options{Peers: peers, PeerTimeout: 300 * time.Millisecond}, w3)

	start := time.Now()
	var doc status.Status
	decode(t, get(t, h, "/status.json"), http.StatusOK, &doc)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: the slow peer was not cut at its timeout", d)
	}

	var workers []string
	for _, w := range doc.Workers {
		workers = append(workers, w.Worker+"@"+w.Source)
	}
	if got, want := strings.Join(workers, " "), "w1@"+peers[0]+" w2@"+srvB.URL+"/debug/ngxtasks w3@local"; got != want {
		t.Errorf("workers %s\n        want %s", got, want)
	}
	if len(doc.Rules) != 15 {
		t.Errorf("%d rows, want 7 + 7 + 1", len(doc.Rules))
	}
	// The newest slot of pre (n0+3) went to w1: w2's peer alone cannot
	// know it, the merged view does.
	if a, b := row(t, doc, "pre", "w1"), row(t, doc, "pre", "w2"); a.LastWinner != "w1" || b.LastWinner != "w1" {
		t.Errorf("pre: last winners %q and %q, want w1", a.LastWinner, b.LastWinner)
	}
	if r := row(t, doc, "ok", "w3"); r.Runs != 0 || r.State != "idle" {
		t.Errorf("ok/w3 %+v", r)
	}

	wantErr := []string{"", "", "connection refused", "no answer within 300ms", "answered 404 Not Found", "not an http", "connection refused"}
	if len(doc.Peers) != len(peers) {
		t.Fatalf("peers %+v", doc.Peers)
	}
	for i, p := range doc.Peers {
		if wantErr[i] == "" && p.Error != "" || !strings.Contains(p.Error, wantErr[i]) {
			t.Errorf("peer %s: error %q, want %q", p.Address, p.Error, wantErr[i])
		}
		if strings.Contains(p.Address+p.Error, "hunter2") {
			t.Errorf("peer %s shows its password: %q", p.Address, p.Error)
		}
	}

	// Each live peer was asked once, with local=1, and A did not ask B.
	for name, r := range map[string]*recorder{"A": peerA, "B": peerB} {
		if got := r.take(); len(got) != 1 || got[0] != "/debug/ngxtasks/status.json?local=1" {
			t.Errorf("peer %s was asked %q", name, got)
		}
	}

	// local=1 answers from the local managers alone.
	local := statusOf(t, h, "/status.json?local=1")
	if len(local.Workers) != 1 || local.Workers[0].Worker != "w3" || len(local.Rules) != 1 || len(local.Peers) != 0 {
		t.Errorf("local=1: %d workers, %d rows, peers %+v", len(local.Workers), len(local.Rules), local.Peers)
	}
	if a, b := peerA.take(), peerB.take(); len(a)+len(b) != 0 {
		t.Errorf("local=1 asked the peers: %q %q", a, b)
	}

	// history.json merges too: the rule's slots in w1 and w2, lost slots
	// with their winners, and the rule's absence in w3 is no error.
	var hist status.History
	decode(t, get(t, h, "/history.json?rule=pre"), http.StatusOK, &hist)
	if len(hist.Workers) != 2 || hist.Workers[0].Worker != "w1" || hist.Workers[1].Worker != "w2" || hist.Workers[0].Source != peers[0] {
		t.Fatalf("history workers %+v", hist.Workers)
	}
	if s := hist.Workers[1].Slots[0]; s.N != n0+3 || s.Outcome != "lost" || s.Winner != "w1" {
		t.Errorf("w2's newest slot %+v, want lost to w1", s)
	}
	if s := hist.Workers[0].Slots[2]; s.N != n0+1 || s.Outcome != "lost" || s.Winner != "w2" {
		t.Errorf("w1's slot n0+1 %+v, want lost to w2", s)
	}
	if got := peerA.take(); len(got) != 1 || got[0] != "/debug/ngxtasks/history.json?local=1&rule=pre" {
		t.Errorf("peer A was asked %q", got)
	}
	peerB.take()

	// A rule in no worker of the view: 404, with the peers' errors.
	var e status.Error
	decode(t, get(t, h, "/history.json?rule=nope&worker=w2"), http.StatusNotFound, &e)
	if len(e.Peers) != len(peers) || e.Peers[0].Error != "" || e.Peers[2].Error == "" {
		t.Errorf("404: %+v", e)
	}
	if got := peerB.take(); len(got) != 1 || got[0] != "/debug/ngxtasks/history.json?local=1&rule=nope&worker=w2" {
		t.Errorf("peer B was asked %q", got)
	}
}

// TestPeersComeOnlyFromOptionsNeverFromARequest: no part of a request names
// an address to fetch.
func TestPeersComeOnlyFromOptionsNeverFromARequest(t *testing.T) {
	var asked sync.Mutex
	hits := 0
	bait := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		asked.Lock()
		hits++
		asked.Unlock()
	}))
	defer bait.Close()
	h := status.New(status.Options{})
	for _, target := range []string{
		"/status.json?peer=" + bait.URL, "/status.json?peers=" + bait.URL + "&local=0",
		"/history.json?rule=x&peer=" + bait.URL,
	} {
		get(t, h, target)
	}
	asked.Lock()
	defer asked.Unlock()
	if hits != 0 {
		t.Errorf("the handler fetched an address from a request (%d times)", hits)
	}
}
