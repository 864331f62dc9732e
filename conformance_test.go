package ngxtasks_test

import (
	"sync"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

// MemoryDict is in-process, so the handles of one test are one dictionary;
// each test gets its own, which the Closed test may close.
func TestMemoryDictConformance(t *testing.T) {
	var mu sync.Mutex
	dicts := map[string]*ngxtasks.MemoryDict{}
	dicttest.Run(t, func(t testing.TB) ngxtasks.Dict {
		mu.Lock()
		defer mu.Unlock()
		d := dicts[t.Name()]
		if d == nil {
			d = &ngxtasks.MemoryDict{}
			dicts[t.Name()] = d
		}
		return d
	}, dicttest.Options{})
}
