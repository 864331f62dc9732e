package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestParseAccepts(t *testing.T) {
	const from = "2027-01-01T00:00:00Z" // a Friday
	for _, c := range []struct {
		spec, zone string
		text       string // String()
		want       []string
	}{
		{"0 2 * * 1-5", "Europe/Berlin", "0 2 * * 1-5 Europe/Berlin", []string{"2027-01-01T01:00:00Z", "2027-01-04T01:00:00Z", "2027-01-05T01:00:00Z"}},
		{"  0   2  * *   1-5 ", "", "0 2 * * 1-5 UTC", []string{"2027-01-01T02:00:00Z", "2027-01-04T02:00:00Z"}},
		{"*/15 * * * *", "", "*/15 * * * * UTC", []string{"2027-01-01T00:15:00Z", "2027-01-01T00:30:00Z", "2027-01-01T00:45:00Z", "2027-01-01T01:00:00Z"}},
		{"@hourly", "", "@hourly UTC", []string{"2027-01-01T01:00:00Z", "2027-01-01T02:00:00Z"}},
		{"@daily", "", "@daily UTC", []string{"2027-01-02T00:00:00Z", "2027-01-03T00:00:00Z"}},
		{"@midnight", "Asia/Tokyo", "@midnight Asia/Tokyo", []string{"2027-01-01T15:00:00Z", "2027-01-02T15:00:00Z"}},
		{"@weekly", "", "@weekly UTC", []string{"2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z"}},
		{"@monthly", "", "@monthly UTC", []string{"2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z"}},
		{"@yearly", "", "@yearly UTC", []string{"2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"}},
		{"@annually", "", "@annually UTC", []string{"2028-01-01T00:00:00Z"}},
		{"0 0 1 1 *", "Europe/Berlin", "0 0 1 1 * Europe/Berlin", []string{"2027-12-31T23:00:00Z", "2028-12-31T23:00:00Z"}},
		{"30 */10 * * * *", "", "30 */10 * * * * UTC", []string{"2027-01-01T00:00:30Z", "2027-01-01T00:10:30Z", "2027-01-01T00:20:30Z"}},
		{"0 9 * jan-mar mon,WED", "", "0 9 * jan-mar mon,WED UTC", []string{"2027-01-04T09:00:00Z", "2027-01-06T09:00:00Z", "2027-01-11T09:00:00Z"}},
		{"0 9 * * * 0 ", "", "0 9 * * * 0 UTC", []string{"2027-01-03T00:09:00Z", "2027-01-03T01:09:00Z"}},
		{"0 22-2/2 * * *", "", "0 22-2/2 * * * UTC", []string{"2027-01-01T02:00:00Z", "2027-01-01T22:00:00Z", "2027-01-02T00:00:00Z", "2027-01-02T02:00:00Z"}},
		{"0 0 * * 7", "", "0 0 * * 7 UTC", []string{"2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z"}},
		{"0 0 * * fri-mon", "", "0 0 * * fri-mon UTC", []string{"2027-01-02T00:00:00Z", "2027-01-03T00:00:00Z", "2027-01-04T00:00:00Z", "2027-01-08T00:00:00Z"}},
		// Both day fields restricted: the 13th, and Fridays.
		{"0 0 13 * 5", "", "0 0 13 * 5 UTC", []string{"2027-01-08T00:00:00Z", "2027-01-13T00:00:00Z", "2027-01-15T00:00:00Z"}},
		// */2 restricts: odd days, and Mondays.
		{"0 0 */2 * 1", "", "0 0 */2 * 1 UTC", []string{"2027-01-03T00:00:00Z", "2027-01-04T00:00:00Z", "2027-01-05T00:00:00Z"}},
		// One day field *: only the other counts.
		{"0 0 ? * 1", "", "0 0 ? * 1 UTC", []string{"2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z"}},
		{"0 0 31 * *", "", "0 0 31 * * UTC", []string{"2027-01-31T00:00:00Z", "2027-03-31T00:00:00Z", "2027-05-31T00:00:00Z"}},
		{"0 0 29 2 *", "", "0 0 29 2 * UTC", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"0 12 * * sat,sun", "", "0 12 * * sat,sun UTC", []string{"2027-01-02T12:00:00Z", "2027-01-03T12:00:00Z", "2027-01-09T12:00:00Z"}},
	} {
		s, err := Parse(c.spec, Options{Zone: c.zone})
		if err != nil {
			t.Errorf("Parse(%q): %v", c.spec, err)
			continue
		}
		if got := s.String(); got != c.text {
			t.Errorf("Parse(%q).String() = %q, want %q", c.spec, got, c.text)
		}
		at, _ := time.Parse(time.RFC3339, from)
		for _, w := range c.want {
			o := s.Next(at)
			if got := o.At.UTC().Format(time.RFC3339); got != w {
				t.Errorf("%q: next after %v = %s, want %s", c.spec, at.UTC(), got, w)
				break
			}
			at = o.At
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct {
		spec  string
		o     Options
		field string
		in    string // in the problem
	}{
		{"", Options{}, "schedule", "empty"},
		{"@every 5m", Options{}, "schedule", "Interval"},
		{"@every", Options{}, "schedule", "Interval"},
		{"@reboot", Options{}, "schedule", "unknown descriptor @reboot"},
		{"@daily 5", Options{}, "schedule", "no fields after"},
		{"0 0 12 1 1 2027", Options{}, "schedule", "6 fields are read as seconds first, and the last one, 2027, looks like a year"},
		{"0 0 0 1 1 * 2027", Options{}, "schedule", "year field is not supported"},
		{"* * * *", Options{}, "schedule", "4 fields"},
		{"0 0 L * *", Options{}, "schedule", "L (last day) is not supported"},
		{"0 0 L-3 * *", Options{}, "schedule", "L (last day) is not supported"},
		{"0 0 15W * *", Options{}, "schedule", "W (nearest weekday) is not supported"},
		{"0 0 LW * *", Options{}, "schedule", "not supported"},
		{"0 0 * * 5L", Options{}, "schedule", "L (last weekday of the month) is not supported"},
		{"0 0 * * FRI#3", Options{}, "schedule", "# (nth weekday of the month) is not supported"},
		{"H * * * *", Options{}, "schedule", "H (hashed value) is not supported"},
		{"TZ=Europe/Berlin 0 2 * * *", Options{}, "schedule", "give it as the zone"},
		{"0 0 30 2 *", Options{}, "schedule", "never occurs"},
		{"0 0 31 4,6,9,11 *", Options{}, "schedule", "never occurs"},
		{"60 * * * *", Options{}, "schedule", "minute field 60"},
		{"0 24 * * *", Options{}, "schedule", "hour field 24"},
		{"0 0 32 * *", Options{}, "schedule", "day-of-month field 32"},
		{"0 0 * 13 *", Options{}, "schedule", "month field 13"},
		{"0 0 * * 8", Options{}, "schedule", "day-of-week field 8"},
		{"*/0 * * * *", Options{}, "schedule", "minute field */0"},
		{"0 0 * january *", Options{}, "schedule", "month names"},
		{"0 0 * * monday", Options{}, "schedule", "day names"},
		{"1,,2 * * * *", Options{}, "schedule", "empty value"},
		{"100-0 1 1 1 0", Options{}, "schedule", "minute field 100-0: 100 is not in 0-59"},
		{"60-10 * * * *", Options{}, "schedule", "60 is not in 0-59"},
		{"0 0 0 * *", Options{}, "schedule", "0 is not in 1-31"},
		{"0 0 * * *\x00", Options{}, "schedule", "unexpected character"},
		{strings.Repeat("1,", 600) + "1 * * * *", Options{}, "schedule", "longer than"},
		{"@daily", Options{Zone: "Mars/Olympus"}, "zone", "unknown time zone"},
		{"@daily", Options{Zone: "Local"}, "zone", "machine's own zone"},
		{"@daily", Options{Zone: "localtime"}, "zone", "machine's own zone"},
		{"@daily", Options{Zone: "../etc/passwd"}, "zone", "unknown time zone"},
		{"@daily", Options{Gap: 2}, "gap", "unknown gap policy"},
		{"@daily", Options{Repeat: -1}, "repeat", "unknown repeat policy"},
	} {
		s, err := Parse(c.spec, c.o)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q, %+v) = %v, %v; want an *Error", c.spec, c.o, s, err)
			continue
		}
		if e.Field != c.field || !strings.Contains(e.Problem, c.in) {
			t.Errorf("Parse(%q, %+v): %v; want field %s and a problem with %q", c.spec, c.o, err, c.field, c.in)
		}
	}
}

func TestStringNamesPolicies(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Zone: "Europe/Berlin"}, "30 2 * * * Europe/Berlin"},
		{Options{Zone: "Europe/Berlin", Gap: SkipGap}, "30 2 * * * Europe/Berlin skip-gap"},
		{Options{Repeat: LastPass}, "30 2 * * * UTC last-pass"},
		{Options{Gap: SkipGap, Repeat: BothPasses}, "30 2 * * * UTC skip-gap both-passes"},
	} {
		s, err := Parse("30 2 * * *", c.o)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != c.want {
			t.Errorf("%+v: String() = %q, want %q", c.o, got, c.want)
		}
	}
}

func TestErrorNamesWhatIsRefused(t *testing.T) {
	_, err := Parse("0 0 30 2 *", Options{Zone: "Europe/Berlin"})
	want := `schedule "0 0 30 2 *": never occurs: no month named has any of the days of the month named`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	_, err = Parse("@daily", Options{Zone: "Europe/Berln"})
	if err == nil || err.Error() != `zone "Europe/Berln": unknown time zone` {
		t.Errorf("got %v", err)
	}
}

func TestSlotName(t *testing.T) {
	both, err := Parse("30 2 * * *", Options{Zone: "Europe/Berlin", Repeat: BothPasses})
	if err != nil {
		t.Fatal(err)
	}
	daily, err := Parse("@daily", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    *Schedule
		at   string
		want string
	}{
		{both, "2027-10-31T00:40:00Z", "2027-10-31T02:30:00~p1@Europe/Berlin"},
		{both, "2027-10-31T01:40:00Z", "2027-10-31T02:30:00~p2@Europe/Berlin"},
		{both, "2027-03-28T01:40:00Z", "2027-03-28T02:30:00@Europe/Berlin"}, // moved
		{both, "2027-06-01T12:00:00Z", "2027-06-01T02:30:00@Europe/Berlin"},
		{daily, "2027-06-01T12:00:00Z", "2027-06-01T00:00:00@UTC"},
		{daily, "1969-07-20T20:17:40Z", "1969-07-20T00:00:00@UTC"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := c.s.SlotName(c.s.Slot(at)); got != c.want {
			t.Errorf("%v: SlotName(Slot(%s)) = %s, want %s", c.s, c.at, got, c.want)
		}
	}
	// Before 1970 the number is negative; the pass is still its low bits.
	if got := daily.SlotName(ngxtasks.Slot{N: -100*4 + 2}); got != "1969-12-31T23:58:20~p2@UTC" {
		t.Errorf("SlotName(-398) = %s", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0 2 * * 1-5", "*/15 * * * *", "@daily", "@hourly", "@every 1h", "0 0 30 2 *",
		"0 0 12 1 1 2027", "30 */10 * * * *", "0 22-2/2 * * fri-mon", "0 0 L * *",
		"0 0 * * FRI#3", "H H * * *", "TZ=UTC 0 0 * * *", "0 0 29 2 *", "5-1-2 * * * *",
		"*/0 * * * *", "0 0 1/40 * *", "0-59/59 * * * *", "1,,2 * * * *", "0 0 ? * ?",
		"0 0 13 * 5", "* * * * * *", "0 0 31 4 *", "0 0 * * 7-0", "-0 * * * *", "+5 * * * *",
		"0 0 *\t* *", "0 0 \u00a0 * *", "0 0 * * * *ab", "@", "@@daily",
	} {
		f.Add(s, int64(1806000000))
	}
	f.Add("0 2 * * *", int64(-62135596800)) // year 1
	f.Add("0 2 * * *", int64(253402300799)) // 9999-12-31
	f.Add("0 0 29 2 *", int64(1<<40))
	f.Add("0 0 29 2 *", int64(1<<62))
	f.Add("*/15 * * * *", int64(-1<<63))
	f.Add("*/15 * * * *", int64(1<<63-1))
	f.Fuzz(func(t *testing.T, spec string, sec int64) {
		for _, zone := range []string{"", "Europe/Berlin", "Australia/Lord_Howe"} {
			s, err := Parse(spec, Options{Zone: zone, Repeat: BothPasses})
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Parse(%q): %v is not an *Error", spec, err)
				}
				return
			}
			at := time.Unix(sec, 0)
			n := s.Next(at)
			p := s.Prev(at)
			_ = s.SlotName(s.Slot(at))
			if !n.At.IsZero() && !n.At.After(at) {
				t.Fatalf("%v: Next(%v) = %v, not after", s, at, n.At)
			}
			if !p.At.IsZero() && p.At.After(at) {
				t.Fatalf("%v: Prev(%v) = %v, after", s, at, p.At)
			}
			if !n.At.IsZero() {
				if q := s.Prev(n.At); !sameOcc(q, n) {
					t.Fatalf("%v: Prev(Next(%v)) = %v, want %v", s, at, q, n)
				}
			}
		}
	})
}
