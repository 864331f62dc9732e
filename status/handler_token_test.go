package status_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// TestTokenGuardsTheDocumentsNotThePage: with Options.Token the documents
// need it and the page's shell does not; the token goes to the peers too.
// Without one nothing is asked (TestRoutesServeTheirTypesAndHeaders).
func TestTokenGuardsTheDocumentsNotThePage(t *testing.T) {
	const token = "peer-and-page-token"
	peerWorker := &ngxtasks.Manager{Worker: "peer", Logger: quiet()}
	if err := peerWorker.Push(ngxtasks.Rule{Identifier: "r", Interval: 10e9, Type: ngxtasks.Normal, Callback: ok}); err != nil {
		t.Fatal(err)
	}
	peer := serve(t, status.New(status.Options{Token: token}, peerWorker))
	m := &ngxtasks.Manager{Worker: "w", Logger: quiet()}
	if err := m.Push(ngxtasks.Rule{Identifier: "r", Interval: 10e9, Type: ngxtasks.Normal, Callback: ok}); err != nil {
		t.Fatal(err)
	}
	h := status.New(status.Options{Token: token, Peers: []string{peer.URL + "/debug/ngxtasks/"}}, m)

	ask := func(target, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, target := range []string{"/status.json", "/history.json?rule=r"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", token, "Basic " + token} {
			rec := ask(target, auth)
			var e status.Error
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != `Bearer realm="ngxtasks"` ||
				json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Schema != status.Schema || !strings.Contains(e.Error, "token") {
				t.Errorf("%s with %q: %d %q %s", target, auth, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
			}
		}
		if rec := ask(target, "Bearer "+token); rec.Code != http.StatusOK {
			t.Errorf("%s with the token: %d %s", target, rec.Code, rec.Body)
		}
	}
	for _, target := range []string{"/", "/app.js", "/app.css"} {
		if rec := ask(target, ""); rec.Code != http.StatusOK {
			t.Errorf("%s without the token: %d, want 200 (no data in it)", target, rec.Code)
		}
	}
	var doc status.Status
	if err := json.Unmarshal(ask("/status.json", "Bearer "+token).Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Workers) != 2 || len(doc.Peers) != 1 || doc.Peers[0].Error != "" {
		t.Errorf("with the token, the peer's workers: %+v, peers %+v", doc.Workers, doc.Peers)
	}
}
