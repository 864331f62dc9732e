package dicttest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ngxtasks/ngxtasks"
)

// testContext: a call whose context has already ended fails with an error
// that errors.Is matches with the context's, and stores nothing. Every
// backend checks the context before it sends anything, so "stores nothing"
// is a guarantee, not a hope; the suite requires it. A context that ends
// during a call is only required to end the call: by then the store may
// have applied it (the Dict contract allows an error then), and on loopback
// the answer may well beat the deadline.
func (s *suite) testContext(t *testing.T) {
	d, live := s.handle(t), ctx(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"deadline", expired, context.DeadlineExceeded}} {
		k := s.key(t, c.name)
		if added, err := add(t, d, c.ctx, k, "v", ttl); added || !errors.Is(err, c.want) {
			t.Errorf("%s: Add = %v, %v; want an error matching %v", c.name, added, err, c.want)
		}
		if v, ok, err := d.Get(c.ctx, k); ok || !errors.Is(err, c.want) {
			t.Errorf("%s: Get = %q, %v, %v; want an error matching %v", c.name, v, ok, err, c.want)
		}
		if b, ok := d.(ngxtasks.BatchAdder); ok {
			adds := []ngxtasks.Add{{Key: k + ":b1", Value: "v", TTL: ttl}, {Key: k + ":b2", Value: "v", TTL: ttl}}
			err := b.AddBatch(c.ctx, adds)
			for i, a := range adds {
				if a.Added || (!errors.Is(err, c.want) && !errors.Is(a.Err, c.want)) {
					t.Errorf("%s: AddBatch = %v, element %d: Added %v, Err %v; want an error matching %v", c.name, err, i, a.Added, a.Err, c.want)
				}
			}
		}
		if set, ok := d.(ngxtasks.Setter); ok {
			if err := set.Set(c.ctx, k+":set", "v", ttl); !errors.Is(err, c.want) {
				t.Errorf("%s: Set = %v; want an error matching %v", c.name, err, c.want)
			}
		}
		for _, k := range []string{k, k + ":b1", k + ":b2", k + ":set"} {
			if v, ok, err := d.Get(live, k); err != nil || ok {
				t.Errorf("%s: Get(%q) after the refused call = %q, %v, %v; want not stored", c.name, k, v, ok, err)
			}
		}
	}

	// Deadlines that end during the call, from "before it is sent" to
	// "about one round trip": each call returns soon after its deadline,
	// with a context error if any.
	for i, timeout := range []time.Duration{time.Microsecond, 50 * time.Microsecond, 500 * time.Microsecond, 2 * time.Millisecond} {
		c, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		_, err := add(t, d, c, s.key(t, "short"+strconv.Itoa(i)), "v", ttl)
		took := time.Since(start)
		cancel()
		if took > timeout+5*time.Second {
			t.Errorf("Add with a %v deadline took %v", timeout, took)
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Add with a %v deadline = %v; want success or an error matching context.DeadlineExceeded", timeout, err)
		}
	}
	// The same for a batch: no element reports "stored" with an error.
	if b, ok := d.(ngxtasks.BatchAdder); ok {
		adds := make([]ngxtasks.Add, 200)
		for i := range adds {
			adds[i] = ngxtasks.Add{Key: s.key(t, "short batch "+strconv.Itoa(i)), Value: "v", TTL: ttl}
		}
		c, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		start := time.Now()
		err := b.AddBatch(c, adds)
		took := time.Since(start)
		cancel()
		if took > time.Millisecond+5*time.Second {
			t.Errorf("AddBatch with a 1ms deadline took %v", took)
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("AddBatch with a 1ms deadline = %v; want nil or an error matching context.DeadlineExceeded", err)
		}
		for i, a := range adds {
			if a.Added && a.Err != nil {
				t.Errorf("AddBatch with a 1ms deadline: element %d Added with Err %v", i, a.Err)
			}
		}
	}
	// The same for Set.
	if set, ok := d.(ngxtasks.Setter); ok {
		for i, timeout := range []time.Duration{time.Microsecond, 50 * time.Microsecond, 500 * time.Microsecond, 2 * time.Millisecond} {
			c, cancel := context.WithTimeout(context.Background(), timeout)
			start := time.Now()
			err := set.Set(c, s.key(t, "short set"+strconv.Itoa(i)), "v", ttl)
			took := time.Since(start)
			cancel()
			if took > timeout+5*time.Second {
				t.Errorf("Set with a %v deadline took %v", timeout, took)
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Set with a %v deadline = %v; want success or an error matching context.DeadlineExceeded", timeout, err)
			}
		}
	}
	// The handle still works after calls cut short.
	if added, err := add(t, d, live, s.key(t, "after"), "v", ttl); err != nil || !added {
		t.Errorf("Add after cancelled calls = %v, %v; want stored", added, err)
	}
	if set, ok := d.(ngxtasks.Setter); ok {
		if err := set.Set(live, s.key(t, "after"), "set", ttl); err != nil {
			t.Errorf("Set after cancelled calls = %v; want stored", err)
		}
		checkGet(t, d, live, s.key(t, "after"), "set")
	}
}

// testClosed: a closed handle refuses every call with ErrClosed, a second
// Close does not panic, and the handle's claims outlive it: closing a
// client must not delete (or revoke the leases of) claims that other
// workers rely on.
func (s *suite) testClosed(t *testing.T) {
	c, k := ctx(t), s.key(t, "k")
	d := s.open(t)
	other := s.handle(t)
	if added, err := add(t, d, c, k, "closed handle's", ttl); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if added, err := add(t, d, c, k+":new", "v", ttl); added || !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Add after Close = %v, %v; want ErrClosed", added, err)
	}
	if _, ok, err := d.Get(c, k); ok || !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Get after Close = %v, %v; want ErrClosed", ok, err)
	}
	if b, ok := d.(ngxtasks.BatchAdder); ok {
		adds := []ngxtasks.Add{{Key: k + ":batch", Value: "v", TTL: ttl}}
		err := b.AddBatch(c, adds)
		if adds[0].Added || (!errors.Is(err, ngxtasks.ErrClosed) && !errors.Is(adds[0].Err, ngxtasks.ErrClosed)) {
			t.Errorf("AddBatch after Close = %v, element %+v; want ErrClosed", err, adds[0])
		}
	}
	if sc, ok := d.(ngxtasks.StoreClock); ok {
		if _, err := sc.Now(c); !errors.Is(err, ngxtasks.ErrClosed) {
			t.Errorf("Now after Close = %v; want ErrClosed", err)
		}
	}
	if set, ok := d.(ngxtasks.Setter); ok {
		if err := set.Set(c, k, "set after close", ttl); !errors.Is(err, ngxtasks.ErrClosed) {
			t.Errorf("Set after Close = %v; want ErrClosed", err)
		}
	}
	if err := d.Close(); err != nil && !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("second Close = %v; want nil or ErrClosed", err)
	}
	if same(d, other) {
		return // one in-process instance: closing it closes "both"
	}
	if added, err := add(t, other, c, k, "other's", ttl); err != nil || added {
		t.Errorf("Add through another handle after Close = %v, %v; want the claim still there", added, err)
	}
	checkGet(t, other, c, k, "closed handle's")
}

// testCloseRacing closes a handle while 8 goroutines call it: nothing
// panics, no call reports "stored" with an error, the calls in flight end
// within closeWait of Close returning (a worker shutting down must not wait
// on a client that is gone), and every call made after Close returned fails
// with ErrClosed.
func (s *suite) testCloseRacing(t *testing.T) {
	const closeWait = 2 * time.Second // one slow round trip, not a retry loop
	c := ctx(t)
	d := s.open(t)
	t.Cleanup(func() { _ = d.Close() })
	const goroutines, calls = 8, 2000
	var (
		started  atomic.Int64
		closedAt atomic.Bool // Close has returned
		wg       sync.WaitGroup
		mu       sync.Mutex
		late     []error // errors of calls made after Close returned
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				after := closedAt.Load()
				started.Add(1)
				k := s.key(t, strconv.Itoa(g)+":"+strconv.Itoa(i))
				var err error
				if i%2 == 0 {
					_, err = add(t, d, c, k, "v", ttl)
				} else {
					_, _, err = d.Get(c, k)
				}
				if after {
					if !errors.Is(err, ngxtasks.ErrClosed) {
						mu.Lock()
						late = append(late, err)
						mu.Unlock()
					}
					return
				}
			}
		})
	}
	// Close once the calls are under way (bounded: a dictionary that
	// blocks every call is caught by the wait below).
	for deadline := time.Now().Add(5 * time.Second); started.Load() < 4*goroutines && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close while calls are made = %v", err)
	}
	closedAt.Store(true)
	closed := time.Now()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		if took := time.Since(closed); took > closeWait {
			t.Errorf("calls in flight at Close ended %v after it returned; want within %v", took, closeWait)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("calls racing Close still running 30 s later")
	}
	for _, err := range late {
		t.Errorf("call after Close returned = %v; want ErrClosed", err)
	}
}

// filler returns exactly n bytes of keys or values that stores mangle when
// they treat them as anything but bytes: separators, spaces, quotes,
// multi-byte UTF-8 and, unless text is all the store holds, NUL and invalid
// UTF-8. A rune is never cut in half.
func (s *suite) filler(n int) string {
	pattern := ":/ a-é-鍵-🔑-\"'\\%_*\t"
	if !s.opts.TextOnly {
		pattern += "\x00\xff"
	}
	var b strings.Builder
	for b.Len() < n {
		for _, r := range pattern {
			size := utf8.RuneLen(r)
			if r == utf8.RuneError {
				size = 1 // the invalid byte \xff
			}
			if b.Len()+size > n {
				break
			}
			if r == utf8.RuneError {
				b.WriteByte(0xff)
			} else {
				b.WriteRune(r)
			}
		}
		for b.Len() < n && b.Len()+4 > n {
			b.WriteByte('x') // the tail too short for the next multi-byte rune
		}
	}
	return b.String()
}

// testLimits: a key of MaxKeyLen bytes and a value of MaxValueLen round
// trip, odd bytes and all; one byte more is ErrTooLarge, an empty key or a
// TTL <= 0 ErrInvalidEntry, and a refused call stores nothing. An empty
// value and a TTL of a nanosecond are valid.
func (s *suite) testLimits(t *testing.T) {
	d, c := s.handle(t), ctx(t)
	base := s.key(t, "")
	longKey := base + s.filler(ngxtasks.MaxKeyLen-len(base))
	longValue := s.filler(ngxtasks.MaxValueLen)
	if len(longKey) != ngxtasks.MaxKeyLen || len(longValue) != ngxtasks.MaxValueLen {
		t.Fatalf("suite bug: key %d, value %d bytes", len(longKey), len(longValue))
	}
	if added, err := add(t, d, c, longKey, longValue, ttl); err != nil || !added {
		t.Fatalf("Add at the size limits = %v, %v; want stored", added, err)
	}
	if v, ok, err := d.Get(c, longKey); err != nil || !ok || v != longValue {
		t.Fatalf("Get at the size limits = %d bytes, %v, %v; want the %d bytes added", len(v), ok, err, len(longValue))
	}
	for _, e := range []struct {
		name       string
		key, value string
		ttl        time.Duration
		want       error
	}{
		{"key over", longKey + "k", "v", ttl, ngxtasks.ErrTooLarge},
		{"value over", base + "value over", longValue + "v", ttl, ngxtasks.ErrTooLarge},
		{"empty key", "", "v", ttl, ngxtasks.ErrInvalidEntry},
		{"zero ttl", base + "zero ttl", "v", 0, ngxtasks.ErrInvalidEntry},
		{"negative ttl", base + "negative ttl", "v", -time.Second, ngxtasks.ErrInvalidEntry},
	} {
		if added, err := add(t, d, c, e.key, e.value, e.ttl); added || !errors.Is(err, e.want) {
			t.Errorf("%s: Add = %v, %v; want an error matching %v", e.name, added, err, e.want)
		}
		if set, ok := d.(ngxtasks.Setter); ok {
			if err := set.Set(c, e.key, e.value, e.ttl); !errors.Is(err, e.want) {
				t.Errorf("%s: Set = %v; want an error matching %v", e.name, err, e.want)
			}
		}
		if e.key != "" && len(e.key) <= ngxtasks.MaxKeyLen {
			if v, ok, err := d.Get(c, e.key); err != nil || ok {
				t.Errorf("%s: Get after the refused Add and Set = %q, %v, %v; want not stored", e.name, v, ok, err)
			}
		}
	}
	if _, _, err := d.Get(c, longKey+"k"); !errors.Is(err, ngxtasks.ErrTooLarge) {
		t.Errorf("Get of a key over the limit = %v; want ErrTooLarge", err)
	}
	if _, _, err := d.Get(c, ""); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("Get of an empty key = %v; want ErrInvalidEntry", err)
	}
	// An empty value is a value: Get must tell it from a missing key.
	if added, err := add(t, d, c, base+"empty value", "", ttl); err != nil || !added {
		t.Errorf("Add of an empty value = %v, %v; want stored", added, err)
	} else if v, ok, err := d.Get(c, base+"empty value"); err != nil || !ok || v != "" {
		t.Errorf("Get of an empty value = %q, %v, %v; want \"\", true", v, ok, err)
	}
	// Below any store's resolution, but > 0: rounded up, never refused.
	if added, err := add(t, d, c, base+"tiny ttl", "v", time.Nanosecond); err != nil || !added {
		t.Errorf("Add with a TTL of 1ns = %v, %v; want stored", added, err)
	}
	set, ok := d.(ngxtasks.Setter)
	if !ok {
		return
	}
	// Set is held to the same: the limits round trip over a live key, an
	// empty value is stored, and a TTL of a nanosecond is valid.
	otherValue := s.filler(ngxtasks.MaxValueLen-1) + "z"
	if err := set.Set(c, longKey, otherValue, ttl); err != nil {
		t.Errorf("Set at the size limits = %v; want stored", err)
	} else if v, ok, err := d.Get(c, longKey); err != nil || !ok || v != otherValue {
		t.Errorf("Get after Set at the size limits = %d bytes, %v, %v; want the %d bytes set", len(v), ok, err, len(otherValue))
	}
	if err := set.Set(c, base+"empty value", "", ttl); err != nil {
		t.Errorf("Set of an empty value = %v; want stored", err)
	} else if v, ok, err := d.Get(c, base+"empty value"); err != nil || !ok || v != "" {
		t.Errorf("Get after Set of an empty value = %q, %v, %v; want \"\", true", v, ok, err)
	}
	if err := set.Set(c, base+"tiny ttl set", "v", time.Nanosecond); err != nil {
		t.Errorf("Set with a TTL of 1ns = %v; want stored", err)
	}
}

// testBytes: keys that differ only in bytes stores like to normalise (case,
// trailing space, Unicode normalisation, what follows a NUL) are distinct
// keys, and every key and value comes back exactly. Stores with
// Options.TextOnly refuse NUL bytes and invalid UTF-8 with ErrInvalidEntry
// instead, and store nothing.
func (s *suite) testBytes(t *testing.T) {
	d, c := s.handle(t), ctx(t)
	text := []string{
		"a:b/c d?e#f%g&h=i*[x]{y}", "ключ-鍵-🔑", `quote"'\`, "tab\tnewline\n",
		"Case", "case", "trail", "trail ", "\u00e9", "e\u0301", "%2F", "/", "nul",
	}
	binary := []string{"nul\x00a", "nul\x00b", "\x00", "bad\xffutf8", "bad\xfe"}
	keys := text
	if !s.opts.TextOnly {
		keys = append(keys, binary...)
	}
	value := func(k string) string { return "value of " + k }
	if !s.opts.TextOnly {
		value = func(k string) string { return "value\x00of\xff" + k }
	}
	for _, k := range keys {
		if added, err := add(t, d, c, s.key(t, k), value(k), ttl); err != nil || !added {
			t.Errorf("Add(%q) of a fresh key = %v, %v; want stored (another key taken for it?)", k, added, err)
		}
	}
	for _, k := range keys {
		checkGet(t, d, c, s.key(t, k), value(k))
	}
	// Set over each, the same bytes: still each key its own.
	if set, ok := d.(ngxtasks.Setter); ok {
		for _, k := range keys {
			if err := set.Set(c, s.key(t, k), value(k)+" set", ttl); err != nil {
				t.Errorf("Set(%q) = %v; want stored", k, err)
			}
		}
		for _, k := range keys {
			checkGet(t, d, c, s.key(t, k), value(k)+" set")
		}
	}
	if !s.opts.TextOnly {
		return
	}
	set, setter := d.(ngxtasks.Setter)
	for _, k := range binary {
		key := s.key(t, k)
		if added, err := add(t, d, c, key, "v", ttl); added || !errors.Is(err, ngxtasks.ErrInvalidEntry) {
			t.Errorf("TextOnly: Add(%q) = %v, %v; want ErrInvalidEntry", k, added, err)
		}
		if setter {
			if err := set.Set(c, key, "v", ttl); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
				t.Errorf("TextOnly: Set(%q) = %v; want ErrInvalidEntry", k, err)
			}
		}
		if v, ok, err := d.Get(c, key); ok || (err != nil && !errors.Is(err, ngxtasks.ErrInvalidEntry)) {
			t.Errorf("TextOnly: Get(%q) = %q, %v, %v; want not found or ErrInvalidEntry", k, v, ok, err)
		}
		valid := s.key(t, "value "+strconv.Quote(k))
		if added, err := add(t, d, c, valid, k, ttl); added || !errors.Is(err, ngxtasks.ErrInvalidEntry) {
			t.Errorf("TextOnly: Add of value %q = %v, %v; want ErrInvalidEntry", k, added, err)
		}
		if setter {
			if err := set.Set(c, valid, k, ttl); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
				t.Errorf("TextOnly: Set of value %q = %v; want ErrInvalidEntry", k, err)
			}
		}
		if v, ok, err := d.Get(c, valid); err != nil || ok {
			t.Errorf("TextOnly: Get after the refused value %q = %q, %v, %v; want not stored", k, v, ok, err)
		}
		if b, ok := d.(ngxtasks.BatchAdder); ok {
			adds := []ngxtasks.Add{{Key: key, Value: "v", TTL: ttl}, {Key: valid + ":b", Value: "v", TTL: ttl}}
			if err := b.AddBatch(c, adds); err != nil {
				t.Errorf("TextOnly: AddBatch = %v; want per-element answers", err)
			}
			if adds[0].Added || !errors.Is(adds[0].Err, ngxtasks.ErrInvalidEntry) {
				t.Errorf("TextOnly: AddBatch element %q: %+v; want ErrInvalidEntry", k, adds[0])
			}
			if !adds[1].Added || adds[1].Err != nil {
				t.Errorf("TextOnly: AddBatch's valid element beside %q: %+v; want stored", k, adds[1])
			}
		}
	}
}
