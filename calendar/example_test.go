package calendar_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/ngxtasks/ngxtasks/calendar"
)

// At 02:30 every night in Berlin: on 28 March 2027 the clock skips from
// 02:00 to 03:00, and the run comes at 03:00; on 31 October it reads
// 02:00-03:00 twice, and the run comes at the first pass.
func ExampleParse() {
	s, err := calendar.Parse("30 2 * * *", calendar.Options{Zone: "Europe/Berlin"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, from := range []string{"2027-03-27T12:00:00Z", "2027-10-30T12:00:00Z"} {
		t, _ := time.Parse(time.RFC3339, from)
		for range 2 {
			o := s.Next(t)
			fmt.Println(o.At.Format(time.RFC3339), o.Moved, s.SlotName(s.Slot(o.At)))
			t = o.At
		}
	}
	// Output:
	// 2027-03-28T03:00:00+02:00 true 2027-03-28T02:30:00@Europe/Berlin
	// 2027-03-29T02:30:00+02:00 false 2027-03-29T02:30:00@Europe/Berlin
	// 2027-10-31T02:30:00+02:00 false 2027-10-31T02:30:00@Europe/Berlin
	// 2027-11-01T02:30:00+01:00 false 2027-11-01T02:30:00@Europe/Berlin
}

// Every quarter of an hour keeps its cadence in real time: the repeated
// hour runs twice, as passes 1 and 2.
func ExampleSchedule_Next() {
	s, _ := calendar.Parse("*/15 * * * *", calendar.Options{Zone: "Europe/Berlin"})
	t := time.Date(2027, 10, 31, 0, 40, 0, 0, time.UTC)
	for range 3 {
		o := s.Next(t)
		fmt.Println(o.At.UTC().Format("15:04Z"), o.At.Format("15:04 MST"), o.Pass)
		t = o.At
	}
	// Output:
	// 00:45Z 02:45 CEST 1
	// 01:00Z 02:00 CET 2
	// 01:15Z 02:15 CET 2
}

// An Error names what was refused, so the caller can name the rule.
func ExampleError() {
	_, err := calendar.Parse("0 0 12 1 1 2027", calendar.Options{})
	var e *calendar.Error
	if errors.As(err, &e) {
		fmt.Printf("rule invoices: %v\n", e)
	}
	// Output:
	// rule invoices: schedule "0 0 12 1 1 2027": 6 fields are read as seconds first, and the last one, 2027, looks like a year: years are not supported
}
