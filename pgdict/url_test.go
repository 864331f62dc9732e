package pgdict

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ngxtasks/ngxtasks"
)

// withURL returns the test server's URL changed by edit.
func withURL(t *testing.T, edit func(*url.URL)) string {
	t.Helper()
	u, err := url.Parse(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	edit(u)
	return u.String()
}

func TestOpenDictKnowsBothPostgresSchemes(t *testing.T) {
	for _, s := range []string{"postgres", "postgresql"} {
		if !slices.Contains(ngxtasks.Schemes(), s) {
			t.Errorf("scheme %q not registered: %v", s, ngxtasks.Schemes())
		}
	}
	ctx := context.Background()
	raw := withURL(t, func(u *url.URL) { u.Scheme = "postgresql" })
	d, err := ngxtasks.OpenDict(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(ctx, prefix(t)+"k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
}

// TestURLParametersAreOursOrReachPgx checks that our parameters are taken
// out of the URL and applied, and that pgx's still reach pgx.
func TestURLParametersAreOursOrReachPgx(t *testing.T) {
	ctx, table := context.Background(), tempTable(t)
	raw := withURL(t, func(u *url.URL) {
		q := u.Query()
		q.Set("ngxtasks_table", table)
		q.Set("ngxtasks_cleanup", "0")
		q.Set("application_name", "ngxtasks-url-test")
		u.RawQuery = q.Encode()
	})
	d, err := Open(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.sql.table != `"`+table+`"` || d.stopCleanup != nil {
		t.Fatalf("table %s, cleanup goroutine %v", d.sql.table, d.stopCleanup != nil)
	}
	var exists bool
	var app string
	err = d.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL, current_setting('application_name')", table).Scan(&exists, &app)
	if err != nil || !exists || app != "ngxtasks-url-test" {
		t.Fatalf("table exists %v, application_name %q, %v", exists, app, err)
	}
}

// TestURLErrorsNameThePartAndHideThePassword checks that malformed URLs are
// refused before connecting, with errors that name the part at fault and
// never show the password.
func TestURLErrorsNameThePartAndHideThePassword(t *testing.T) {
	for _, c := range []struct{ url, field string }{
		{"mysql://u:s3cr3t@127.0.0.1/db", "scheme"},
		{"postgres:u:s3cr3t@127.0.0.1/db", "address"},
		{"postgres://u:s3cr3t@127.0.0.1/db?ngxtasks_table=a-b", "table"},
		{"postgres://u:s3cr3t@127.0.0.1/db?ngxtasks_table=a&ngxtasks_table=b", "ngxtasks_table"},
		{"postgres://u:s3cr3t@127.0.0.1/db?ngxtasks_cleanup=often", "ngxtasks_cleanup"},
		{"postgres://u:s3cr3t@127.0.0.1/db?ngxtasks_cleanup=-1s", "ngxtasks_cleanup"},
		{"postgres://u:s3cr3t@127.0.0.1/db?ngxtasks_bogus=1", "ngxtasks_bogus"},
		{"postgres://u:s3cr3t@127.0.0.1/db?%zz", "query"},
		{"postgres://u:s3cr3t@127.0.0.1:port/db", "cannot parse"},
		{"postgres://u:s3cr3t@127.0.0.1/db?sslmode=sometimes", "sslmode"},
		{"postgres://u:s3cr3t@127.0.0.1/db?pool_max_conns=0", "pool_max_conns"},
	} {
		_, err := Open(context.Background(), c.url)
		if err == nil {
			t.Errorf("%q: accepted", c.url)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(msg, c.field) || strings.Contains(msg, "s3cr3t") {
			t.Errorf("%q: error %q; want ErrBadConfig naming %q without the password", c.url, msg, c.field)
		}
		if _, err := ngxtasks.OpenDict(context.Background(), c.url); err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: OpenDict error %v", c.url, err)
		}
	}
}

// checkRefused opens rawURL and expects PostgreSQL's refusal of the
// password, naming the user but not the password.
func checkRefused(t *testing.T, rawURL, user, password string) {
	t.Helper()
	d, err := ngxtasks.OpenDict(context.Background(), rawURL)
	if err == nil {
		d.Close()
		t.Fatalf("user %q with a wrong password: opened", user)
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, password) || strings.Contains(msg, url.QueryEscape(password)) {
		t.Fatalf("error shows the password: %s", msg)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" || !strings.Contains(msg, `user "`+user+`"`) {
		t.Fatalf("error does not say the password was refused for %q: %s", user, msg)
	}
}

func TestWrongPasswordIsRefusedNamingTheUserNotThePassword(t *testing.T) {
	u, _ := url.Parse(serverURL(t))
	user := u.User.Username()
	checkRefused(t, withURL(t, func(u *url.URL) { u.User = url.UserPassword(user, "wrong-Pa55word") }), user, "wrong-Pa55word")
}

// TestPasswordNeedingEscapesWorksInTheURL makes a role whose password needs
// escaping in a URL, lets it use the default table, and opens the dictionary
// as that role.
func TestPasswordNeedingEscapesWorksInTheURL(t *testing.T) {
	admin, ctx := openTest(t, WithCleanupInterval(0)), context.Background()
	role, pw := "ngxtasks_test_"+randomHex(4), "p@ss:w/rd%+?#&= é'"
	for _, sql := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD " + quoteLiteral(pw),
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + admin.sql.table + " TO " + role,
	} {
		if _, err := admin.pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		admin.pool.Exec(ctx, "REVOKE ALL ON "+admin.sql.table+" FROM "+role)
		admin.pool.Exec(ctx, "DROP ROLE "+role)
	})
	raw := withURL(t, func(u *url.URL) { u.User = url.UserPassword(role, pw) })
	d, err := ngxtasks.OpenDict(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(ctx, prefix(t)+"k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	checkRefused(t, withURL(t, func(u *url.URL) { u.User = url.UserPassword(role, pw+"x") }), role, pw+"x")
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// TestUnreachableNamesTheServerAtOnce opens a port nothing listens on: the
// error names the server and comes at once.
func TestUnreachableNamesTheServerAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = Open(context.Background(), "postgres://u:s3cr3t@"+addr+"/db?connect_timeout=5")
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "connect to PostgreSQL at "+addr) || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error = %v", err)
	}
}

// TestHideMasksThePasswordRawOrEscaped checks the last line of defence: a
// password in an error's text is masked, whether raw or escaped, and the
// original is not reachable.
func TestHideMasksThePasswordRawOrEscaped(t *testing.T) {
	orig := errors.New("failed for p@ss/w%rd and p%40ss%2Fw%25rd")
	err := hide(orig, "p@ss/w%rd")
	if strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "p%40ss") || errors.Is(err, orig) {
		t.Fatalf("hide = %v", err)
	}
	if hide(pgx.ErrNoRows, "secret") != pgx.ErrNoRows {
		t.Fatal("an error without the password was changed")
	}
}
