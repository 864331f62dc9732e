package ngxtasks

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestQueueOrder pushes, pops and re-sifts at random and checks that the top
// is always the earliest due time, and among equal due times the first
// pushed, as the timer loop relies on.
func TestQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var q queue
	var model []item // due and seq only
	least := func() item {
		return slices.MinFunc(model, func(a, b item) int {
			if a.before(&b) {
				return -1
			}
			return 1
		})
	}
	find := func(it item) int {
		return slices.IndexFunc(model, func(m item) bool { return m.due == it.due && m.seq == it.seq })
	}
	var seq uint32
	for op := range 20000 {
		switch {
		case len(q) == 0 || rng.IntN(3) == 0:
			seq++
			it := item{due: rng.Int64N(100), seq: seq} // few due times: many ties
			q.push(item{due: it.due, seq: it.seq, e: &entry{}})
			model = append(model, it)
		case rng.IntN(2) == 0: // the timer loop's move: the top to a later time
			i := find(q[0])
			q[0].due += 1 + rng.Int64N(50)
			model[i].due = q[0].due
			q.down(0)
		default:
			i := find(q[0])
			model = slices.Delete(model, i, i+1)
			q.pop()
		}
		if len(q) != len(model) {
			t.Fatalf("op %d: %d items, want %d", op, len(q), len(model))
		}
		if len(q) > 0 {
			if want := least(); q[0].due != want.due || q[0].seq != want.seq {
				t.Fatalf("op %d: top (due %d, seq %d), want (due %d, seq %d)", op, q[0].due, q[0].seq, want.due, want.seq)
			}
		}
	}
}
