package ngxtasks

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestQueueOrder pushes, pops and re-sifts at random and checks that the top
// is always the earliest due time, as the timer loop relies on.
func TestQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var q queue
	var model []int64
	for op := range 20000 {
		switch {
		case len(q) == 0 || rng.IntN(3) == 0:
			due := rng.Int64N(1000)
			q.push(item{due: due, e: &entry{}})
			model = append(model, due)
		case rng.IntN(2) == 0: // the timer loop's move: the top to a later time
			i := slices.Index(model, q[0].due)
			q[0].due += 1 + rng.Int64N(500)
			model[i] = q[0].due
			q.down(0)
		default:
			i := slices.Index(model, q[0].due)
			model = slices.Delete(model, i, i+1)
			q.pop()
		}
		if len(q) != len(model) {
			t.Fatalf("op %d: %d items, want %d", op, len(q), len(model))
		}
		if len(q) > 0 && q[0].due != slices.Min(model) {
			t.Fatalf("op %d: top due %d, earliest is %d", op, q[0].due, slices.Min(model))
		}
	}
}
