package redisdict

import (
	"context"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// tlsURL is the test server's TLS URL (scripts/services sets it, with the
// server's self-signed certificate in NGXTASKS_REDIS_TLS_CA).
func tlsURL(t *testing.T) (string, string) {
	serverURL(t) // skips or fails as the other tests do
	u, ca := os.Getenv("NGXTASKS_REDISS_URL"), os.Getenv("NGXTASKS_REDIS_TLS_CA")
	if u == "" || ca == "" {
		t.Skip("NGXTASKS_REDISS_URL or NGXTASKS_REDIS_TLS_CA is not set (scripts/services sets them)")
	}
	return u, ca
}

func TestTLSChecksTheCertificateUnlessToldNotTo(t *testing.T) {
	raw, caFile := tlsURL(t)
	ctx := context.Background()

	// The certificate is self-signed: refused unless trusted...
	if d, err := Open(ctx, raw); err == nil {
		d.Close()
		t.Fatal("a self-signed certificate was accepted")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error does not name the certificate: %v", err)
	}

	// ... or unchecked, for tests.
	d, err := Open(ctx, raw+"?skip_verify=true")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(ctx, prefix(t)+"k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add over TLS = %v, %v", added, err)
	}

	// Trusted through the program's own client: the certificate is checked
	// against the address dialled, 127.0.0.1.
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	o, err := ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	o.TLSConfig.RootCAs = roots
	client := redis.NewUniversalClient(o)
	defer client.Close()
	d2, err := New(client)
	if err != nil {
		t.Fatal(err)
	}
	if added, err := d2.Add(ctx, prefix(t)+"k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add over verified TLS = %v, %v", added, err)
	}
}
