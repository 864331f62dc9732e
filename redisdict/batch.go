package redisdict

import (
	"context"
	"errors"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

// AddBatch implements ngxtasks.BatchAdder: every valid element is one
// SET key value NX PX ttl, and all of them go in one pipeline, one round trip
// (per server, on a Cluster). Redis runs them in order, each atomic on its
// own, so a key repeated in the batch can be stored only by its first
// occurrence. An element that fails validation gets its Err and is not sent.
// When the dictionary is closed or ctx has ended nothing is sent, every
// element gets that error, and AddBatch returns it.
func (d *Dict) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	if err := d.ready(ctx); err != nil {
		for i := range adds {
			adds[i].Added, adds[i].Err = false, err
		}
		return err
	}
	cmds := make([]*redis.StatusCmd, len(adds))
	pipe := d.client.Pipeline()
	for i := range adds {
		a := &adds[i]
		a.Added, a.Err = false, ngxtasks.CheckEntry(a.Key, a.Value, a.TTL)
		if a.Err != nil {
			continue
		}
		cmds[i] = setNX(ctx, a.Key, a.Value, a.TTL)
		_ = pipe.Process(ctx, cmds[i])
	}
	if pipe.Len() == 0 {
		return nil
	}
	// Exec's error is the first failed command's, and each command carries
	// its own; Exec's stands for any command left without a reply.
	_, err := pipe.Exec(ctx)
	if err == nil || errors.Is(err, redis.Nil) {
		err = errNoReply
	}
	for i, cmd := range cmds {
		if cmd != nil {
			adds[i].Added, adds[i].Err = d.added(cmd, adds[i].Key, err)
		}
	}
	return nil
}
