package sqlitedict

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestParseURLReadsThePathAndParameters(t *testing.T) {
	for _, c := range []struct {
		url, path string
		cfg       config
	}{
		{"sqlite:///var/lib/app/claims.db", "/var/lib/app/claims.db", defaults()},
		{"sqlite:/var/lib/app/claims.db", "/var/lib/app/claims.db", defaults()},
		{"sqlite:claims.db", "claims.db", defaults()},
		{"sqlite:data/claims%20x.db", "data/claims x.db", defaults()},
		{"sqlite:///tmp/c.db?busy_timeout=250ms&cleanup=0s&table=jobs_claims", "/tmp/c.db",
			config{table: "jobs_claims", busy: 250 * time.Millisecond, cleanup: 0}},
		{"sqlite:c.db?busy_timeout=0s&cleanup=1m", "c.db",
			config{table: "ngxtasks_claims", busy: 0, cleanup: time.Minute}},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		path, opts, err := parseURL(u)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		cfg := defaults()
		for _, o := range opts {
			if err := o(&cfg); err != nil {
				t.Errorf("%s: %v", c.url, err)
			}
		}
		if path != c.path || cfg != c.cfg {
			t.Errorf("%s: path %q, %+v; want %q, %+v", c.url, path, cfg, c.path, c.cfg)
		}
	}
}

// TestBadURLIsRefusedBeforeTheFileIsTouched: every fault is refused before
// the file is touched, with an error that matches ErrBadConfig and names the
// part at fault.
func TestBadURLIsRefusedBeforeTheFileIsTouched(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ url, want string }{
		{"sqlite://host/claims.db", `host "host"`},
		{"sqlite://user:pw@/claims.db", "user info"},
		{"sqlite:", "names no file"},
		{"sqlite:///tmp/", `path "/tmp/" names no file`},
		{"sqlite:///tmp/c.db#frag", "fragment #…"},
		{"sqlite:c%zz.db", "path"},
		{"sqlite:c%3F.db", `file "c?.db"`},
		{"sqlite::memory:", "in-memory"},
		{"sqlite:///tmp/c.db?busy=1s", `unknown parameter "busy"`},
		{"sqlite:///tmp/c.db?busy_timeout=5", "parameter busy_timeout"},
		{"sqlite:///tmp/c.db?busy_timeout=-1s", "busy_timeout"},
		{"sqlite:///tmp/c.db?cleanup=soon", "parameter cleanup"},
		{"sqlite:///tmp/c.db?cleanup=-1s", "cleanup"},
		{"sqlite:///tmp/c.db?table=drop;table", "semicolon"},
		{"sqlite:///tmp/c.db?table=drop-table", `table "drop-table"`},
		{"sqlite:///tmp/c.db?table=1st", `table "1st"`},
		{"sqlite:///tmp/c.db?table=a&table=b", "table given 2 times"},
		{"sqlite:///tmp/c.db?zeta=1&alpha=2", `unknown parameter "alpha"`}, // the first in order
		{"postgres:///tmp/c.db", `scheme "postgres"`},
		{"sqlite://[::1/c.db", "cannot parse"},
	} {
		_, err := Open(context.Background(), c.url, WithCleanupInterval(0))
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: error %v; want ErrBadConfig saying %q", c.url, err, c.want)
		}
	}
	// Options and paths given directly are checked the same way.
	for _, c := range []struct {
		path string
		opt  Option
		want string
	}{
		{"", WithCleanupInterval(0), "empty path"},
		{filepath.Join(dir, "a.db"), WithTable(`x"y`), `table "x\"y"`},
		{filepath.Join(dir, "a.db"), WithBusyTimeout(-time.Second), "busy_timeout"},
		{"file:" + filepath.Join(dir, "a.db"), WithCleanupInterval(0), "file: URI"},
	} {
		_, err := OpenFile(context.Background(), c.path, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBadConfig) {
			t.Errorf("OpenFile(%q): error %v; want ErrBadConfig saying %q", c.path, err, c.want)
		}
	}
}

func TestOpenDictOpensTheFileWithItsTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	d, err := ngxtasks.OpenDict(context.Background(), "sqlite://"+path+"?table=other")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(context.Background(), "k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if got := d.(*Dict).Path(); got != path {
		t.Errorf("Path = %q, want %q", got, path)
	}
	var n int
	if err := d.(*Dict).r.QueryRow(`SELECT count(*) FROM other`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in table other = %d, %v; want 1", n, err)
	}
}

// FuzzParseURL: no URL makes parsing panic, and a URL parseURL accepts
// names a file that OpenFile would accept too, or is refused by it with
// ErrBadConfig (never opened as something else).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"sqlite:///var/lib/app/claims.db?busy_timeout=250ms&cleanup=0s&table=t",
		"sqlite:rel/c.db?table=a&table=b",
		"sqlite://h/c.db#x",
		"sqlite:c%3F.db?busy_timeout=99999999h",
		"sqlite::memory:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		path, opts, err := parseURL(u)
		if err != nil {
			return
		}
		cfg := defaults()
		for _, o := range opts {
			if err := o(&cfg); err != nil {
				return
			}
		}
		if path == "" || strings.HasSuffix(path, "/") {
			t.Fatalf("%q accepted with path %q", raw, path)
		}
		if !tableName.MatchString(cfg.table) || cfg.busy < 0 || cfg.cleanup < 0 {
			t.Fatalf("%q accepted with %+v", raw, cfg)
		}
	})
}
