package dicttest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// Secret is the password HostileURLs hide everywhere a user may write one.
const Secret = "hunter2"

// HostileURLs returns dictionary URLs of a scheme that carry Secret
// wherever a user may write a password (user information, parameters of
// every spelling, fragments, a forgotten "//", malformed URLs around it),
// all aimed at a closed port on loopback.
func HostileURLs(scheme string) []string {
	s := scheme
	return []string{
		s + "://:" + Secret + "@127.0.0.1:1/0",
		s + "://app:" + Secret + "@127.0.0.1:1/db",
		s + "://127.0.0.1:1/db?password=" + Secret,
		s + "://bob@127.0.0.1:1/db?password=" + Secret + "&sslmode=disable",
		s + "://127.0.0.1:1/db?sentinel_password=" + Secret,
		s + "://127.0.0.1:1/db?PassWord=" + Secret,
		s + "://127.0.0.1:1/db?token=" + Secret,
		s + "://app:" + Secret + "@127.0.0.1:1/db#" + Secret,
		s + ":app:" + Secret + "@127.0.0.1:1",
		s + "://app:" + Secret + "@[::1",
		s + "://app:" + Secret + "@127.0.0.1:port/db",
		s + "://:" + Secret,
		"host=127.0.0.1 port=1 user=bob password=" + Secret + " dbname=x",
	}
}

// NoSecretInErrors opens every one of HostileURLs(scheme) with
// ngxtasks.OpenDict (the backend's package must be imported) and fails the
// test if an error, or a dictionary's Close error, repeats Secret. Each
// open gets at most wait.
func NoSecretInErrors(t *testing.T, scheme string, wait time.Duration) {
	t.Helper()
	for _, raw := range HostileURLs(scheme) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		d, err := ngxtasks.OpenDict(ctx, raw)
		cancel()
		if err == nil {
			err = d.Close()
		}
		if err != nil && strings.Contains(err.Error(), Secret) {
			t.Errorf("opening %s: the error repeats the password: %v", ngxtasks.RedactURL(raw), err)
		}
	}
}
