package dicttest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// testSet checks Setter, for dictionaries that have it: Set stores whatever
// the key holds (a live value, an expired one, none), Add still refuses a
// key Set made, a value Set stores expires with its TTL, and Set checks its
// entry as Add does.
func (s *suite) testSet(t *testing.T) {
	d := s.handle(t)
	set, ok := d.(ngxtasks.Setter)
	if !ok {
		t.Skipf("%T does not implement Setter", d)
	}
	c, k := ctx(t), s.key(t, "k")
	if err := set.Set(c, k, "one", ttl); err != nil {
		t.Fatalf("Set of a missing key: %v", err)
	}
	checkGet(t, d, c, k, "one")
	if err := set.Set(c, k, "two", ttl); err != nil {
		t.Fatalf("Set of a live key: %v", err)
	}
	checkGet(t, d, c, k, "two")
	if added, err := add(t, d, c, k, "three", ttl); err != nil || added {
		t.Fatalf("Add of a key Set made = %v, %v; want refused", added, err)
	}
	checkGet(t, d, c, k, "two")

	short := s.key(t, "short")
	if err := set.Set(c, short, "soon gone", s.opts.MinTTL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(s.opts.MinTTL + s.opts.TTLGrace + time.Second) // whole-second leases round up
	if v, ok, err := d.Get(c, short); err != nil || ok {
		t.Fatalf("Get after the TTL of a value Set = %q, %v, %v; want gone", v, ok, err)
	}
	if err := set.Set(c, short, "back", ttl); err != nil {
		t.Fatal(err)
	}
	checkGet(t, d, c, short, "back")

	if err := set.Set(c, strings.Repeat("k", ngxtasks.MaxKeyLen+1), "v", ttl); !errors.Is(err, ngxtasks.ErrTooLarge) {
		t.Errorf("Set of a key over MaxKeyLen = %v, want ErrTooLarge", err)
	}
	if err := set.Set(c, s.key(t, "bad ttl"), "v", 0); err == nil {
		t.Errorf("Set with no TTL succeeded; want the error Add gives")
	}
}
