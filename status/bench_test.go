package status_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/status"
)

// BenchmarkStatusJSON serves status.json for one manager of 10,000
// rules (one in ten a Preemption rule, one in seven failing), whose
// histories hold 8 slots, or 64, the default History length, full.
func BenchmarkStatusJSON(b *testing.B) {
	for _, slots := range []int{8, 64} {
		b.Run(fmt.Sprintf("rules=10000/slots=%d", slots), func(b *testing.B) {
			h := status.New(status.Options{}, manyRules(b, 10000, slots))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status.json", nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("%d: %s", rec.Code, rec.Body)
			}
			size := rec.Body.Len()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				// The recorder keeps its body's buffer from one request to
				// the next, as a connection's writer would: its growing to
				// megabytes is not the handler's cost.
				body := rec.Body
				body.Reset()
				rec = httptest.NewRecorder()
				rec.Body = body
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status.json", nil))
			}
			b.ReportMetric(float64(size), "bytes/response")
		})
	}
}

// manyRules is a manager of n rules driven through slots slots of each.
func manyRules(tb testing.TB, n, slots int) *ngxtasks.Manager {
	tb.Helper()
	clock := &fakeClock{}
	clock.Set(t0)
	m := &ngxtasks.Manager{Clock: clock, Worker: "bench", Logger: quiet()}
	boom := errors.New("upstream said 503")
	rules := make([]ngxtasks.Rule, n)
	for i := range rules {
		rules[i] = ngxtasks.Rule{Identifier: fmt.Sprintf("rule-%05d", i), Name: fmt.Sprintf("rule number %d", i),
			Interval: 10 * time.Second, Type: ngxtasks.Normal, Callback: ok}
		if i%10 == 0 {
			rules[i].Type = ngxtasks.Preemption
		}
		if i%7 == 0 {
			rules[i].Callback = func(context.Context, ngxtasks.Firing) error { return boom }
		}
	}
	if err := m.Push(rules...); err != nil {
		tb.Fatal(err)
	}
	for s := range slots {
		clock.Set(t0.Add(time.Duration(s)*10*time.Second + time.Duration(s%5)*time.Second))
		_ = m.Run(context.Background())
	}
	return m
}

// BenchmarkHistories is the part of BenchmarkStatusJSON that is the core
// package's: Stats and the History of each of 10,000 rules, one after the
// other, as a status.json request reads them (on one core).
func BenchmarkHistories(b *testing.B) {
	for _, slots := range []int{8, 64} {
		b.Run(fmt.Sprintf("rules=10000/slots=%d", slots), func(b *testing.B) {
			m := manyRules(b, 10000, slots)
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range m.Stats() {
					if _, err := m.History(s.Identifier); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
