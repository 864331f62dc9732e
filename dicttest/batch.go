package dicttest

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func (s *suite) batcher(t *testing.T) (ngxtasks.Dict, ngxtasks.BatchAdder) {
	d := s.handle(t)
	b, ok := d.(ngxtasks.BatchAdder)
	if !ok {
		t.Skipf("%T does not implement BatchAdder", d)
	}
	return d, b
}

// testBatch sends one batch of a thousand keys, a tenth of them taken
// beforehand, plus repeated keys and invalid elements, in a random order.
//
// ngxtasks.BatchAdder's contract is that AddBatch answers every element and
// fails as a whole only when it could attempt none. So: no error for this
// batch; each fresh key stored, each taken key refused, both without an
// error (the store is healthy); invalid elements refused on their own with
// the error Add gives them. A key repeated in the batch is stored by exactly
// one of its elements: which one the contract leaves open (every backend
// today stores the first), so the test asks only that Get return the value
// of the element that reports stored.
func (s *suite) testBatch(t *testing.T) {
	d, b := s.batcher(t)
	c := ctx(t)
	if err := b.AddBatch(c, nil); err != nil {
		t.Errorf("AddBatch of no elements = %v", err)
	}
	const n, taken = 1000, 100
	key := func(i int) string { return s.key(t, strconv.Itoa(i)) }
	for i := range taken {
		if added, err := add(t, d, c, key(i), "before", ttl); err != nil || !added {
			t.Fatalf("Add = %v, %v", added, err)
		}
	}
	adds := make([]ngxtasks.Add, 0, n+10)
	for i := range n {
		adds = append(adds, ngxtasks.Add{Key: key(i), Value: "batch-" + strconv.Itoa(i), TTL: ttl})
	}
	const freshDup, takenDup = 500, 10 // multiples of 10: Get checks them
	over := strings.Repeat("x", ngxtasks.MaxKeyLen+1)
	invalid := map[string]error{} // by value
	for _, a := range []struct {
		ngxtasks.Add
		want error
	}{
		{ngxtasks.Add{Key: key(freshDup), Value: "repeat-1", TTL: ttl}, nil},
		{ngxtasks.Add{Key: key(freshDup), Value: "repeat-2", TTL: time.Hour}, nil},
		{ngxtasks.Add{Key: key(takenDup), Value: "repeat-3", TTL: ttl}, nil},
		{ngxtasks.Add{Key: "", Value: "empty key", TTL: ttl}, ngxtasks.ErrInvalidEntry},
		{ngxtasks.Add{Key: key(n), Value: "zero ttl", TTL: 0}, ngxtasks.ErrInvalidEntry},
		{ngxtasks.Add{Key: key(n + 1), Value: "negative ttl", TTL: -time.Second}, ngxtasks.ErrInvalidEntry},
		{ngxtasks.Add{Key: over, Value: "long key", TTL: ttl}, ngxtasks.ErrTooLarge},
		{ngxtasks.Add{Key: key(n + 2), Value: "long value" + over, TTL: ttl}, ngxtasks.ErrTooLarge},
	} {
		adds = append(adds, a.Add)
		if a.want != nil {
			invalid[a.Value] = a.want
		}
	}
	mrand.Shuffle(len(adds), func(i, j int) { adds[i], adds[j] = adds[j], adds[i] })
	// The elements as sent, since AddBatch may rewrite them.
	sent := append([]ngxtasks.Add(nil), adds...)

	if err := b.AddBatch(c, adds); err != nil {
		t.Fatalf("AddBatch = %v; want per-element answers", err)
	}
	byKey := map[string][]int{} // valid elements by key
	for i, a := range adds {
		if a.Key != sent[i].Key || a.Value != sent[i].Value || a.TTL != sent[i].TTL {
			t.Errorf("element %d changed from %q=%q to %q=%q", i, sent[i].Key, sent[i].Value, a.Key, a.Value)
		}
		if want, bad := invalid[sent[i].Value]; bad {
			if a.Added || !errors.Is(a.Err, want) {
				t.Errorf("%s: Added %v, Err %v; want an error matching %v", sent[i].Value, a.Added, a.Err, want)
			}
			continue
		}
		if a.Err != nil {
			t.Errorf("element %d (%q): Added %v, Err %v; want no error", i, a.Key, a.Added, a.Err)
		}
		byKey[a.Key] = append(byKey[a.Key], i)
	}
	if len(byKey) != n {
		t.Fatalf("%d keys among the valid elements, want %d", len(byKey), n)
	}
	winner := map[string]string{} // value stored, by key
	for i := range n {
		k, stored := key(i), []string{}
		for _, j := range byKey[k] {
			if adds[j].Added {
				stored = append(stored, sent[j].Value)
			}
		}
		switch {
		case i < taken && len(stored) > 0:
			t.Errorf("key %d, taken before the batch, stored by %v", i, stored)
		case i < taken:
			winner[k] = "before"
		case len(stored) != 1:
			t.Errorf("fresh key %d (%d elements) stored by %d elements %v, want exactly 1", i, len(byKey[k]), len(stored), stored)
		default:
			winner[k] = stored[0]
		}
	}
	// Get every tenth key, the repeated ones among them: the winners'.
	for i := 0; i < n; i += 10 {
		checkGet(t, d, c, key(i), winner[key(i)])
	}
	for _, k := range []string{key(n), key(n + 1), key(n + 2)} {
		if v, ok, err := d.Get(c, k); err != nil || ok {
			t.Errorf("Get of an invalid element's key %q = %q, %v, %v; want not found", k, v, ok, err)
		}
	}
}

// checkGet checks that Get returns want; an empty want, a key whose
// winner is unknown (already reported), is skipped.
func checkGet(t *testing.T, d ngxtasks.Dict, c context.Context, k, want string) {
	t.Helper()
	if want == "" {
		return
	}
	if v, ok, err := d.Get(c, k); err != nil || !ok || v != want {
		t.Errorf("Get(%q) = %q, %v, %v; want %q", k, v, ok, err, want)
	}
}

// testBatchRace: 64 goroutines send batches of the same 200 keys, each in
// an order of its own, while 4 more Add them one by one: exactly one
// element or Add stores each key, and Get returns its value.
func (s *suite) testBatchRace(t *testing.T) {
	d, b := s.batcher(t)
	c := ctx(t)
	const batchers, adders, keys = 64, 4, 200
	var (
		mu      sync.Mutex
		winners [keys][]string
		wg      sync.WaitGroup
		errs    = make(chan error, batchers+adders)
		start   = make(chan struct{})
	)
	won := func(i int, who string) {
		mu.Lock()
		winners[i] = append(winners[i], who)
		mu.Unlock()
	}
	for g := range batchers {
		wg.Go(func() {
			who := "batch" + strconv.Itoa(g)
			order := mrand.Perm(keys)
			adds := make([]ngxtasks.Add, keys)
			for j, i := range order {
				adds[j] = ngxtasks.Add{Key: s.key(t, strconv.Itoa(i)), Value: who, TTL: ttl}
			}
			<-start
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
					won(order[j], who)
				}
			}
		})
	}
	for g := range adders {
		wg.Go(func() {
			who := "add" + strconv.Itoa(g)
			<-start
			for i := range keys {
				added, err := add(t, d, c, s.key(t, strconv.Itoa(i)), who, ttl)
				if err != nil {
					errs <- err
					return
				}
				if added {
					won(i, who)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("racing AddBatch or Add: %v", err)
	}
	for i, w := range winners {
		if len(w) != 1 {
			t.Errorf("key %d stored by %d of the racers %v, want exactly 1", i, len(w), w)
			continue
		}
		checkGet(t, d, c, s.key(t, strconv.Itoa(i)), w[0])
	}
}
