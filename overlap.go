package ngxtasks

import (
	"fmt"
	"strings"
)

// Overlap says what a Preemption rule's slot does when it comes while a run
// of the rule still goes on somewhere in the fleet.
//
// A rule that leases (OverlapSkip) takes its slot's claim together with a
// lease on the rule, in one atomic operation of the dictionary, which must
// be a Leaser: the claim is made only while no run holds the lease, and the
// run holds it, renewed, until it ends. So two runs of the rule never go on
// at once anywhere, however long they take, and the run gets a fencing
// token (Firing.Token) that a resource it writes to can check.
type Overlap uint8

const (
	// OverlapDefault is the zero value: OverlapAllow, for now.
	OverlapDefault Overlap = iota
	// OverlapSkip skips a slot that comes while the rule's lease is held
	// by a run anywhere (SkipElsewhere, naming the holder).
	OverlapSkip
	// OverlapAllow lets a slot run while a run of an earlier one goes on in
	// another worker: only the slot's claim is made, as before leases.
	OverlapAllow
	// OverlapBufferOne leases as OverlapSkip does, but a slot that comes
	// while the lease is held is not dropped: one worker claims it and
	// keeps it pending, and starts it as soon as the holder lets the lease
	// go, if that is within the slot. There is never more than one pending
	// start: a slot's pending start ends with the slot.
	OverlapBufferOne
	// OverlapReplace leases as OverlapSkip does, but a slot that comes
	// while the lease is held ends the holder's run: the worker that
	// claims the slot takes the lease from it (releasing the holder's
	// token, then taking the lease with the claim, which gives a higher
	// token) and starts at once. The holder learns at its next renewal,
	// at most LeaseTTL/3 later, that its token no longer holds the lease,
	// and its run is cancelled (ErrLeaseLost); until then the two runs may
	// overlap, and only the token keeps the old one's writes out.
	OverlapReplace
	numOverlaps
)

var overlapNames = [...]string{"", "skip", "allow", "buffer_one", "replace"}

// String returns the name used in rule files: "skip", "buffer_one",
// "replace" or "allow" ("" for the default).
func (o Overlap) String() string {
	if int(o) < len(overlapNames) {
		return overlapNames[o]
	}
	return fmt.Sprintf("Overlap(%d)", uint8(o))
}

// ParseOverlap reads an overlap policy as rule files write it.
func ParseOverlap(s string) (Overlap, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "skip":
		return OverlapSkip, nil
	case "allow":
		return OverlapAllow, nil
	case "buffer_one":
		return OverlapBufferOne, nil
	case "replace":
		return OverlapReplace, nil
	}
	return 0, fmt.Errorf("unknown overlap %q (want skip, buffer_one, replace or allow)", clip(s))
}

// leases reports whether the rule's runs hold a lease.
func (r *Rule) leases() bool {
	return r.Type == Preemption && (r.Overlap == OverlapSkip || r.Overlap == OverlapBufferOne || r.Overlap == OverlapReplace)
}

// waitsForLease reports whether a slot of the rule that finds its last run
// going on here still goes to the claim: a buffer_one slot waits for the
// lease, a replace slot takes it.
func (r *Rule) waitsForLease() bool {
	return r.Type == Preemption && (r.Overlap == OverlapBufferOne || r.Overlap == OverlapReplace)
}
