package pgdict

import (
	"context"
	"slices"
	"strings"

	"github.com/ngxtasks/ngxtasks"
)

// AddBatch implements ngxtasks.BatchAdder with one statement for the whole
// batch: the claim of Add over unnest of the keys, values and ttls. Elements
// that fail validation get their Err and are not sent. A key repeated in the
// batch is sent once, for its first occurrence; the later ones are not
// stored. When the statement fails, every element sent gets the error: it
// may have committed. When the dictionary is closed or ctx has ended nothing
// is sent, every element gets that error, and AddBatch returns it.
func (d *Dict) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	if err := d.ready(ctx); err != nil {
		for i := range adds {
			adds[i].Added, adds[i].Err = false, err
		}
		return err
	}
	first := make(map[string]int, len(adds)) // key -> index of the element sent
	sent := make([]int, 0, len(adds))
	for i := range adds {
		a := &adds[i]
		a.Added, a.Err = false, checkAdd(a.Key, a.Value, a.TTL)
		if a.Err != nil {
			continue
		}
		if _, dup := first[a.Key]; !dup {
			first[a.Key] = i
			sent = append(sent, i)
		}
	}
	if len(sent) == 0 {
		return nil
	}
	// One lock order for every batch: no deadlock between batches.
	slices.SortFunc(sent, func(i, j int) int { return strings.Compare(adds[i].Key, adds[j].Key) })
	keys := make([]string, len(sent))
	values := make([]string, len(sent))
	ttls := make([]int64, len(sent))
	for n, i := range sent {
		keys[n], values[n], ttls[n] = adds[i].Key, adds[i].Value, micros(adds[i].TTL)
	}
	if err := d.runBatch(ctx, keys, values, ttls, adds, first); err != nil {
		err = d.fail("batch claim", "", err)
		for _, i := range sent {
			adds[i].Added, adds[i].Err = false, err
		}
	}
	return nil
}

// runBatch runs the statement and marks the elements whose keys it returns.
func (d *Dict) runBatch(ctx context.Context, keys, values []string, ttls []int64, adds []ngxtasks.Add, first map[string]int) error {
	rows, err := d.pool.Query(ctx, d.sql.batch, keys, values, ttls)
	if err != nil {
		return err
	}
	defer rows.Close()
	var k string
	for rows.Next() {
		if err := rows.Scan(&k); err != nil {
			return err
		}
		adds[first[k]].Added = true
	}
	return rows.Err()
}
