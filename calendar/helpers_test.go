package calendar

import (
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// The core's view of a calendar: a compile-time check that Schedule has
// the methods it takes as a rule's schedule.
var _ interface {
	Slot(t time.Time) ngxtasks.Slot
	SlotName(s ngxtasks.Slot) string
	String() string
} = (*Schedule)(nil)

func sameOcc(a, b Occurrence) bool {
	return a.At.Equal(b.At) && a.Wall.Equal(b.Wall) && a.Pass == b.Pass && a.Moved == b.Moved && a.Merged == b.Merged
}

// slotOf is the slot that occurrence o starts and next ends.
func slotOf(o, next Occurrence) ngxtasks.Slot {
	return ngxtasks.Slot{N: o.ID(), Start: o.At, End: next.At}
}

func sameSlot(a, b ngxtasks.Slot) bool {
	return a.N == b.N && a.Start.Equal(b.Start) && a.End.Equal(b.End)
}

// withZone is s read from other zone data (its memo left behind).
func (s *Schedule) withZone(z zone) *Schedule {
	return &Schedule{text: s.text, z: z, f: s.f, fixed: s.fixed, gap: s.gap, repeat: s.repeat}
}
