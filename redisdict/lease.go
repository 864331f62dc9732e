package redisdict

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

// A lease key holds "token:holder" with PX its TTL, so that Redis's clock
// ends it; its token counter is another key, without a TTL, so that tokens
// go on increasing after the lease key has expired or been deleted.

// holds is Lua that tells whether the lease at KEYS[1] is under the token
// ARGV[1]: its value starts with that token and a colon.
const holds = `local v = redis.call('GET', KEYS[1])
local held = v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ':'
`

var (
	// KEYS: lease, counter[, claim]. ARGV: holder, lease ms[, claim value,
	// claim ms]. Returns the held lease's value, 0 when the claim is taken,
	// or the new token. %d, since Lua's numbers print as 1e+14 from there.
	leaseScript = redis.NewScript(`local v = redis.call('GET', KEYS[1])
if v then return v end
if KEYS[3] and not redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4], 'NX') then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], string.format('%d', token) .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
`)
	// KEYS: lease. ARGV: token, ms. Returns 1 when renewed.
	renewScript = redis.NewScript(holds + `if held then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)
	// KEYS: lease. ARGV: token. Returns 1 when released.
	releaseScript = redis.NewScript(holds + `if held then return redis.call('DEL', KEYS[1]) end
return 0
`)
)

// counterKey names the token counter of the lease on key, on key's Cluster
// slot: Redis hashes only a key's {tag} when it has a non-empty one, and
// "{key}:token" hashes as key does when key has no '}'. A key with a '}'
// but no tag ("a}b", "{}x") gets a counter on another slot: on a Cluster
// its Lease fails with CROSSSLOT.
func counterKey(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 && strings.IndexByte(key[i+1:], '}') > 0 {
		return key + ":token"
	}
	return "{" + key + "}:token"
}

// Lease implements ngxtasks.Leaser with one Lua script, atomic on the
// server: the lease key's GET, the claim's SET NX PX, the counter's INCR and
// the lease key's SET PX.
func (d *Dict) Lease(ctx context.Context, req *ngxtasks.LeaseRequest) error {
	if err := ngxtasks.CheckLease(req); err != nil {
		return err
	}
	if err := d.ready(ctx); err != nil {
		return err
	}
	req.Acquired, req.Token, req.HeldBy, req.Claim.Added = false, 0, "", false
	keys := []string{req.Key, counterKey(req.Key)}
	args := []any{req.Holder, px(req.TTL)}
	if req.Claim.Key != "" {
		keys = append(keys, req.Claim.Key)
		args = append(args, req.Claim.Value, px(req.Claim.TTL))
	}
	reply, err := leaseScript.Run(ctx, d.client, keys, args...).Result()
	if redis.HasErrorPrefix(err, "CROSSSLOT") {
		return d.fail("lease", req.Key, fmt.Errorf("its keys %q are not on one Cluster slot (the lease key needs a {hash tag}, or no braces, and the claim the same tag): %w", keys, err))
	}
	if err != nil {
		return d.fail("lease", req.Key, err)
	}
	switch r := reply.(type) {
	case int64:
		if r > 0 {
			req.Acquired, req.Token, req.Claim.Added = true, uint64(r), req.Claim.Key != ""
		}
		return nil
	case string:
		token, holder, ok := strings.Cut(r, ":")
		n, err := strconv.ParseUint(token, 10, 64)
		if !ok || err != nil || n == 0 {
			return d.fail("lease", req.Key, fmt.Errorf("the key holds %q, not a lease", r))
		}
		req.Token, req.HeldBy = n, holder
		return nil
	}
	return d.fail("lease", req.Key, fmt.Errorf("unexpected reply %v", reply))
}

// Renew implements ngxtasks.Leaser: one script call per valid renewal, all
// in one pipeline, one round trip (per server, on a Cluster), each
// comparing the token and then PEXPIRE. The calls that reach a server
// without the script yet (NOSCRIPT: new, restarted or promoted) go again in
// full, in a second pipeline, as Script.Run does for one call.
func (d *Dict) Renew(ctx context.Context, renewals []ngxtasks.Renewal) error {
	if err := d.ready(ctx); err != nil {
		for i := range renewals {
			renewals[i].Renewed, renewals[i].Err = false, err
		}
		return err
	}
	args := func(r *ngxtasks.Renewal) ([]string, []any) {
		return []string{r.Key}, []any{strconv.FormatUint(r.Token, 10), px(r.TTL)}
	}
	cmds := make([]*redis.Cmd, len(renewals))
	pipe := d.client.Pipeline()
	for i := range renewals {
		r := &renewals[i]
		r.Renewed, r.Err = false, ngxtasks.CheckEntry(r.Key, "", r.TTL)
		if r.Err == nil {
			keys, argv := args(r)
			cmds[i] = renewScript.EvalSha(ctx, pipe, keys, argv...)
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	// Each command carries its own error, Exec's is only the first of them.
	_, _ = pipe.Exec(ctx)
	again := d.client.Pipeline()
	for i, cmd := range cmds {
		if cmd != nil && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			keys, argv := args(&renewals[i])
			cmds[i] = renewScript.Eval(ctx, again, keys, argv...)
		}
	}
	if again.Len() > 0 {
		_, _ = again.Exec(ctx)
	}
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		r := &renewals[i]
		n, err := cmd.Int64()
		if err != nil {
			r.Err = d.fail("renew", r.Key, err)
		}
		r.Renewed = err == nil && n == 1
	}
	return nil
}

// Release implements ngxtasks.Leaser with one script: it compares the
// token, then DEL. The counter stays.
func (d *Dict) Release(ctx context.Context, key string, token uint64) (bool, error) {
	if err := ngxtasks.CheckEntry(key, "", 1); err != nil {
		return false, err
	}
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	n, err := releaseScript.Run(ctx, d.client, []string{key}, strconv.FormatUint(token, 10)).Int64()
	if err != nil {
		return false, d.fail("release", key, err)
	}
	return n == 1, nil
}
