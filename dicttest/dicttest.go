package dicttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// An Opener opens a new handle on the dictionary under test: each call a
// client of its own onto the same store. The suite closes what it opens.
type Opener func(t testing.TB) ngxtasks.Dict

// Options describe what a store can honour.
type Options struct {
	// MinTTL is the shortest TTL the expiry test uses; 0 means 200 ms.
	// A store with whole-second leases needs seconds.
	MinTTL time.Duration
	// TTLGrace is how long after its TTL an entry may still be seen
	// (rounding of leases, deletion delays); 0 means 1 s.
	TTLGrace time.Duration
}

// Run runs the in-process conformance tests as subtests of t.
func Run(t *testing.T, open Opener, opts Options) {
	if opts.MinTTL <= 0 {
		opts.MinTTL = 200 * time.Millisecond
	}
	if opts.TTLGrace <= 0 {
		opts.TTLGrace = time.Second
	}
	s := &suite{open: open, opts: opts, prefix: "dicttest:" + randomHex() + ":"}
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"AddIfAbsent", s.testAddIfAbsent},
		{"Atomic/OneHandle", func(t *testing.T) { s.testAtomic(t, 1) }},
		{"Atomic/FourHandles", func(t *testing.T) { s.testAtomic(t, 4) }},
		{"Expiry", s.testExpiry},
		{"Batch", s.testBatch},
		{"Batch/Race", s.testBatchRace},
		{"Context", s.testContext},
		{"Closed", s.testClosed},
		{"Limits", s.testLimits},
		{"OddBytes", s.testOddBytes},
		{"StoreClock", s.testStoreClock},
	} {
		t.Run(c.name, c.f)
	}
}

type suite struct {
	open   Opener
	opts   Options
	prefix string
}

// key returns a key of the running test: unique per test and run.
func (s *suite) key(t *testing.T, name string) string {
	return s.prefix + t.Name() + ":" + name
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ctx bounds every call of a test, so a hung store fails the test instead
// of the run.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// handle opens a handle and closes it when the test ends.
func (s *suite) handle(t *testing.T) ngxtasks.Dict {
	t.Helper()
	d := s.open(t)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

const ttl = time.Minute

func (s *suite) testAddIfAbsent(t *testing.T) {
	d, c, k := s.handle(t), ctx(t), s.key(t, "k")
	if v, ok, err := d.Get(c, k); err != nil || ok {
		t.Fatalf("Get of a missing key = %q, %v, %v; want not found", v, ok, err)
	}
	if added, err := d.Add(c, k, "first", ttl); err != nil || !added {
		t.Fatalf("first Add = %v, %v; want stored", added, err)
	}
	if added, err := d.Add(c, k, "second", ttl); err != nil || added {
		t.Fatalf("second Add = %v, %v; want not stored", added, err)
	}
	if v, ok, err := d.Get(c, k); err != nil || !ok || v != "first" {
		t.Fatalf("Get = %q, %v, %v; want the first value", v, ok, err)
	}
}

// testAtomic has 64 goroutines, spread over handles handles, add the same
// keys with values of their own: exactly one stores each key, and Get
// returns its value.
func (s *suite) testAtomic(t *testing.T, handles int) {
	const goroutines, keys = 64, 50
	c := ctx(t)
	ds := make([]ngxtasks.Dict, handles)
	for i := range ds {
		ds[i] = s.handle(t)
	}
	winners := make([][]string, keys) // values that were stored, per key
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed atomic.Value
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			d, who := ds[g%handles], "g"+strconv.Itoa(g)
			<-start
			for _, i := range mrand.Perm(keys) {
				added, err := d.Add(c, s.key(t, strconv.Itoa(i)), who, ttl)
				if err != nil {
					failed.Store(err)
					return
				}
				if added {
					mu.Lock()
					winners[i] = append(winners[i], who)
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("Add failed: %v", err)
	}
	for i, w := range winners {
		if len(w) != 1 {
			t.Errorf("key %d stored by %d goroutines %v, want exactly 1", i, len(w), w)
			continue
		}
		if v, ok, err := ds[0].Get(c, s.key(t, strconv.Itoa(i))); err != nil || !ok || v != w[0] {
			t.Errorf("Get of key %d = %q, %v, %v; want the winner %q", i, v, ok, err, w[0])
		}
	}
}

// testExpiry: a key cannot be taken again before its TTL has passed, and
// can be within TTLGrace after.
func (s *suite) testExpiry(t *testing.T) {
	d, c, k := s.handle(t), ctx(t), s.key(t, "k")
	life := s.opts.MinTTL
	before := time.Now()
	if added, err := d.Add(c, k, "old", life); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	time.Sleep(life / 2)
	if added, err := d.Add(c, k, "early", life); err != nil || added {
		t.Fatalf("Add at half the TTL = %v, %v; want not stored", added, err)
	}
	deadline := before.Add(life + s.opts.TTLGrace + time.Second)
	for {
		added, err := d.Add(c, k, "new", life)
		if err != nil {
			t.Fatal(err)
		}
		if added {
			if early := time.Since(before); early < life {
				t.Fatalf("key taken again %v after it was added, before its TTL %v", early, life)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key still taken %v after its TTL %v ended (grace %v)", time.Since(before)-life, life, s.opts.TTLGrace)
		}
		time.Sleep(life / 20)
	}
	if v, ok, err := d.Get(c, k); err != nil || !ok || v != "new" {
		t.Fatalf("Get after expiry = %q, %v, %v; want the new value", v, ok, err)
	}
}

func (s *suite) batcher(t *testing.T) (ngxtasks.Dict, ngxtasks.BatchAdder) {
	d := s.handle(t)
	b, ok := d.(ngxtasks.BatchAdder)
	if !ok {
		t.Skipf("%T does not implement BatchAdder", d)
	}
	return d, b
}

// testBatch: 300 elements, the first 50 keys already taken, two keys given
// twice and one invalid element.
func (s *suite) testBatch(t *testing.T) {
	d, b := s.batcher(t)
	c := ctx(t)
	const n, taken = 300, 50
	for i := range taken {
		if added, err := d.Add(c, s.key(t, strconv.Itoa(i)), "before", ttl); err != nil || !added {
			t.Fatalf("Add = %v, %v", added, err)
		}
	}
	adds := make([]ngxtasks.Add, 0, n+3)
	for i := range n {
		adds = append(adds, ngxtasks.Add{Key: s.key(t, strconv.Itoa(i)), Value: "batch-" + strconv.Itoa(i), TTL: ttl})
	}
	adds = append(adds,
		ngxtasks.Add{Key: s.key(t, "100"), Value: "repeat", TTL: ttl}, // a fresh key given twice
		ngxtasks.Add{Key: s.key(t, "10"), Value: "repeat", TTL: ttl},  // a taken key given twice
		ngxtasks.Add{Key: "", Value: "invalid", TTL: ttl},
	)
	if err := b.AddBatch(c, adds); err != nil {
		t.Fatalf("AddBatch = %v", err)
	}
	for i, a := range adds[:n] {
		want := i >= taken
		if a.Err != nil || a.Added != want {
			t.Errorf("element %d: Added %v, Err %v; want Added %v", i, a.Added, a.Err, want)
		}
	}
	if a := adds[n]; a.Added || a.Err != nil {
		t.Errorf("repeated fresh key: Added %v, Err %v; want not stored (its first element was)", a.Added, a.Err)
	}
	if a := adds[n+1]; a.Added || a.Err != nil {
		t.Errorf("repeated taken key: Added %v, Err %v; want not stored", a.Added, a.Err)
	}
	if a := adds[n+2]; a.Added || !errors.Is(a.Err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("empty key: Added %v, Err %v; want ErrInvalidEntry", a.Added, a.Err)
	}
	for _, i := range []int{0, taken - 1, taken, 100, n - 1} {
		want := "before"
		if i >= taken {
			want = "batch-" + strconv.Itoa(i)
		}
		if v, ok, err := d.Get(c, s.key(t, strconv.Itoa(i))); err != nil || !ok || v != want {
			t.Errorf("Get of key %d = %q, %v, %v; want %q", i, v, ok, err, want)
		}
	}
}

// testBatchRace: 16 goroutines send batches of the same 100 keys, each in
// its own order: exactly one element stores each key.
func (s *suite) testBatchRace(t *testing.T) {
	_, b := s.batcher(t)
	c := ctx(t)
	const goroutines, keys = 16, 100
	var stored [keys]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			order := mrand.Perm(keys)
			adds := make([]ngxtasks.Add, keys)
			for j, i := range order {
				adds[j] = ngxtasks.Add{Key: s.key(t, strconv.Itoa(i)), Value: "g" + strconv.Itoa(g), TTL: ttl}
			}
			if err := b.AddBatch(c, adds); err != nil {
				errs <- err
				return
			}
			for j, a := range adds {
				if a.Err != nil {
					errs <- a.Err
					return
				}
				if a.Added {
					stored[order[j]].Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AddBatch: %v", err)
	}
	for i := range stored {
		if n := stored[i].Load(); n != 1 {
			t.Errorf("key %d stored %d times, want exactly once", i, n)
		}
	}
}

// testContext: a cancelled context or a passed deadline fails every call
// with an error errors.Is recognises, and never reports "stored".
func (s *suite) testContext(t *testing.T) {
	d := s.handle(t)
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
		added, err := d.Add(c.ctx, k, "v", ttl)
		if added || !errors.Is(err, c.want) {
			t.Errorf("%s: Add = %v, %v; want an error matching %v", c.name, added, err, c.want)
		}
		if _, ok, err := d.Get(c.ctx, k); ok || !errors.Is(err, c.want) {
			t.Errorf("%s: Get = %v, %v; want an error matching %v", c.name, ok, err, c.want)
		}
		if b, ok := d.(ngxtasks.BatchAdder); ok {
			adds := []ngxtasks.Add{{Key: k + ":b", Value: "v", TTL: ttl}}
			err := b.AddBatch(c.ctx, adds)
			if adds[0].Added || (!errors.Is(err, c.want) && !errors.Is(adds[0].Err, c.want)) {
				t.Errorf("%s: AddBatch = %v, element %+v; want an error matching %v", c.name, err, adds[0], c.want)
			}
		}
	}
	// A call whose context ends while it waits must not hang: give it a
	// deadline shorter than any store's answer can be relied upon to take.
	short, cancel3 := context.WithTimeout(context.Background(), time.Microsecond)
	defer cancel3()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = d.Add(short, s.key(t, "short"), "v", ttl)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("Add with a 1µs deadline still running after 10 s")
	}
}

// testClosed: a closed handle refuses every call with ErrClosed, and a
// second Close does not panic.
func (s *suite) testClosed(t *testing.T) {
	d := s.open(t)
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	c, k := ctx(t), s.key(t, "k")
	if added, err := d.Add(c, k, "v", ttl); added || !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Add after Close = %v, %v; want ErrClosed", added, err)
	}
	if _, ok, err := d.Get(c, k); ok || !errors.Is(err, ngxtasks.ErrClosed) {
		t.Errorf("Get after Close = %v, %v; want ErrClosed", ok, err)
	}
	if b, ok := d.(ngxtasks.BatchAdder); ok {
		adds := []ngxtasks.Add{{Key: k, Value: "v", TTL: ttl}}
		err := b.AddBatch(c, adds)
		if adds[0].Added || (!errors.Is(err, ngxtasks.ErrClosed) && !errors.Is(adds[0].Err, ngxtasks.ErrClosed)) {
			t.Errorf("AddBatch after Close = %v, element %+v; want ErrClosed", err, adds[0])
		}
	}
	_ = d.Close() // must not panic
}

func (s *suite) testLimits(t *testing.T) {
	d, c := s.handle(t), ctx(t)
	base := s.key(t, "")
	longKey := base + strings.Repeat("k", ngxtasks.MaxKeyLen-len(base))
	longValue := strings.Repeat("v", ngxtasks.MaxValueLen)
	if added, err := d.Add(c, longKey, longValue, ttl); err != nil || !added {
		t.Fatalf("Add at the size limits = %v, %v", added, err)
	}
	if v, ok, err := d.Get(c, longKey); err != nil || !ok || v != longValue {
		t.Fatalf("Get at the size limits = %d bytes, %v, %v", len(v), ok, err)
	}
	for _, c2 := range []struct {
		name       string
		key, value string
		ttl        time.Duration
		want       error
	}{
		{"key over", longKey + "k", "v", ttl, ngxtasks.ErrTooLarge},
		{"value over", base + "v", longValue + "v", ttl, ngxtasks.ErrTooLarge},
		{"empty key", "", "v", ttl, ngxtasks.ErrInvalidEntry},
		{"zero ttl", base + "z", "v", 0, ngxtasks.ErrInvalidEntry},
		{"negative ttl", base + "n", "v", -time.Second, ngxtasks.ErrInvalidEntry},
	} {
		if added, err := d.Add(c, c2.key, c2.value, c2.ttl); added || !errors.Is(err, c2.want) {
			t.Errorf("%s: Add = %v, %v; want %v", c2.name, added, err, c2.want)
		}
	}
	if _, _, err := d.Get(c, longKey+"k"); !errors.Is(err, ngxtasks.ErrTooLarge) {
		t.Errorf("Get of a key over the limit = %v; want ErrTooLarge", err)
	}
	if _, _, err := d.Get(c, ""); !errors.Is(err, ngxtasks.ErrInvalidEntry) {
		t.Errorf("Get of an empty key = %v; want ErrInvalidEntry", err)
	}
}

// testOddBytes: keys and values with separators, spaces, multi-byte UTF-8
// round trip; a NUL byte or invalid UTF-8 either round trips or is refused
// with ErrInvalidEntry, never altered or mixed up with another key.
func (s *suite) testOddBytes(t *testing.T) {
	d, c := s.handle(t), ctx(t)
	for i, k := range []string{"a:b/c d?e#f%g&h=i", "ключ-鍵-🔑", `quote"'\`, "tab\tnewline\n"} {
		key, value := s.key(t, k), fmt.Sprintf("value %d: %s", i, k)
		if added, err := d.Add(c, key, value, ttl); err != nil || !added {
			t.Errorf("Add(%q) = %v, %v", k, added, err)
			continue
		}
		if v, ok, err := d.Get(c, key); err != nil || !ok || v != value {
			t.Errorf("Get(%q) = %q, %v, %v; want %q", k, v, ok, err, value)
		}
	}
	for _, k := range []string{"nul\x00byte", "bad\xffutf8"} {
		key, value := s.key(t, k), "value of "+k
		added, err := d.Add(c, key, value, ttl)
		if err != nil {
			if !errors.Is(err, ngxtasks.ErrInvalidEntry) {
				t.Errorf("Add(%q) = %v; want it stored or ErrInvalidEntry", k, err)
			}
			continue
		}
		if !added {
			t.Errorf("Add(%q) of a fresh key not stored", k)
			continue
		}
		if v, ok, err := d.Get(c, key); err != nil || !ok || v != value {
			t.Errorf("Get(%q) = %q, %v, %v; want %q", k, v, ok, err, value)
		}
		cut := strings.IndexByte(key, 0)
		if cut < 0 {
			cut = strings.IndexByte(key, 0xff)
		}
		prefix := key[:cut]
		if _, ok, err := d.Get(c, prefix); err != nil || ok {
			t.Errorf("Get(%q), the key cut at the odd byte, = %v, %v; want not found", prefix, ok, err)
		}
	}
}

func (s *suite) testStoreClock(t *testing.T) {
	d := s.handle(t)
	sc, ok := d.(ngxtasks.StoreClock)
	if !ok {
		t.Skipf("%T does not implement StoreClock", d)
	}
	c := ctx(t)
	var last time.Time
	for range 3 {
		before := time.Now()
		now, err := sc.Now(c)
		if err != nil {
			t.Fatal(err)
		}
		if off := now.Sub(before); off < -2*time.Second || off > 2*time.Second {
			t.Errorf("store clock %v is %v off ours on loopback", now, off)
		}
		if now.Before(last) {
			t.Errorf("store clock went back from %v to %v", last, now)
		}
		last = now
	}
}
