package ngxtasks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
)

// hostileURLs put the secret "hunter2" in every place a user can write a
// password, and in malformed URLs around it.
var hostileURLs = []string{
	"redis://:hunter2@127.0.0.1:1/0",
	"redis://app:hunter2@127.0.0.1:1/0",
	"redis://127.0.0.1:1?password=hunter2",
	"redis://127.0.0.1:1?sentinel_password=hunter2&db=2",
	"postgres://bob@127.0.0.1:1/db?password=hunter2",
	"postgres://bob@127.0.0.1:1/db?sslmode=disable&PassWord=hunter2",
	"host=127.0.0.1 port=1 user=bob password=hunter2 dbname=x",
	"host=127.0.0.1 password='hun ter2' dbname=x",
	"host=127.0.0.1 password = hunter2",
	"app:hunter2@127.0.0.1:6379",
	"redis://app:hunter2@[::1",
	"redis://app:hunter2@127.0.0.1:port/0",
	"redis://app:hun%zzter2@127.0.0.1/0",
	"etcd://root:hunter2@127.0.0.1:1/prefix#hunter2",
	"nosuch://root:hunter2@127.0.0.1:1/?token=hunter2",
	"redis://127.0.0.1:1?password=hunter2&password=hunter2x",
	"redis://127.0.0.1:1?password=%zzhunter2",
	"redis://:hunter2",
	"redis://host:hunter2/0",
}

// TestOpenDictNeverShowsAPassword: whatever form a password takes in a
// dictionary URL, OpenDict's error does not repeat it, nor does RedactURL.
func TestOpenDictNeverShowsAPassword(t *testing.T) {
	for _, raw := range hostileURLs {
		_, parseErr := ngxtasks.ParseDictURL(raw)
		for _, shown := range []string{ngxtasks.RedactURL(raw), openError(raw), fmt.Sprint(parseErr)} {
			if strings.Contains(shown, "hunter2") || strings.Contains(shown, "hun ter2") {
				t.Errorf("%q shown as %q", raw, shown)
			}
		}
	}
	for raw, want := range map[string]string{
		"redis://app:pw@127.0.0.1:6379/2?db=2&password=pw": "redis://app:xxxxx@127.0.0.1:6379/2?db=2&password=xxxxx",
		"host=db user=bob password=pw dbname=x":            "host=db user=bob password=xxxxx dbname=x",
		"mem://":                                           "mem://",
	} {
		if got := ngxtasks.RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func openError(raw string) string {
	d, err := ngxtasks.OpenDict(context.Background(), raw)
	if err == nil {
		d.Close()
		return ""
	}
	return err.Error()
}
