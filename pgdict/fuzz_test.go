package pgdict

import (
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// FuzzParse checks that no URL makes the parsing that Open does before it
// connects panic, and that its errors never show the userinfo password.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"postgres://u:s3cr3t-pw@127.0.0.1:5432/db?sslmode=disable&ngxtasks_table=a.b",
		"postgresql://u:s3cr3t-pw@h/db?ngxtasks_cleanup=0&pool_max_conns=x",
		"postgres://u:s3cr3t-pw@h/db?ngxtasks_table=%22x%22&ngxtasks_bogus",
		"postgres://u:s3cr3t-pw@[::1:5/db",
		"postgres://u:s3cr3t-pw@h1,h2:7/db?target_session_attrs=read-write",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			return
		}
		pw, _ := u.User.Password()
		check := func(err error) {
			rest := strings.Replace(raw, pw, "", 1)
			if err != nil && len(pw) >= 8 && !strings.Contains(rest, pw) && strings.Contains(err.Error(), pw) {
				t.Fatalf("error shows the password: %v", err)
			}
		}
		opts, pgURL, err := splitParams(u)
		check(err)
		if err != nil {
			return
		}
		_, _, err = settings(opts)
		check(err)
		_, err = pgxpool.ParseConfig(pgURL)
		check(hide(err, pw))
	})
}
