package redisdict

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestParseURLReadsStandaloneTLSSentinelAndCluster(t *testing.T) {
	o, err := ParseURL("redis://app:s3cr3t@127.0.0.1:6380/2?dial_timeout=250ms&pool_size=4&max_retries=-1&client_name=w1&protocol=2")
	if err != nil {
		t.Fatal(err)
	}
	if o.Username != "app" || o.Password != "s3cr3t" || o.DB != 2 || len(o.Addrs) != 1 || o.Addrs[0] != "127.0.0.1:6380" ||
		o.DialTimeout != 250*time.Millisecond || o.PoolSize != 4 || o.MaxRetries != -1 || o.ClientName != "w1" ||
		o.Protocol != 2 || !o.ContextTimeoutEnabled || o.TLSConfig != nil || o.MasterName != "" || o.IsClusterMode {
		t.Fatalf("standalone: %+v", o)
	}

	if o, err = ParseURL("redis://h"); err != nil || o.Addrs[0] != "h:6379" || o.DB != 0 || o.Username != "" {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	if o, err = ParseURL("redis://[::1]:7000/"); err != nil || o.Addrs[0] != "[::1]:7000" {
		t.Fatalf("IPv6: %+v, %v", o, err)
	}
	if o, err = ParseURL("rediss://:pw@cache.example:6380?skip_verify=true"); err != nil || o.TLSConfig == nil ||
		o.TLSConfig.MinVersion != tls.VersionTLS12 || !o.TLSConfig.InsecureSkipVerify || o.Password != "pw" {
		t.Fatalf("TLS: %+v, %v", o, err)
	}

	o, err = ParseURL("redis://:pw@s1:26379/1?master_name=mymaster&addr=s2:26379,s3:26379&addr=s4")
	if err != nil || o.MasterName != "mymaster" || strings.Join(o.Addrs, " ") != "s1:26379 s2:26379 s3:26379 s4:6379" ||
		o.DB != 1 || o.Password != "pw" || o.SentinelPassword != "" {
		t.Fatalf("Sentinel: %+v, %v", o, err)
	}
	if o, err = ParseURL("redis://u:pw@s1?master_name=m&sentinel_auth=true"); err != nil || o.SentinelUsername != "u" || o.SentinelPassword != "pw" {
		t.Fatalf("Sentinel auth: %+v, %v", o, err)
	}

	if o, err = ParseURL("redis://n1:7000?addr=n2:7000"); err != nil || len(o.Addrs) != 2 || o.MasterName != "" {
		t.Fatalf("Cluster: %+v, %v", o, err)
	}
	if o, err = ParseURL("redis://n1:7000?cluster=true"); err != nil || !o.IsClusterMode {
		t.Fatalf("Cluster with one seed: %+v, %v", o, err)
	}
}

// TestParseURLErrorsNameThePartAndHideThePassword checks that each malformed
// URL is refused with an error that names the part at fault and never shows
// the password.
func TestParseURLErrorsNameThePartAndHideThePassword(t *testing.T) {
	const pw = "s3cr3t"
	for _, c := range []struct{ url, field string }{
		{"http://u:s3cr3t@h", "scheme"},
		{"redis:u:s3cr3t@h", "address"},
		{"redis://u:s3cr3t@", "host"},
		{"redis://u:s3cr3t@h:99999", "port"},
		{"redis://u:s3cr3t@h:", "port"},
		{"redis://u:s3cr3t@h/x", "database"},
		{"redis://u:s3cr3t@h/-1", "database"},
		{"redis://u:s3cr3t@h/1/2", "database"},
		{"redis://u:s3cr3t@h?bogus=1", "parameter bogus"},
		{"redis://u:s3cr3t@h?pool_size=1&pool_size=2", "parameter pool_size"},
		{"redis://u:s3cr3t@h?pool_size=0", "parameter pool_size"},
		{"redis://u:s3cr3t@h?max_retries=-2", "parameter max_retries"},
		{"redis://u:s3cr3t@h?dial_timeout=fast", "parameter dial_timeout"},
		{"redis://u:s3cr3t@h?read_timeout=-1s", "parameter read_timeout"},
		{"redis://u:s3cr3t@h?protocol=4", "parameter protocol"},
		{"redis://u:s3cr3t@h?cluster=maybe", "parameter cluster"},
		{"redis://u:s3cr3t@h/3?addr=h2", "database"},
		{"redis://u:s3cr3t@h?addr=h2:port", "port"},
		{"redis://u:s3cr3t@h?addr=", "host"},
		{"redis://u:s3cr3t@h?master_name=", "parameter master_name"},
		{"redis://u:s3cr3t@h?sentinel_auth=true", "parameter sentinel_auth"},
		{"redis://u:s3cr3t@h?master_name=m&cluster=true", "parameter cluster"},
		{"redis://u:s3cr3t@h?skip_verify=true", "parameter skip_verify"},
		{"redis://h?password=s3cr3t", "parameter password"},
		{"redis://u:s3cr3t@h?%zz", "query"},
		{"redis://u:s3cr3t@h:6379%zz", "cannot parse"},
		{"redis://u:s3cr3t@h\x7f", "cannot parse"},
	} {
		_, err := ParseURL(c.url)
		if err == nil {
			t.Errorf("%q: accepted", c.url)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(msg, c.field) || strings.Contains(msg, pw) {
			t.Errorf("%q: error %q; want ErrBadConfig naming %q without the password", c.url, msg, c.field)
		}
	}
}

// TestOpenDictKnowsBothSchemesAndHidesThePassword opens through
// ngxtasks.OpenDict, as a program names its dictionary, and checks a refusal
// there too hides the password.
func TestOpenDictKnowsBothSchemesAndHidesThePassword(t *testing.T) {
	for _, s := range []string{"redis", "rediss"} {
		if !slices.Contains(ngxtasks.Schemes(), s) {
			t.Errorf("scheme %q not registered: %v", s, ngxtasks.Schemes())
		}
	}
	_, err := ngxtasks.OpenDict(context.Background(), "redis://u:s3cr3t@127.0.0.1/x")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("OpenDict of a bad URL: %v", err)
	}

	d, err := ngxtasks.OpenDict(context.Background(), serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if added, err := d.Add(context.Background(), prefix(t)+"k", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
}
