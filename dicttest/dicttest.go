package dicttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// An Opener opens a new handle on the dictionary under test: each call a
// client (connection pool) of its own onto the same store. The suite closes
// what it opens. An in-process dictionary may return the same instance to
// every call of one test, but must give each test (t) its own, since the
// Closed test closes its handles.
type Opener func(t testing.TB) ngxtasks.Dict

// Options describe what a store can honour.
type Options struct {
	// MinTTL is the shortest TTL the store honours exactly, used by the
	// expiry test; 0 means 200 ms. A store with whole-second leases needs
	// seconds (etcd 3.4: 2 s).
	MinTTL time.Duration
	// TTLGrace is how long after its TTL an entry may still be seen: the
	// store's clock granularity, lease rounding, lazy deletion. 0 means
	// 50 ms.
	TTLGrace time.Duration
	// TextOnly is set for stores whose keys and values are text columns
	// (PostgreSQL): they refuse keys and values holding a NUL byte or
	// invalid UTF-8 with ngxtasks.ErrInvalidEntry, before storing anything.
	// Other stores must round-trip any bytes.
	TextOnly bool
}

// Run runs the in-process conformance tests as subtests of t. It returns
// when they have all finished. Expiry, which mostly sleeps (seconds on a
// store with whole-second leases), runs beside the others; it asserts only
// what a busy machine cannot fake, so the load they add does not make it
// flaky.
func Run(t *testing.T, open Opener, opts Options) {
	if opts.MinTTL <= 0 {
		opts.MinTTL = 200 * time.Millisecond
	}
	if opts.TTLGrace <= 0 {
		opts.TTLGrace = 50 * time.Millisecond
	}
	s := &suite{open: open, opts: opts, prefix: "dicttest:" + randomHex() + ":"}
	var expiry sync.WaitGroup
	expiry.Go(func() { t.Run("Expiry", s.testExpiry) })
	expiry.Go(func() { t.Run("LeaseExpiry", s.testLeaseExpiry) })
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"AddIfAbsent", s.testAddIfAbsent},
		{"AtomicOneHandle", func(t *testing.T) { s.testAtomic(t, 1) }},
		{"AtomicFourHandles", func(t *testing.T) { s.testAtomic(t, 4) }},
		{"Batch", s.testBatch},
		{"BatchRace", s.testBatchRace},
		{"Context", s.testContext},
		{"Closed", s.testClosed},
		{"CloseRacing", s.testCloseRacing},
		{"Limits", s.testLimits},
		{"Bytes", s.testBytes},
		{"StoreClock", s.testStoreClock},
		{"Set", s.testSet},
		{"Lease", s.testLease},
		{"LeaseClaim", s.testLeaseClaim},
		{"LeaseRace", s.testLeaseRace},
		{"LeaseRenewBatch", s.testLeaseRenewBatch},
	} {
		t.Run(c.name, c.f)
	}
	expiry.Wait()
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

// testTimeout bounds every call of a test, so a hung store fails the test
// instead of stalling the run until go test's own timeout.
const testTimeout = 60 * time.Second

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return c
}

// handle opens a handle and closes it when the test ends.
func (s *suite) handle(t *testing.T) ngxtasks.Dict {
	t.Helper()
	d := s.open(t)
	if d == nil {
		t.Fatal("Opener returned nil")
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// ttl is the life of the suite's claims where expiry is not under test:
// longer than any test, short enough not to litter a shared server.
const ttl = 2 * time.Minute

// add is Add with the check every call gets: an error never comes with
// "stored", which the manager would have to ignore.
func add(t *testing.T, d ngxtasks.Dict, c context.Context, k, v string, life time.Duration) (bool, error) {
	t.Helper()
	added, err := d.Add(c, k, v, life)
	if err != nil && added {
		t.Errorf("Add(%q) = true with error %v; an error must come with false", k, err)
	}
	return added, err
}

func (s *suite) testAddIfAbsent(t *testing.T) {
	d, c, k := s.handle(t), ctx(t), s.key(t, "k")
	if v, ok, err := d.Get(c, k); err != nil || ok {
		t.Fatalf("Get of a missing key = %q, %v, %v; want not found, no error", v, ok, err)
	}
	if added, err := add(t, d, c, k, "first", ttl); err != nil || !added {
		t.Fatalf("first Add = %v, %v; want stored", added, err)
	}
	if added, err := add(t, d, c, k, "second", ttl); err != nil || added {
		t.Fatalf("second Add = %v, %v; want not stored", added, err)
	}
	if v, ok, err := d.Get(c, k); err != nil || !ok || v != "first" {
		t.Fatalf("Get = %q, %v, %v; want the first value", v, ok, err)
	}
	// A taken key stays the first winner's, however often it is asked for.
	for i := range 3 {
		if added, err := add(t, d, c, k, "again"+strconv.Itoa(i), ttl); err != nil || added {
			t.Fatalf("Add of a taken key = %v, %v; want not stored", added, err)
		}
	}
	if v, ok, err := d.Get(c, k); err != nil || !ok || v != "first" {
		t.Fatalf("Get after more Adds = %q, %v, %v; want the first value", v, ok, err)
	}
}

// atomicKeys is how many keys testAtomic races on: each of its 64
// goroutines adds all of them, so a test makes 64 × atomicKeys Adds, which
// keeps it within seconds on a remote store. A non-atomic Add shows within
// a few keys (see TestSuiteCatchesEveryInjectedFault).
const atomicKeys = 100

// testAtomic has 64 goroutines, spread over handles handles, add the same
// keys, each with a value of its own: exactly one stores each key, and Get
// returns its value. The goroutines start together and walk the keys in the
// same order, so that every key is contended by goroutines arriving at
// about the same time, not taken by the first and then merely refused.
func (s *suite) testAtomic(t *testing.T, handles int) {
	const goroutines = 64
	c := ctx(t)
	ds := make([]ngxtasks.Dict, handles)
	for i := range ds {
		ds[i] = s.handle(t)
	}
	var (
		mu      sync.Mutex
		winners = make([][]string, atomicKeys) // who stored each key
		errs    = make(chan error, goroutines)
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for g := range goroutines {
		wg.Go(func() {
			d, who := ds[g%handles], "g"+strconv.Itoa(g)
			<-start
			for i := range atomicKeys {
				added, err := add(t, d, c, s.key(t, strconv.Itoa(i)), who, ttl)
				if err != nil {
					errs <- err
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
	close(errs)
	for err := range errs {
		t.Fatalf("Add failed: %v", err)
	}
	for i, w := range winners {
		if len(w) != 1 {
			t.Errorf("key %d stored by %d goroutines %v, want exactly 1", i, len(w), w)
			continue
		}
		if v, ok, err := ds[i%handles].Get(c, s.key(t, strconv.Itoa(i))); err != nil || !ok || v != w[0] {
			t.Errorf("Get of key %d = %q, %v, %v; want the winner %q", i, v, ok, err, w[0])
		}
	}
}

// expirySlack is how much earlier than its TTL a claim may be seen gone:
// stores that keep time in milliseconds may round an expiry down by one.
const expirySlack = 2 * time.Millisecond

// testExpiry: a claim cannot be taken again before its TTL has passed, and
// can by an Add that starts TTLGrace after; Get stops returning it then.
// One claim is made by Add and, on a BatchAdder, one by AddBatch, in a
// batch beside a claim of a long TTL that must stay.
//
// Only what a slow machine cannot fake is asserted. An Add that stores
// before the TTL must have returned early: the first claim was applied after
// 'before', so it lives past before+TTL. An Add that does not store must
// have started late: the first claim was applied before 'after', so it has
// expired by after+TTL+TTLGrace.
func (s *suite) testExpiry(t *testing.T) {
	d, c := s.handle(t), ctx(t)
	life, grace := s.opts.MinTTL, s.opts.TTLGrace
	seen := s.key(t, "seen")              // only read
	retake := []string{s.key(t, "taken")} // taken again by Add
	before := time.Now()
	for _, k := range []string{seen, retake[0]} {
		if added, err := add(t, d, c, k, "old", life); err != nil || !added {
			t.Fatalf("Add = %v, %v", added, err)
		}
	}
	long := s.key(t, "long")
	if b, ok := d.(ngxtasks.BatchAdder); ok {
		adds := []ngxtasks.Add{{Key: s.key(t, "batched"), Value: "old", TTL: life}, {Key: long, Value: "long", TTL: ttl}}
		if err := b.AddBatch(c, adds); err != nil || !adds[0].Added || !adds[1].Added {
			t.Fatalf("AddBatch = %v, %+v", err, adds)
		}
		retake = append(retake, adds[0].Key)
	}
	after := time.Now()
	dead := after.Add(life + grace) // the claims have expired by then
	early := func() bool { return time.Now().Before(before.Add(life - expirySlack)) }

	time.Sleep(time.Until(before.Add(life / 2)))
	if v, ok, err := d.Get(c, seen); err != nil || (!ok && early()) {
		t.Errorf("Get at half the TTL = %q, %v, %v; want the live value", v, ok, err)
	}
	step := max(life/20, 5*time.Millisecond)
	retakenAt := make(map[string]time.Time) // when the Add that took a key again started
	gone := false
	for len(retakenAt) < len(retake) || !gone {
		for _, k := range retake {
			if _, done := retakenAt[k]; done {
				continue
			}
			start := time.Now()
			added, err := add(t, d, c, k, "new", life)
			switch {
			case err != nil:
				t.Fatal(err)
			case added && early():
				t.Fatalf("key %q taken again %v after it was added, before its TTL %v", k, time.Since(before), life)
			case added:
				retakenAt[k] = start
			case start.After(dead):
				t.Fatalf("key %q still taken %v after its TTL %v ended (grace %v)", k, start.Sub(after)-life, life, grace)
			}
		}
		if !gone {
			start := time.Now()
			v, ok, err := d.Get(c, seen)
			switch {
			case err != nil:
				t.Fatal(err)
			case ok && v != "old":
				t.Fatalf("Get = %q; want the value added, %q", v, "old")
			case !ok && early():
				t.Fatalf("key gone %v after it was added, before its TTL %v", time.Since(before), life)
			case !ok:
				gone = true
			case start.After(dead):
				t.Fatalf("Get still returns the key %v after its TTL %v ended (grace %v)", start.Sub(after)-life, life, grace)
			}
		}
		time.Sleep(step)
	}
	// A new claim lives until its Add started plus the TTL at least: while
	// it does, it is the new value's, and no Add takes it.
	for _, k := range retake {
		live := retakenAt[k].Add(life - expirySlack)
		if v, ok, err := d.Get(c, k); err != nil || (ok && v != "new") || (!ok && time.Now().Before(live)) {
			t.Fatalf("Get after the key was taken again = %q, %v, %v; want the new value", v, ok, err)
		}
		if added, err := add(t, d, c, k, "newer", life); err != nil || (added && time.Now().Before(live)) {
			t.Fatalf("Add of the key taken again = %v, %v; want not stored", added, err)
		}
	}
	if added, err := add(t, d, c, long, "new", life); err != nil || added {
		t.Fatalf("Add of the batch's key of TTL %v = %v, %v; want it still taken", ttl, added, err)
	}
}

func (s *suite) testStoreClock(t *testing.T) {
	d := s.handle(t)
	sc, ok := d.(ngxtasks.StoreClock)
	if !ok {
		t.Skipf("%T does not implement StoreClock", d)
	}
	c := ctx(t)
	// On loopback the store's clock is the host's; allow for its own
	// granularity and a slow round trip.
	const near = 2 * time.Second
	var last time.Time
	for range 5 {
		before := time.Now()
		now, err := sc.Now(c)
		if err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		if now.Before(before.Add(-near)) || now.After(after.Add(near)) {
			t.Errorf("store clock %v is outside [%v, %v] ± %v", now, before, after, near)
		}
		// Wall clocks may be stepped; on one host within a few calls they
		// are not, beyond a store's own rounding.
		if now.Before(last.Add(-time.Millisecond)) {
			t.Errorf("store clock went back from %v to %v", last, now)
		}
		last = now
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sc.Now(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Now with a cancelled context = %v; want an error matching context.Canceled", err)
	}
}

// same reports whether two handles are one instance, as an in-process
// dictionary's opener may return.
func same(a, b ngxtasks.Dict) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && any(a) == any(b)
}
