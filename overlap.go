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
	numOverlaps
)

var overlapNames = [...]string{"", "skip", "allow", "buffer_one"}

// String returns the name used in rule files: "skip", "buffer_one" or
// "allow" ("" for the default).
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
	}
	return 0, fmt.Errorf("unknown overlap %q (want skip, buffer_one or allow)", clip(s))
}

// leases reports whether the rule's runs hold a lease.
func (r *Rule) leases() bool {
	return r.Type == Preemption && (r.Overlap == OverlapSkip || r.Overlap == OverlapBufferOne)
}
