package redisdict

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/redis/go-redis/v9"
)

// withAuth returns the test server's URL with other credentials.
func withAuth(t *testing.T, raw string, user *url.Userinfo) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = user
	return u.String()
}

// checkRefused opens rawURL and expects an authentication error that names
// the user but not the password.
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
	if !redis.IsAuthError(err) || !strings.Contains(msg, "authentication refused") || !strings.Contains(msg, `user "`+user+`"`) {
		t.Fatalf("error does not say the credentials were refused for %q: %s", user, msg)
	}
}

func TestAuthRefusalOfAnACLUserNamesItAndHidesThePassword(t *testing.T) {
	good := serverURL(t)
	u, _ := url.Parse(good)
	user := u.User.Username()
	checkRefused(t, withAuth(t, good, url.UserPassword(user, "wrong-Pa55word")), user, "wrong-Pa55word")
	checkRefused(t, withAuth(t, good, url.UserPassword("no-such-user", "Pa55word-x")), "no-such-user", "Pa55word-x")
}

func TestAuthDefaultUserWorksAndItsRefusalHidesThePassword(t *testing.T) {
	raw := os.Getenv("NGXTASKS_REDIS_DEFAULT_URL")
	if raw == "" {
		t.Skip("NGXTASKS_REDIS_DEFAULT_URL is not set (scripts/services sets it)")
	}
	d, err := Open(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(context.Background(), prefix(t)+"k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add as the default user = %v, %v", added, err)
	}
	checkRefused(t, withAuth(t, raw, url.UserPassword("", "wrong-Pa55word")), "default", "wrong-Pa55word")
}

// TestAuthPasswordNeedingEscapesWorksInTheURL makes an ACL user whose
// password needs escaping in a URL, and opens the dictionary as that user.
func TestAuthPasswordNeedingEscapesWorksInTheURL(t *testing.T) {
	admin := openTest(t)
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	user, pw := "ngxtasks-test-"+hex.EncodeToString(b), "p@ss:w/rd%+?#&= é"
	if err := admin.client.Do(ctx, "ACL", "SETUSER", user, "on", ">"+pw, "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.client.Do(ctx, "ACL", "DELUSER", user) })
	raw := withAuth(t, serverURL(t), url.UserPassword(user, pw))
	d, err := ngxtasks.OpenDict(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(ctx, prefix(t)+"k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	checkRefused(t, withAuth(t, raw, url.UserPassword(user, pw+"x")), user, pw+"x")
}

// TestURLPathSelectsTheDatabase checks that the URL's path selects the
// database.
func TestURLPathSelectsTheDatabase(t *testing.T) {
	u, _ := url.Parse(serverURL(t))
	u.Path = "/2"
	d2, err := Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	d0, ctx, k := openTest(t), context.Background(), prefix(t)+"k"
	if added, err := d2.Add(ctx, k, "in2", time.Minute); err != nil || !added {
		t.Fatalf("Add in database 2 = %v, %v", added, err)
	}
	if _, ok, err := d0.Get(ctx, k); err != nil || ok {
		t.Fatalf("database 0 sees database 2's key: %v, %v", ok, err)
	}
	if added, err := d0.Add(ctx, k, "in0", time.Minute); err != nil || !added {
		t.Fatalf("Add in database 0 = %v, %v", added, err)
	}
}

// TestUnreachableNamesTheAddressWithinTheDialTimeout opens a port nothing
// listens on: the error names the address, and comes within the dial timeout.
func TestUnreachableNamesTheAddressWithinTheDialTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = Open(context.Background(), "redis://u:s3cr3t@"+addr+"?dial_timeout=1s&max_retries=-1")
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "connect to Redis at "+addr) || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}

	// A cancelled context ends the attempt at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, "redis://"+addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Open: %v", err)
	}
}
