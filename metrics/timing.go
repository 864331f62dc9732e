package metrics

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A timing is one histogram series of durations, kept in shards. Every
// run of every rule of a worker lands in one of a few histograms, from
// goroutines on every core at once; a single set of counters, as a
// prometheus.Histogram keeps, made the cores take turns at its cache lines
// and cost a firing almost half again its time. Here each core adds to a
// shard of its own, which a sync.Pool hands out: its fast path is the
// calling processor's private slot, without a lock or an atomic operation.
// A scrape sums every shard ever made.
type timing struct {
	bounds []time.Duration // upper bounds, ascending; the last bucket is +Inf
	local  sync.Pool       // *timingShard, one per processor

	mu        sync.Mutex
	shards    []*timingShard // all of them, for the scrape
	maxShards int
	reused    int
}

// maxBuckets bounds a timing's buckets, +Inf included.
const maxBuckets = 16

type timingShard struct {
	counts [maxBuckets]atomic.Uint64 // by bucket, not cumulative
	sum    atomic.Int64              // nanoseconds: an integer adds without a compare-and-swap loop
	_      [56]byte                  // to a multiple of 64 bytes: shards share no cache line
}

func newTiming(bounds []time.Duration) *timing {
	if len(bounds) >= maxBuckets {
		panic("metrics: too many buckets") // a programming error in this package
	}
	// The pool drops what sat unused through two garbage collections; a
	// shard made in place of a dropped one beyond maxShards is an existing
	// one, shared (its counters are atomic, so sharing only costs speed).
	return &timing{bounds: bounds, maxShards: max(4*runtime.GOMAXPROCS(0), 8)}
}

// observe adds d, negative d as 0.
func (t *timing) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(t.bounds) && d > t.bounds[i] {
		i++
	}
	s, _ := t.local.Get().(*timingShard)
	if s == nil {
		s = t.shard()
	}
	s.counts[i].Add(1)
	s.sum.Add(int64(d))
	t.local.Put(s)
}

// shard makes a shard, or, past t.maxShards, returns an existing one.
func (t *timing) shard() *timingShard {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.shards) >= t.maxShards {
		t.reused++
		return t.shards[t.reused%len(t.shards)]
	}
	s := new(timingShard)
	t.shards = append(t.shards, s)
	return s
}

// read sums the shards: the count of each bucket (not cumulative), and
// the sum of the durations.
func (t *timing) read() (counts [maxBuckets]uint64, sum int64) {
	t.mu.Lock()
	shards := t.shards
	t.mu.Unlock()
	for _, s := range shards {
		for b := range len(t.bounds) + 1 {
			counts[b] += s.counts[b].Load()
		}
		sum += s.sum.Load()
	}
	return counts, sum
}

// count is how many durations t was given.
func (t *timing) count() uint64 {
	counts, _ := t.read()
	var n uint64
	for _, c := range counts {
		n += c
	}
	return n
}

// histogram returns the present values of timings of one set of bounds,
// added up, as a constant histogram.
func histogram(desc *prometheus.Desc, ts []*timing, labelValues ...string) prometheus.Metric {
	var counts [maxBuckets]uint64
	var sum int64
	for _, t := range ts {
		c, s := t.read()
		for b := range c {
			counts[b] += c[b]
		}
		sum += s
	}
	bounds := ts[0].bounds
	buckets := make(map[float64]uint64, len(bounds))
	var cumulative uint64
	for b, bound := range bounds {
		cumulative += counts[b]
		buckets[bound.Seconds()] = cumulative
	}
	count := cumulative + counts[len(bounds)]
	return prometheus.MustNewConstHistogram(desc, count, time.Duration(sum).Seconds(), buckets, labelValues...)
}

// seconds turns bucket bounds in seconds into durations.
func seconds(bounds ...float64) []time.Duration {
	out := make([]time.Duration, len(bounds))
	for i, b := range bounds {
		out[i] = time.Duration(b * float64(time.Second))
	}
	return out
}
