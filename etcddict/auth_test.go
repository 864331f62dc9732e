package etcddict

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestTLSAndAuthAdmitOnlyTheGrantedUserWithAValidCertificate runs a private
// etcd with TLS, client certificates and auth: user "app" may read and write
// under "claims/" only.
func TestTLSAndAuthAdmitOnlyTheGrantedUserWithAValidCertificate(t *testing.T) {
	e := startTLSEtcd(t)
	ctx := ctxT(t)
	root := e.client(t, "", "")
	defer root.Close()
	for _, step := range []func() error{
		func() error { _, err := root.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := root.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := root.UserAdd(ctx, "app", "app-pw"); return err },
		func() error { _, err := root.RoleAdd(ctx, "app"); return err },
		func() error {
			_, err := root.RoleGrantPermission(ctx, "app", "claims/", clientv3.GetPrefixRangeEnd("claims/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := root.UserGrantRole(ctx, "app", "app"); return err },
		func() error { _, err := root.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("auth setup: %v", err)
		}
	}
	files := "ca=" + url.QueryEscape(e.ca) + "&cert=" + url.QueryEscape(e.cert) + "&key=" + url.QueryEscape(e.key)
	base := "etcds://app:app-pw@" + e.endpoint

	t.Run("claims", func(t *testing.T) {
		d, err := ngxtasks.OpenDict(ctx, base+"/claims?"+files)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if ok, err := d.Add(ctx, "k", "v", 10*time.Second); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, err := d.Add(ctx, "k", "v", 10*time.Second); ok || err != nil {
			t.Fatal(ok, err)
		}
		if v, ok, err := d.Get(ctx, "k"); v != "v" || !ok || err != nil {
			t.Fatal(v, ok, err)
		}
		adds := batchOf("b", 20, 10*time.Second)
		if err := d.(ngxtasks.BatchAdder).AddBatch(ctx, adds); err != nil {
			t.Fatal(err)
		}
		for _, a := range adds {
			if !a.Added || a.Err != nil {
				t.Fatalf("%s: %v %v", a.Key, a.Added, a.Err)
			}
		}
	})

	t.Run("server name", func(t *testing.T) {
		d, err := Open(ctx, base+"/claims?server_name=etcd-test&"+files)
		if err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
	})

	t.Run("skip verify", func(t *testing.T) {
		d, err := Open(ctx, base+"/claims?skip_verify=true&cert="+url.QueryEscape(e.cert)+"&key="+url.QueryEscape(e.key))
		if err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
	})

	for _, c := range []struct{ name, url, want string }{
		{"wrong password", "etcds://app:wrong-pw@" + e.endpoint + "/claims?" + files, "authentication failed"},
		{"unknown user", "etcds://nobody:wrong-pw@" + e.endpoint + "/claims?" + files, "authentication failed"},
		{"no permission", base + "/other?" + files, "permission denied"},
		// Without a user name, etcd takes the client certificate's common
		// name as the user, who has no role here.
		{"no credentials", "etcds://" + e.endpoint + "/claims?" + files, "permission denied"},
		{"untrusted server", base + "/claims?dial_timeout=1s&cert=" + url.QueryEscape(e.cert) + "&key=" + url.QueryEscape(e.key), ""},
		{"wrong server name", base + "/claims?dial_timeout=1s&server_name=other&" + files, ""},
		{"no client certificate", base + "/claims?dial_timeout=1s&ca=" + url.QueryEscape(e.ca), ""},
		{"plain to TLS", "etcd://app:app-pw@" + e.endpoint + "/claims?dial_timeout=1s", ""},
		{"bad key file", base + "/claims?ca=" + url.QueryEscape(e.ca) + "&cert=" + url.QueryEscape(e.cert) + "&key=" + url.QueryEscape(e.ca), "client certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			d, err := Open(cctx, c.url)
			if err == nil {
				_ = d.Close()
				t.Fatal("opened")
			}
			msg := err.Error()
			if strings.Contains(msg, "pw") {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not say %q", msg, c.want)
			}
			t.Log(err)
		})
	}

	// Auth and TLS answers stay the same for an Add: a user without
	// permission on a key is refused, as an error.
	t.Run("add refused", func(t *testing.T) {
		c := e.client(t, "app", "app-pw")
		defer c.Close()
		d, err := New(c, "other/")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ok, err := d.Add(ctx, "k", "v", time.Second)
		if ok || err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("Add outside the permitted prefix = %v, %v", ok, err)
		}
	})
}
