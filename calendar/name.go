package calendar

import (
	"strconv"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// SlotName returns a slot's identity as it goes into the claim key: the
// wall time its occurrence was written for, the pass when it is one of two,
// and the zone, e.g. 2027-10-31T02:30:00~p2@Europe/Berlin. It reads the
// slot's number only (an identity, see Occurrence.ID), as the core keeps
// the slot and not the occurrence.
func (s *Schedule) SlotName(sl ngxtasks.Slot) string {
	wall := floorDiv(sl.N, 4)
	pass := sl.N - wall*4
	b := make([]byte, 0, 64)
	b = time.Unix(wall, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	if pass != 0 {
		b = append(b, "~p"...)
		b = strconv.AppendInt(b, pass, 10)
	}
	b = append(b, '@')
	b = append(b, s.z.loc.String()...)
	return string(b)
}
