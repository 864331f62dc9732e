package rulefile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// fingerprint hashes the rule's whole definition. Every field goes in
// with its length, so that no two definitions encode alike ("ab"+"c" is
// not "a"+"bc"); the version prefix changes whenever the encoding does.
// Pos is left out: moving a rule in the file does not change it. buf is
// scratch space for the encoding, returned for the next rule's: a
// hundred thousand rules need one buffer, not one each.
func fingerprint(r *Rule, buf []byte) (string, []byte) {
	f := &fp{b: buf[:0]}
	f.str("rulefile/v4")
	f.str(r.ID)
	f.str(r.Name)
	f.dur(r.Interval)
	if r.Schedule != nil {
		f.str(r.Schedule.String()) // the zone and any policy not the default included
	} else {
		f.str("")
	}
	f.dur(r.Jitter)
	f.dur(r.CatchUp)
	f.num(int64(r.Type))
	f.num(int64(r.Overlap))
	f.num(int64(r.Reruns))
	if r.Retry != nil {
		f.num(int64(r.Retry.Attempts))
		f.dur(r.Retry.Backoff)
		f.dur(r.Retry.MaxBackoff)
	} else {
		f.num(0)
		f.dur(0)
		f.dur(0)
	}
	f.dur(r.Timeout)
	f.dur(r.Offset)
	f.flag(r.Spread)
	f.num(int64(r.MaxRunning))
	if e := r.Exec; e != nil {
		f.str("exec")
		f.num(int64(len(e.Argv)))
		for _, a := range e.Argv {
			f.str(a)
		}
		f.str(e.Command)
		f.flag(e.Shell)
		f.num(int64(len(e.Env)))
		for _, v := range e.Env {
			f.str(v.Name)
			f.str(v.Value.Expanded())
		}
		f.str(e.Dir)
		f.num(e.OutputLimit)
		f.dur(e.Grace)
	}
	if h := r.HTTP; h != nil {
		f.str("http")
		f.str(h.Method)
		f.str(h.URL.Expanded())
		f.num(int64(len(h.Headers)))
		for _, hd := range h.Headers {
			f.str(hd.Name)
			f.str(hd.Value.Expanded())
		}
		f.str(h.Body.Expanded())
		f.dur(h.Timeout)
		f.num(int64(len(h.Expect)))
		if h.Expect == nil {
			f.num(-1) // "any 2xx" is not "none listed"
		}
		for _, s := range h.Expect {
			f.num(int64(s))
		}
		f.num(h.OutputLimit)
	}
	if l := r.Lua; l != nil {
		f.str("lua")
		f.str(l.Digest)
	}
	sum := sha256.Sum256(f.b)
	return hex.EncodeToString(sum[:16]), f.b
}

// fp is the encoding being built. It is hashed once, whole: a hash.Hash
// written field by field cost an allocation per number (and a hundred
// thousand rules have a million numbers).
type fp struct{ b []byte }

func (f *fp) num(n int64)         { f.b = binary.BigEndian.AppendUint64(f.b, uint64(n)) }
func (f *fp) dur(d time.Duration) { f.num(int64(d)) }
func (f *fp) str(s string) {
	f.num(int64(len(s)))
	f.b = append(f.b, s...)
}
func (f *fp) flag(b bool) {
	if b {
		f.num(1)
	} else {
		f.num(0)
	}
}
