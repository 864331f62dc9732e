package dicttest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// leaseKey is a key of the running test, all of whose keys share a hash
// tag, as a lease's and its claims' do: a sharded store may need the keys
// of one atomic operation on one shard.
func (s *suite) leaseKey(t *testing.T, name string) string {
	return s.prefix + "{" + t.Name() + "}:" + name
}

// leaser returns a handle's Leaser, or skips the test.
func (s *suite) leaser(t *testing.T) (ngxtasks.Dict, ngxtasks.Leaser) {
	t.Helper()
	d := s.handle(t)
	l, ok := d.(ngxtasks.Leaser)
	if !ok {
		t.Skipf("%T does not implement Leaser", d)
	}
	return d, l
}

// lease makes a request, failing the test on an error, and checks what
// every answer must hold.
func lease(t *testing.T, l ngxtasks.Leaser, req ngxtasks.LeaseRequest) ngxtasks.LeaseRequest {
	t.Helper()
	c := ctx(t)
	if err := l.Lease(c, &req); err != nil {
		t.Fatalf("Lease(%q for %q): %v", req.Key, req.Holder, err)
	}
	switch {
	case req.Acquired && (req.Token == 0 || req.HeldBy != ""):
		t.Fatalf("Lease(%q for %q) acquired with token %d, held by %q; want a token and no other holder", req.Key, req.Holder, req.Token, req.HeldBy)
	case req.Acquired && req.Claim.Key != "" && !req.Claim.Added:
		t.Fatalf("Lease(%q for %q) acquired without its claim", req.Key, req.Holder)
	case !req.Acquired && req.Claim.Added:
		t.Fatalf("Lease(%q for %q) added its claim without the lease", req.Key, req.Holder)
	case !req.Acquired && req.HeldBy != "" && req.Token == 0:
		t.Fatalf("Lease(%q for %q) refused for %q without its token", req.Key, req.Holder, req.HeldBy)
	}
	return req
}

// renew renews one lease.
func renew(t *testing.T, l ngxtasks.Leaser, key string, token uint64, life time.Duration) bool {
	t.Helper()
	c := ctx(t)
	rs := []ngxtasks.Renewal{{Key: key, Token: token, TTL: life}}
	if err := l.Renew(c, rs); err != nil || rs[0].Err != nil {
		t.Fatalf("Renew(%q, %d): %v, %v", key, token, err, rs[0].Err)
	}
	return rs[0].Renewed
}

// release releases one lease.
func release(t *testing.T, l ngxtasks.Leaser, key string, token uint64) bool {
	t.Helper()
	c := ctx(t)
	ok, err := l.Release(c, key, token)
	if err != nil {
		t.Fatalf("Release(%q, %d): %v", key, token, err)
	}
	return ok
}

// testLease checks a lease's life between two holders on two handles, as
// two processes would hold it: one holder at a time, the other told who
// holds it and under which token; a renewal or release by a token that is
// not the holder's changes nothing; the holder's renewal and release work,
// and the next taking has a higher token.
func (s *suite) testLease(t *testing.T) {
	_, a := s.leaser(t)
	_, b := s.leaser(t)
	k := s.leaseKey(t, "lease")
	first := lease(t, a, ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: ttl})
	if !first.Acquired {
		t.Fatalf("the first Lease of a key was refused (held by %q)", first.HeldBy)
	}
	if got := lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: ttl}); got.Acquired || got.HeldBy != "a" || got.Token != first.Token {
		t.Fatalf("Lease of a held key = %+v; want refused, held by a under token %d", got, first.Token)
	}
	if got := lease(t, a, ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: ttl}); got.Acquired {
		t.Fatalf("the holder took its own lease again, token %d: a lease is taken once", got.Token)
	}
	for _, wrong := range []uint64{0, first.Token + 1, first.Token + 1000} {
		if renew(t, b, k, wrong, ttl) {
			t.Fatalf("a renewal under token %d, not the holder's %d, succeeded", wrong, first.Token)
		}
		if release(t, b, k, wrong) {
			t.Fatalf("a release under token %d, not the holder's %d, succeeded", wrong, first.Token)
		}
	}
	if got := lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: ttl}); got.Acquired {
		t.Fatal("the lease passed to b after b's wrong renewals and releases")
	}
	if !renew(t, a, k, first.Token, ttl) {
		t.Fatal("the holder's renewal failed")
	}
	if !release(t, a, k, first.Token) {
		t.Fatal("the holder's release failed")
	}
	if release(t, a, k, first.Token) {
		t.Fatal("a lease was released twice")
	}
	if renew(t, a, k, first.Token, ttl) {
		t.Fatal("a released lease was renewed")
	}
	second := lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: ttl})
	if !second.Acquired || second.Token <= first.Token {
		t.Fatalf("Lease after the release = %+v; want b's, with a token above %d", second, first.Token)
	}
	if renew(t, a, k, first.Token, ttl) || release(t, a, k, first.Token) {
		t.Fatal("the first holder renewed or released the lease b holds now")
	}
	if !release(t, b, k, second.Token) {
		t.Fatal("b's release failed")
	}
	other := lease(t, a, ngxtasks.LeaseRequest{Key: s.leaseKey(t, "other"), Holder: "a", TTL: ttl})
	if !other.Acquired {
		t.Fatal("a lease on another key was refused")
	}
	release(t, a, other.Key, other.Token)
}

// testLeaseExpiry checks that a lease ends with its TTL, its holder gone
// (crashed) without releasing it: the next holder takes it, under a higher
// token, and the crashed holder can neither renew nor release it; a
// renewed lease lives its new TTL.
func (s *suite) testLeaseExpiry(t *testing.T) {
	_, a := s.leaser(t)
	_, b := s.leaser(t)
	life, grace := s.opts.MinTTL, s.opts.TTLGrace
	k := s.leaseKey(t, "lease")
	var tokens []uint64
	for i := range 3 { // three holders in turn, each crashing with the lease
		holder := fmt.Sprintf("crashed-%d", i)
		start := time.Now()
		got := lease(t, a, ngxtasks.LeaseRequest{Key: k, Holder: holder, TTL: life})
		if !got.Acquired && i == 0 {
			t.Fatalf("the first Lease of a key was refused (held by %q)", got.HeldBy)
		}
		for !got.Acquired { // the previous holder's lease is running out
			if time.Since(start) > life+grace+time.Second { // whole-second leases round up
				t.Fatalf("the lease of %q still held %v after its TTL %v (grace %v)", got.HeldBy, time.Since(start), life, grace)
			}
			time.Sleep(max(life/20, 5*time.Millisecond))
			got = lease(t, a, ngxtasks.LeaseRequest{Key: k, Holder: holder, TTL: life})
		}
		if len(tokens) > 0 && got.Token <= tokens[len(tokens)-1] {
			t.Fatalf("tokens %v then %d: not increasing across expiries", tokens, got.Token)
		}
		tokens = append(tokens, got.Token)
		if by := lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: life}); by.Acquired && time.Since(start) < life-expirySlack {
			t.Fatalf("b took the lease %v after %s took it for %v", time.Since(start), holder, life)
		}
	}
	time.Sleep(life + grace + time.Second)
	if renew(t, a, k, tokens[2], life) || release(t, a, k, tokens[2]) {
		t.Fatal("an expired lease was renewed or released by its holder's token")
	}
	// A renewal moves the end: renewed at half its life for twice as long,
	// the lease outlives its first TTL.
	start := time.Now()
	held := lease(t, a, ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: life})
	if !held.Acquired || held.Token <= tokens[2] {
		t.Fatalf("Lease of an expired key = %+v; want a's, above token %d", held, tokens[2])
	}
	time.Sleep(life / 2)
	if time.Since(start) < life-expirySlack {
		if !renew(t, a, k, held.Token, 4*life) {
			t.Fatal("the holder's renewal at half the TTL failed")
		}
		time.Sleep(time.Until(start.Add(life + grace + time.Second)))
		if by := lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: life}); by.Acquired && time.Since(start) < 4*life {
			t.Fatalf("b took a lease renewed for %v, %v after it was taken", 4*life, time.Since(start))
		}
	}
	release(t, a, k, held.Token)
}

// testLeaseClaim checks a lease taken with a slot's claim, in one atomic
// operation: the claim is added only with the lease, and the lease is
// taken only with the claim.
func (s *suite) testLeaseClaim(t *testing.T) {
	d, a := s.leaser(t)
	_, b := s.leaser(t)
	k, slot1, slot2 := s.leaseKey(t, "lease"), s.leaseKey(t, "slot-1"), s.leaseKey(t, "slot-2")
	first := lease(t, a, ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: ttl, Claim: ngxtasks.Add{Key: slot1, Value: "a", TTL: ttl}})
	if !first.Acquired {
		t.Fatalf("the first Lease with a claim was refused: %+v", first)
	}
	c := ctx(t)
	checkGet(t, d, c, slot1, "a")
	// Held: the next slot's claim is refused, and not added.
	got := lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: ttl, Claim: ngxtasks.Add{Key: slot2, Value: "b", TTL: ttl}})
	if got.Acquired || got.HeldBy != "a" || got.Token != first.Token {
		t.Fatalf("Lease with a claim while a holds it = %+v; want refused, held by a", got)
	}
	if v, ok, err := d.Get(c, slot2); err != nil || ok {
		t.Fatalf("the claim refused with the lease is there: %q, %v, %v", v, ok, err)
	}
	release(t, a, k, first.Token)
	// Free, but the slot is claimed already: neither lease nor claim.
	got = lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: ttl, Claim: ngxtasks.Add{Key: slot1, Value: "b", TTL: ttl}})
	if got.Acquired || got.HeldBy != "" {
		t.Fatalf("Lease with a slot claimed already = %+v; want refused, held by nobody", got)
	}
	checkGet(t, d, c, slot1, "a")
	if again := lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: ttl}); !again.Acquired {
		t.Fatalf("the lease was taken by a refused claim: %+v", again)
	} else {
		release(t, b, k, again.Token)
	}
	// Free and the slot new: both.
	got = lease(t, b, ngxtasks.LeaseRequest{Key: k, Holder: "b", TTL: ttl, Claim: ngxtasks.Add{Key: slot2, Value: "b", TTL: ttl}})
	if !got.Acquired || got.Token <= first.Token {
		t.Fatalf("Lease with a new slot after the release = %+v; want b's, above token %d", got, first.Token)
	}
	checkGet(t, d, c, slot2, "b")
	release(t, b, k, got.Token)
}

// testLeaseRace checks that holders racing for one free lease on several
// handles, each with the same slot's claim or none, give it to exactly
// one, under one token; and that every taking after has a higher token.
func (s *suite) testLeaseRace(t *testing.T) {
	const handles, perHandle, rounds = 4, 4, 5
	ls := make([]ngxtasks.Leaser, handles)
	for i := range ls {
		_, ls[i] = s.leaser(t)
	}
	k := s.leaseKey(t, "lease")
	var last uint64
	for round := range rounds {
		slot := s.leaseKey(t, fmt.Sprintf("slot-%d", round))
		var mu sync.Mutex
		var won []ngxtasks.LeaseRequest
		var wg sync.WaitGroup
		for h := range handles {
			for g := range perHandle {
				wg.Go(func() {
					req := ngxtasks.LeaseRequest{Key: k, Holder: fmt.Sprintf("h%d-%d", h, g), TTL: ttl}
					if g%2 == 0 {
						req.Claim = ngxtasks.Add{Key: slot, Value: req.Holder, TTL: ttl}
					}
					c := ctx(t)
					if err := ls[h].Lease(c, &req); err != nil {
						t.Errorf("Lease: %v", err)
						return
					}
					if req.Acquired {
						mu.Lock()
						won = append(won, req)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %d holders took one lease: %+v", round, len(won), won)
		}
		if won[0].Token <= last {
			t.Fatalf("round %d: token %d after %d", round, won[0].Token, last)
		}
		last = won[0].Token
		if !release(t, ls[0], k, won[0].Token) {
			t.Fatalf("round %d: the winner's lease could not be released", round)
		}
	}
}

// testLeaseRenewBatch checks that one Renew call renews many leases, each
// by its own token: the holders' are renewed, the others not, and an
// invalid one gets its own error without failing the rest.
func (s *suite) testLeaseRenewBatch(t *testing.T) {
	_, l := s.leaser(t)
	const n = 200
	var rs []ngxtasks.Renewal
	for i := range n {
		k := s.leaseKey(t, fmt.Sprintf("lease-%d", i))
		got := lease(t, l, ngxtasks.LeaseRequest{Key: k, Holder: "a", TTL: ttl})
		if !got.Acquired {
			t.Fatalf("Lease of %s refused", k)
		}
		token := got.Token
		if i%3 == 0 {
			token++ // not the holder's
		}
		rs = append(rs, ngxtasks.Renewal{Key: k, Token: token, TTL: ttl})
	}
	rs = append(rs, ngxtasks.Renewal{Key: "", Token: 1, TTL: ttl})
	c := ctx(t)
	if err := l.Renew(c, rs); err != nil {
		t.Fatalf("Renew of %d leases: %v", len(rs), err)
	}
	for i, r := range rs[:n] {
		if r.Err != nil || r.Renewed != (i%3 != 0) {
			t.Fatalf("renewal %d (token %s): renewed %v, %v", i, map[bool]string{true: "wrong", false: "the holder's"}[i%3 == 0], r.Renewed, r.Err)
		}
	}
	if last := rs[n]; last.Renewed || !errors.Is(last.Err, ngxtasks.ErrInvalidEntry) {
		t.Fatalf("a renewal with an empty key: renewed %v, %v; want ErrInvalidEntry", last.Renewed, last.Err)
	}
}
