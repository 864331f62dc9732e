package redisdict

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURL checks that no input makes ParseURL panic, and that its
// errors never show the userinfo password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://u:s3cr3t-pw@127.0.0.1:6379/2?dial_timeout=1s",
		"rediss://:s3cr3t-pw@h?skip_verify=true&addr=h2,h3:1",
		"redis://u:s3cr3t-pw@s1/1?master_name=m&sentinel_auth=true&addr=[::1]:5",
		"redis://u:s3cr3t-pw@[::1]:99999/x?cluster=1&pool_size=-3",
		"redis://u:s3cr3t-pw@h:%zz",
		"redis:u:s3cr3t-pw@h",
		"redis://%00:s3cr3t-pw@h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := ParseURL(raw)
		if err == nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.User == nil {
			return
		}
		pw, _ := u.User.Password()
		rest := strings.Replace(raw, pw, "", 1)
		if len(pw) >= 8 && !strings.Contains(rest, pw) && strings.Contains(err.Error(), pw) {
			t.Fatalf("error shows the password: %v", err)
		}
	})
}
