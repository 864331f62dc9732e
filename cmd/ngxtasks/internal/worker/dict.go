package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// A worker must not wait for its dictionary to run normal rules: they
// never touch it. When the store does not answer at start, the worker
// drives with a lateDict, which fails every claim (so preemption slots are
// skipped, fail closed, and reported as claim errors) until a background
// open succeeds; from then on it is that dictionary, its clock
// (ngxtasks.StoreClock) included: the manager measures its own clock
// against the store's once it can, as a worker that opened at once does.

// openTimeout bounds one attempt to open the dictionary.
const openTimeout = 5 * time.Second

// openDict opens the dictionary, or returns a lateDict that keeps trying.
func openDict(ctx context.Context, url string, log *slog.Logger) ngxtasks.Dict {
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	d, err := ngxtasks.OpenDict(octx, url)
	cancel()
	if err == nil {
		return d
	}
	log.Error("ngxtasks: the dictionary does not open; normal rules run, preemption slots are skipped until it does",
		"dict", ngxtasks.RedactURL(url), "error", err)
	l := &lateDict{url: url, log: log, err: err, stop: make(chan struct{}), done: make(chan struct{})}
	go l.retry()
	return l
}

// lateDict is a dictionary still being opened.
type lateDict struct {
	url  string
	log  *slog.Logger
	stop chan struct{} // closed by Close
	done chan struct{} // closed when retry returns

	mu     sync.Mutex
	inner  ngxtasks.Dict // nil until opened
	err    error         // of the last attempt
	closed bool
}

// retry opens the dictionary, every second and then less often (up to
// every 30 s), until it opens or Close is called.
func (l *lateDict) retry() {
	defer close(l.done)
	wait := time.Second
	for {
		select {
		case <-l.stop:
			return
		case <-time.After(wait):
		}
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		d, err := ngxtasks.OpenDict(ctx, l.url)
		cancel()
		l.mu.Lock()
		if err == nil && !l.closed {
			l.inner = d
			l.mu.Unlock()
			l.log.Info("ngxtasks: the dictionary is open", "dict", ngxtasks.RedactURL(l.url))
			return
		}
		l.err = err
		l.mu.Unlock()
		if err == nil { // opened after Close
			_ = d.Close()
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// dict returns the open dictionary, or the error saying why there is none.
func (l *lateDict) dict() (ngxtasks.Dict, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, ngxtasks.ErrClosed
	case l.inner == nil:
		return nil, fmt.Errorf("the dictionary is not open yet: %w", l.err)
	}
	return l.inner, nil
}

func (l *lateDict) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	d, err := l.dict()
	if err != nil {
		return false, err
	}
	return d.Add(ctx, key, value, ttl)
}

func (l *lateDict) Get(ctx context.Context, key string) (string, bool, error) {
	d, err := l.dict()
	if err != nil {
		return "", false, err
	}
	return d.Get(ctx, key)
}

// AddBatch keeps the opened dictionary's batches, one round trip for the
// claims of a step.
func (l *lateDict) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	d, err := l.dict()
	if err != nil {
		return err
	}
	if b, ok := d.(ngxtasks.BatchAdder); ok {
		return b.AddBatch(ctx, adds)
	}
	for i := range adds {
		adds[i].Added, adds[i].Err = d.Add(ctx, adds[i].Key, adds[i].Value, adds[i].TTL)
	}
	return nil
}

// Set stores through the opened dictionary, an error until it is open:
// a rule's last run (CatchUp) and a Lua file's ngx.shared:set need it,
// and a worker whose store was down at start takes those rules anyway.
func (l *lateDict) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	d, err := l.dict()
	if err != nil {
		return err
	}
	s, ok := d.(ngxtasks.Setter)
	if !ok {
		return fmt.Errorf("%T cannot overwrite an entry (ngxtasks.Setter)", d)
	}
	return s.Set(ctx, key, value, ttl)
}

// Now is the opened dictionary's clock: an error until it is open (the
// manager asks again), and ngxtasks.ErrNoStoreClock from a dictionary that
// cannot tell the time.
func (l *lateDict) Now(ctx context.Context) (time.Time, error) {
	d, err := l.dict()
	if err != nil {
		return time.Time{}, err
	}
	if c, ok := d.(ngxtasks.StoreClock); ok {
		return c.Now(ctx)
	}
	return time.Time{}, fmt.Errorf("%T: %w", d, ngxtasks.ErrNoStoreClock)
}

func (l *lateDict) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	inner := l.inner
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	if inner != nil {
		return inner.Close()
	}
	return nil
}

var (
	_ ngxtasks.BatchAdder = (*lateDict)(nil)
	_ ngxtasks.Setter     = (*lateDict)(nil)
	_ ngxtasks.StoreClock = (*lateDict)(nil)
)
