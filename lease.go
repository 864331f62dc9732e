package ngxtasks

import (
	"context"
	"fmt"
	"time"
)

// A Leaser is a dictionary that lends keys for a while. A lease on a key is
// held by one holder until its TTL passes, on the store's clock where the
// store has one, or until the holder releases it. Each taking of a key is
// numbered by a fencing token that strictly increases per key, across
// expiries, releases and the crashes of holders: a resource that keeps the
// highest token it has seen and refuses lower ones cannot be written by a
// holder whose lease has passed to another, however late that holder wakes.
//
// Taking a lease may come with a slot's claim, in the same atomic operation
// (LeaseRequest.Claim): the lease is taken only if the claim is added, and
// the claim is added only if the lease is free. So no slot is claimed while
// another run holds its rule, and no token is handed out for a slot that
// was not won. A store sharded by key may need the two keys on one shard:
// a Redis Cluster hashes only a key's {tag} when it has one, so keys that
// share a tag (the lease's and its claims', {namespace:rule}) share a
// shard.
type Leaser interface {
	// Lease makes the request: it sets req's Acquired and Token, HeldBy
	// when another holds the lease, and Claim.Added when it asks for a
	// claim. It returns an error only when it cannot tell what happened.
	Lease(ctx context.Context, req *LeaseRequest) error
	// Renew extends, in one round trip, each lease whose token still holds
	// its key to its TTL from now, setting every Renewal's Renewed or Err.
	// A renewal by a token that does not hold the key (another holder's,
	// or one whose lease expired) changes nothing. It returns an error
	// only when none of them could be attempted.
	Renew(ctx context.Context, renewals []Renewal) error
	// Release ends the lease on key if token holds it, and reports whether
	// it did. By another token it changes nothing.
	Release(ctx context.Context, key string, token uint64) (bool, error)
}

// A LeaseRequest asks a Leaser for the lease on Key for Holder, for TTL,
// with a slot's claim if Claim.Key is set.
type LeaseRequest struct {
	Key, Holder string
	TTL         time.Duration
	// Claim is a slot's claim (Key, Value, TTL) made with the lease, or
	// none if its Key is empty. Lease sets its Added.
	Claim Add

	// Set by Lease.
	Acquired bool   // the lease is Holder's now, under Token
	Token    uint64 // the new token; when another holds the lease, that holder's
	HeldBy   string // when another holds the lease: who; "" when it is free (the claim alone was refused)
}

// A Renewal asks to extend the lease that Token holds on Key to TTL from
// now.
type Renewal struct {
	Key     string
	Token   uint64
	TTL     time.Duration
	Renewed bool  // set by Renew
	Err     error // set by Renew
}

// CheckLease validates a lease request for implementations, as CheckEntry
// does an entry: the lease's key and holder, its TTL, and the claim if one
// is asked for.
func CheckLease(req *LeaseRequest) error {
	if err := CheckEntry(req.Key, req.Holder, req.TTL); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	if req.Holder == "" {
		return fmt.Errorf("%w: lease: empty holder", ErrInvalidEntry)
	}
	if req.Claim.Key == "" {
		return nil
	}
	if req.Claim.Key == req.Key {
		return fmt.Errorf("%w: lease: the claim's key is the lease's", ErrInvalidEntry)
	}
	if err := CheckEntry(req.Claim.Key, req.Claim.Value, req.Claim.TTL); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	return nil
}
