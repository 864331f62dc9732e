package ngxtasks

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryDict is the in-process dictionary: the default when a Manager has no
// Dict, and the one to share between managers (workers) of one process. Its
// zero value is ready to use and it is safe for concurrent use.
//
// Entries live in a fixed set of shards, each a map under its own mutex. An
// expired entry is replaced by the next Add of its key, and each shard drops
// all its expired entries at most once a second, on an Add; so there is no
// goroutine, per key or otherwise, and nothing to leak after Close.
type MemoryDict struct {
	// Clock, when set, replaces the monotonic clock for expiry, so tests
	// can drive time. It must not change after first use.
	Clock func() time.Time

	once   sync.Once
	seed   maphash.Seed
	base   time.Time
	closed atomic.Bool
	shards [memShards]memShard
}

const (
	memShards     = 64
	memSweepEvery = int64(time.Second)
)

type memShard struct {
	mu        sync.Mutex
	entries   map[string]memEntry
	nextSweep int64
	_         [40]byte // keep shards on their own cache lines
}

type memEntry struct {
	value   string
	expires int64
}

// NewMemoryDict returns an empty in-process dictionary.
func NewMemoryDict() *MemoryDict { return &MemoryDict{} }

func (d *MemoryDict) init() {
	d.seed = maphash.MakeSeed()
	d.base = time.Now()
}

func (d *MemoryDict) now() int64 {
	if d.Clock != nil {
		return d.Clock().UnixNano()
	}
	return int64(time.Since(d.base))
}

func (d *MemoryDict) shard(key string) *memShard {
	return &d.shards[maphash.String(d.seed, key)%memShards]
}

// Add implements Dict.
func (d *MemoryDict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := CheckEntry(key, value, ttl); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.once.Do(d.init)
	s := d.shard(key)
	now := d.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.closed.Load() {
		return false, ErrClosed
	}
	if s.entries == nil {
		s.entries = make(map[string]memEntry)
	}
	if now >= s.nextSweep {
		for k, e := range s.entries {
			if e.expires <= now {
				delete(s.entries, k)
			}
		}
		s.nextSweep = now + memSweepEvery
	}
	if e, ok := s.entries[key]; ok && e.expires > now {
		return false, nil
	}
	s.entries[key] = memEntry{value: value, expires: now + int64(ttl)}
	return true, nil
}

// Get implements Dict.
func (d *MemoryDict) Get(ctx context.Context, key string) (string, bool, error) {
	if err := CheckEntry(key, "", 1); err != nil {
		return "", false, err
	}
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	d.once.Do(d.init)
	s := d.shard(key)
	now := d.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.closed.Load() {
		return "", false, ErrClosed
	}
	e, ok := s.entries[key]
	if !ok || e.expires <= now {
		return "", false, nil
	}
	return e.value, true, nil
}

// Len reports how many entries the dictionary holds, expired ones not yet
// dropped included.
func (d *MemoryDict) Len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// Close implements Dict: it drops every entry; later calls return ErrClosed.
func (d *MemoryDict) Close() error {
	d.closed.Store(true)
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		s.entries = nil
		s.mu.Unlock()
	}
	return nil
}

// AddBatch implements BatchAdder, one Add after another: in process there
// is no round trip to save, but managers sharing it batch their claims as
// they would with a remote store.
func (d *MemoryDict) AddBatch(ctx context.Context, adds []Add) error {
	for i := range adds {
		a := &adds[i]
		a.Added, a.Err = d.Add(ctx, a.Key, a.Value, a.TTL)
	}
	return nil
}

// Now implements StoreClock: the clock entries expire by.
func (d *MemoryDict) Now(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if d.closed.Load() {
		return time.Time{}, ErrClosed
	}
	if d.Clock != nil {
		return d.Clock(), nil
	}
	return time.Now(), nil
}
