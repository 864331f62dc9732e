package ngxtasks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// The seed's first example: DING in every worker, DONG in one worker of all
// that share the dictionary. Each Run is one drive step of one worker.
func Example() {
	dingdong := func(_ context.Context, f ngxtasks.Firing) error {
		fmt.Println(f.Worker, f.Rule.Identifier)
		return nil
	}
	rules := []ngxtasks.Rule{
		{Identifier: "TRYDING", Interval: 10 * time.Second, Type: ngxtasks.Normal, Callback: dingdong},
		{Identifier: "TRYDONG", Interval: time.Minute, Type: ngxtasks.Preemption, Callback: dingdong},
	}
	dict := ngxtasks.NewMemoryDict()
	for _, name := range []string{"worker-1", "worker-2"} {
		m := &ngxtasks.Manager{Dict: dict, Worker: name}
		if err := m.Push(rules...); err != nil {
			fmt.Println(err)
			return
		}
		_ = m.Run(context.Background())
	}
	// Output:
	// worker-1 TRYDING
	// worker-1 TRYDONG
	// worker-2 TRYDING
}

// Per-request drive with a plain ServeMux: the request that finds a rule due
// runs it, and the callback adds a header to that request's response.
func ExampleManager_Middleware() {
	m := &ngxtasks.Manager{}
	_ = m.Push(ngxtasks.Rule{
		Identifier: "stamp", Interval: time.Hour, Type: ngxtasks.Normal,
		Callback: func(_ context.Context, f ngxtasks.Firing) error {
			f.Exchange.Header().Set("X-Task", "ran in this request")
			return nil
		},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") })
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()

	for range 2 {
		res, err := http.Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%s X-Task=%q\n", body, res.Header.Get("X-Task"))
	}
	// Output:
	// hello X-Task="ran in this request"
	// hello X-Task=""
}

// The seed's custom key generator: slots counted from a start time that
// every worker shares, under the name identifier+"Preemption".
func ExampleBaseTimeKeys() {
	start := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC) // saved once, shared by all workers
	keys := ngxtasks.BaseTimeKeys{Base: start}
	rule := ngxtasks.Rule{Identifier: "TRYDONG", Interval: time.Minute}
	s := keys.Slot(&rule, start.Add(90*time.Second))
	fmt.Println(s.N, keys.Name(&rule, s), s.Start.Format(time.TimeOnly))
	// Output:
	// 1 TRYDONGPreemption 00:01:00
}
