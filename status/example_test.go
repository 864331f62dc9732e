package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// The status of two workers, mounted as net/http/pprof is; the page is at
// /debug/ngxtasks/ and its data at /debug/ngxtasks/status.json.
func ExampleNew() {
	dict := ngxtasks.NewMemoryDict()
	defer dict.Close()
	var workers []*ngxtasks.Manager
	for _, id := range []string{"w1", "w2"} {
		m := &ngxtasks.Manager{Worker: id, Dict: dict}
		defer m.Shutdown(context.Background())
		err := m.Push(ngxtasks.Rule{Identifier: "report", Interval: time.Hour, Type: ngxtasks.Preemption,
			Callback: func(context.Context, ngxtasks.Firing) error { return nil }})
		if err != nil {
			log.Fatal(err)
		}
		if err := m.Run(context.Background()); err != nil {
			log.Fatal(err)
		}
		workers = append(workers, m)
	}

	mux := http.NewServeMux()
	mux.Handle("/debug/ngxtasks/", status.New(status.Options{}, workers...))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/debug/ngxtasks/status.json")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Schema string `json:"schema"`
		Rules  []struct {
			Identifier, Worker, State string
			LastWinner                string `json:"last_winner"`
		} `json:"rules"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc.Schema)
	for _, r := range doc.Rules {
		fmt.Println(r.Identifier, r.Worker, r.State, "won by", r.LastWinner)
	}
	// Output:
	// ngxtasks.status/v1
	// report w1 ok won by w1
	// report w2 idle won by w1
}
