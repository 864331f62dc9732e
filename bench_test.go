package ngxtasks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// BenchmarkTimeSince is the floor for a drive step: one monotonic clock read.
func BenchmarkTimeSince(b *testing.B) {
	start := time.Now()
	var d time.Duration
	for b.Loop() {
		d += time.Since(start)
	}
	_ = d
}

// managerWithIdleRules returns a manager whose n rules all ran their
// current slot and next fall due in an hour or more.
func managerWithIdleRules(b *testing.B, n int) *ngxtasks.Manager {
	m := &ngxtasks.Manager{}
	rules := make([]ngxtasks.Rule, n)
	for i := range rules {
		rules[i] = ngxtasks.Rule{Identifier: "r" + strconv.Itoa(i), Interval: time.Hour + time.Duration(i)*time.Second,
			Type: ngxtasks.Normal, Callback: noop}
	}
	if err := m.Push(rules...); err != nil {
		b.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	if next := m.Stats()[0].NextDue; time.Until(next) < time.Minute {
		b.Skip("too close to an hour boundary to measure an idle manager")
	}
	b.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m
}

// BenchmarkRunNothingDue is the per-request check when nothing is due: it
// must not grow with the rule count, nor allocate.
func BenchmarkRunNothingDue(b *testing.B) {
	for _, n := range []int{1, 100, 10000, 100000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			m := managerWithIdleRules(b, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Run(ctx)
			}
		})
	}
}

// BenchmarkMiddlewareNothingDue is the middleware over an empty handler.
func BenchmarkMiddlewareNothingDue(b *testing.B) {
	m := managerWithIdleRules(b, 1)
	h := m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w, r := httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkClaimMemory is one claim on the in-process dictionary from every
// core at once, each goroutine claiming its own run of keys: workers
// claiming the slots of different rules. Keys are made beforehand, as a
// claim's key is made once.
func BenchmarkClaimMemory(b *testing.B) { benchClaimMemory(b, 4099) }

// BenchmarkClaimMemorySameKeys is BenchmarkClaimMemory with every goroutine
// claiming the same keys in the same order: workers racing for one slot,
// the dictionary's worst case.
func BenchmarkClaimMemorySameKeys(b *testing.B) { benchClaimMemory(b, 0) }

// benchClaimMemory starts the n-th goroutine n×stride keys into the list.
func benchClaimMemory(b *testing.B, stride int) {
	d := ngxtasks.NewMemoryDict()
	defer d.Close()
	keys := make([]string, 1<<14)
	for i := range keys {
		keys[i] = "ngxtasks:rule" + strconv.Itoa(i) + ":897760811"
	}
	ctx := context.Background()
	for _, k := range keys { // warm up: every key present, shards sized
		_, _ = d.Add(ctx, k, "worker", time.Nanosecond)
	}
	var goroutines atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(goroutines.Add(1)-1) * stride
		for pb.Next() {
			// a nanosecond ttl: every claim finds the last one expired and wins
			if _, err := d.Add(ctx, keys[i&(len(keys)-1)], "worker", time.Nanosecond); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}
