package etcddict

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// A private etcd server, started by a test for what the shared one cannot
// show (TLS, auth): on loopback ports, with a data directory in the test's
// temporary directory, stopped when the test ends.
type privateEtcd struct {
	endpoint string // 127.0.0.1:port
	dir      string
	ca       string // PEM files, when TLS
	cert     string // client certificate and key
	key      string
}

// startTLSEtcd starts an etcd that serves clients over TLS only and asks
// them for a certificate signed by its CA. It needs the etcd binary: the
// test skips without it, and fails in CI, where scripts/services installs it.
func startTLSEtcd(t *testing.T) *privateEtcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("etcd is not installed in CI; scripts/services installs it")
		}
		t.Skip("etcd is not installed (apt-get install etcd-server)")
	}
	e := &privateEtcd{dir: t.TempDir()}
	e.writeCerts(t)
	for attempt := range 3 {
		client, peer := freePort(t), freePort(t)
		e.endpoint = "127.0.0.1:" + client
		cmd := exec.Command(bin,
			"--name", "private",
			"--data-dir", filepath.Join(e.dir, fmt.Sprint("data", attempt)),
			"--listen-client-urls", "https://"+e.endpoint,
			"--advertise-client-urls", "https://"+e.endpoint,
			"--listen-peer-urls", "http://127.0.0.1:"+peer,
			"--initial-advertise-peer-urls", "http://127.0.0.1:"+peer,
			"--initial-cluster", "private=http://127.0.0.1:"+peer,
			"--cert-file", filepath.Join(e.dir, "server.pem"),
			"--key-file", filepath.Join(e.dir, "server-key.pem"),
			"--client-cert-auth", "--trusted-ca-file", e.ca,
		)
		logf, err := os.Create(filepath.Join(e.dir, fmt.Sprint("etcd", attempt, ".log")))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); _ = logf.Close(); close(exited) }()
		t.Cleanup(func() { stopProcess(cmd, exited) })
		if e.waitReady(t, exited) {
			return e
		}
		stopProcess(cmd, exited)
		log, _ := os.ReadFile(logf.Name())
		t.Logf("etcd did not start on %s (attempt %d): %.2000s", e.endpoint, attempt+1, log)
	}
	t.Fatal("private etcd did not start")
	return nil
}

// stopProcess ends a server: SIGTERM, then SIGKILL after 5s.
func stopProcess(cmd *exec.Cmd, exited chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// waitReady polls the server for up to 20s.
func (e *privateEtcd) waitReady(t *testing.T, exited chan struct{}) bool {
	c := e.client(t, "", "")
	defer c.Close()
	for range 100 {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := c.Status(ctx, e.endpoint)
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(time.Duration(100) * time.Millisecond)
	}
	return false
}

// client connects with the test's client certificate, as user when given.
func (e *privateEtcd) client(t *testing.T, user, pass string) *clientv3.Client {
	t.Helper()
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(e.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(e.cert, e.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints: []string{e.endpoint}, DialTimeout: 2 * time.Second,
		Username: user, Password: pass, Logger: zap.NewNop(),
		TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// writeCerts makes a CA, a server certificate for 127.0.0.1 and the name
// "etcd-test", and a client certificate, as PEM files in e.dir.
func (e *privateEtcd) writeCerts(t *testing.T) {
	t.Helper()
	caKey, caCert := newCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "etcddict test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	})
	srvKey, srvCert := newCert(t, caKey, caCert, &x509.Certificate{
		Subject: pkix.Name{CommonName: "etcd-test"}, DNSNames: []string{"etcd-test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	})
	cliKey, cliCert := newCert(t, caKey, caCert, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "etcddict-test-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	})
	e.ca = writePEM(t, e.dir, "ca.pem", "CERTIFICATE", caCert.Raw)
	writePEM(t, e.dir, "server.pem", "CERTIFICATE", srvCert.Raw)
	writePEM(t, e.dir, "server-key.pem", "EC PRIVATE KEY", ecKey(t, srvKey))
	e.cert = writePEM(t, e.dir, "client.pem", "CERTIFICATE", cliCert.Raw)
	e.key = writePEM(t, e.dir, "client-key.pem", "EC PRIVATE KEY", ecKey(t, cliKey))
}

// newCert signs tmpl with parent (itself when parent is nil).
func newCert(t *testing.T, parentKey *ecdsa.PrivateKey, parent, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func ecKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
