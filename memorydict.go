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
// Entries live in a fixed set of shards, each an open-addressing table under
// its own mutex, so a claim hashes its key once and holds the lock only to
// probe and write a slot. An expired entry is free for the next Add of any
// key that probes past it, and each shard drops all its expired entries at
// most once a second, on an Add; so there is no goroutine, per key or
// otherwise, and nothing to leak after Close.
type MemoryDict struct {
	// Clock, when set, replaces the monotonic clock for expiry, so tests
	// can drive time: the same Clock a Manager takes. It must not change
	// after first use.
	Clock Clock

	once   sync.Once
	seed   maphash.Seed
	base   time.Time
	closed atomic.Bool
	shards [memShards]memShard

	leaseMu sync.Mutex
	leases  map[string]*memLease // see memlease.go
}

const (
	memShardBits  = 6
	memShards     = 1 << memShardBits
	memSweepEvery = int64(time.Second)
)

type memShard struct {
	mu        sync.Mutex
	slots     []memSlot // linear probing; the length is 0 or a power of two
	used      int       // slots that hold an entry, expired or not
	nextSweep int64
	_         [80]byte // 128 bytes a shard: neighbours share no cache line
}

// memSlot is a table slot; hash 0 marks it empty.
type memSlot struct {
	hash       uint64
	expires    int64
	key, value string
}

// NewMemoryDict returns an empty in-process dictionary.
func NewMemoryDict() *MemoryDict { return &MemoryDict{} }

func (d *MemoryDict) init() {
	d.seed = maphash.MakeSeed()
	d.base = time.Now()
}

func (d *MemoryDict) now() int64 {
	if d.Clock != nil {
		return d.Clock.Now().UnixNano()
	}
	return int64(time.Since(d.base))
}

// locate hashes key once: the top bits choose the shard, the low bits the
// slot within it.
func (d *MemoryDict) locate(key string) (*memShard, uint64) {
	h := maphash.String(d.seed, key)
	if h == 0 {
		h = 1
	}
	return &d.shards[h>>(64-memShardBits)], h
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
	s, h := d.locate(key)
	now := d.now()
	s.mu.Lock()
	if d.closed.Load() {
		s.mu.Unlock()
		return false, ErrClosed
	}
	if now >= s.nextSweep {
		s.sweep(now)
	}
	added := s.add(h, key, value, now, expiry(now, ttl), false)
	s.mu.Unlock()
	return added, nil
}

// Set implements Setter: it stores the entry whatever the key holds.
func (d *MemoryDict) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := CheckEntry(key, value, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.once.Do(d.init)
	s, h := d.locate(key)
	now := d.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.closed.Load() {
		return ErrClosed
	}
	s.add(h, key, value, now, expiry(now, ttl), true)
	return nil
}

// add stores the entry unless a live one holds its key, or whatever it
// holds when overwrite is set. Probing stops at the key or at an empty
// slot; the first expired slot on the way is reused when the key is not
// there, so expired entries need no tombstones.
func (s *memShard) add(h uint64, key, value string, now, expires int64, overwrite bool) bool {
	if s.used >= len(s.slots)-len(s.slots)/4 {
		s.makeRoom(now)
	}
	mask := uint64(len(s.slots) - 1)
	reuse := -1
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		switch {
		case sl.hash == 0:
			if reuse < 0 {
				reuse = int(i)
				s.used++
			}
			s.slots[reuse] = memSlot{hash: h, expires: expires, key: key, value: value}
			return true
		case sl.hash == h && sl.key == key:
			if sl.expires > now && !overwrite {
				return false
			}
			*sl = memSlot{hash: h, expires: expires, key: key, value: value}
			return true
		case reuse < 0 && sl.expires <= now:
			reuse = int(i)
		}
	}
}

// get returns the live entry of key.
func (s *memShard) get(h uint64, key string, now int64) (string, bool) {
	if len(s.slots) == 0 {
		return "", false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		switch {
		case sl.hash == 0:
			return "", false
		case sl.hash == h && sl.key == key:
			if sl.expires <= now {
				return "", false
			}
			return sl.value, true
		}
	}
}

// makeRoom is called when the table is three quarters used. If at most
// half of it is live it drops the expired entries in place, else it doubles
// the table; either way a quarter of the table is free for inserts before
// the next call, so its cost spreads over them.
func (s *memShard) makeRoom(now int64) {
	live := s.live(now)
	if len(s.slots) > 0 && live <= len(s.slots)/2 {
		s.dropExpired(now)
		return
	}
	s.rehash(now, live+1)
}

// live counts the entries not expired at now.
func (s *memShard) live(now int64) int {
	n := 0
	for i := range s.slots {
		if sl := &s.slots[i]; sl.hash != 0 && sl.expires > now {
			n++
		}
	}
	return n
}

// sweep drops the expired entries: in place, so a steady flow of claims
// does not allocate, unless the table is at most an eighth used, when it
// is rebuilt smaller.
func (s *memShard) sweep(now int64) {
	s.nextSweep = now + memSweepEvery
	if len(s.slots) > 8 && s.used <= len(s.slots)/8 {
		live := s.live(now)
		s.rehash(now, live)
		return
	}
	s.dropExpired(now)
}

// dropExpired empties the slots of expired entries, then moves each entry
// back as far as it goes: an empty slot between an entry's home and where
// it sits would end its probe early. Entries are moved in probe order from
// a slot that was empty before (no probe crosses it), so every entry a
// probe passes on the way to another is already in place.
func (s *memShard) dropExpired(now int64) {
	empty, dropped := -1, false
	for i := range s.slots {
		sl := &s.slots[i]
		switch {
		case sl.hash == 0:
			empty = i
		case sl.expires <= now:
			*sl = memSlot{}
			s.used--
			dropped = true
		}
	}
	if !dropped {
		return
	}
	mask := len(s.slots) - 1
	for k := 1; k <= len(s.slots); k++ {
		i := (empty + k) & mask
		sl := s.slots[i]
		if sl.hash == 0 {
			continue
		}
		s.slots[i] = memSlot{}
		s.place(sl)
	}
}

// place puts an entry known to be absent in the first empty slot from its
// home.
func (s *memShard) place(sl memSlot) {
	mask := uint64(len(s.slots) - 1)
	j := sl.hash & mask
	for s.slots[j].hash != 0 {
		j = (j + 1) & mask
	}
	s.slots[j] = sl
}

// rehash moves the live entries to a new table sized for want entries at
// most half full.
func (s *memShard) rehash(now int64, want int) {
	n := 8
	for n/2 < want {
		n *= 2
	}
	old := s.slots
	s.slots, s.used = make([]memSlot, n), 0
	for i := range old {
		if sl := &old[i]; sl.hash != 0 && sl.expires > now {
			s.place(*sl)
			s.used++
		}
	}
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
	s, h := d.locate(key)
	now := d.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.closed.Load() {
		return "", false, ErrClosed
	}
	value, ok := s.get(h, key, now)
	return value, ok, nil
}

// Len reports how many entries the dictionary holds, expired ones not yet
// dropped included.
func (d *MemoryDict) Len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		n += s.used
		s.mu.Unlock()
	}
	return n
}

// Close implements Dict: it drops every entry and lease; later calls
// return ErrClosed.
func (d *MemoryDict) Close() error {
	d.closed.Store(true)
	d.leaseMu.Lock()
	d.leases = nil
	d.leaseMu.Unlock()
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		s.slots, s.used = nil, 0
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
		return d.Clock.Now(), nil
	}
	return time.Now(), nil
}
