package certfiles

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xunjian/xunjian/internal/testpki"
	"github.com/xunjian/xunjian/internal/testproc"
)

// mtlsServer is a loopback TLS server (tls.Listen) that requires a client
// certificate signed by clients and reports, per connection, the
// certificate the client presented.
func mtlsServer(t *testing.T, server testpki.Pair, clients *testpki.CA) (addr string, presented <-chan *x509.Certificate) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{server.TLS(t)},
		ClientCAs:    clients.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan *x509.Certificate, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				ch <- tc.ConnectionState().PeerCertificates[0]
				io.WriteString(c, "ok")
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// handshake dials addr presenting r's certificate (and verifying the
// server with r's CA file) and returns the certificate the server saw.
func handshake(t *testing.T, r *Reloader, addr string, presented <-chan *x509.Certificate) (*x509.Certificate, error) {
	t.Helper()
	conf := &tls.Config{
		MinVersion:           tls.VersionTLS12,
		ServerName:           "127.0.0.1",
		RootCAs:              r.Current().CAs,
		GetClientCertificate: r.GetClientCertificate,
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// With TLS 1.3 a refused client certificate shows on the first read.
	if _, err := io.ReadAll(c); err != nil {
		return nil, err
	}
	select {
	case got := <-presented:
		return got, nil
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no certificate")
		return nil, nil
	}
}

// TestClientRotation: a client certificate written over the old one is
// presented by the next handshake to a server requiring client
// certificates, without a restart; a broken pair keeps the old one and is
// logged once; a pair from a CA the server does not trust is presented
// (and refused) like any other.
func TestClientRotation(t *testing.T) {
	serverCA := testpki.NewCA(t, "server CA")
	clients := testpki.NewCA(t, "client CA")
	addr, presented := mtlsServer(t, serverCA.Issue(t, "server", "127.0.0.1"), clients)
	dir := t.TempDir()
	first := clients.Issue(t, "client-1")
	certFile, keyFile := first.Write(t, dir, "client")
	logs := &testproc.Buffer{}
	r, err := New(Files{CertFile: certFile, KeyFile: keyFile, CAFile: serverCA.WriteCA(t, dir, "ca.pem")},
		Options{Client: true, Logger: slog.New(slog.NewTextHandler(logs, nil)).With("kafka", "test")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := handshake(t, r, addr, presented); err != nil || !got.Equal(first.Cert) {
		t.Fatalf("first handshake: %v, presented %v", err, got)
	}

	second := clients.Issue(t, "client-2")
	second.Write(t, dir, "client")
	if got, err := handshake(t, r, addr, presented); err != nil || !got.Equal(second.Cert) {
		t.Fatalf("after rotation: %v, presented %v, want client-2", err, got)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") || !r.Leaf().Equal(second.Cert) {
		t.Errorf("rotation not logged or not current:\n%s", logs)
	}

	// A certificate whose key has not been written yet.
	third := clients.Issue(t, "client-3")
	testpki.WriteFile(t, certFile, third.CertPEM)
	for range 3 {
		if got, err := handshake(t, r, addr, presented); err != nil || !got.Equal(second.Cert) {
			t.Fatalf("with a mismatched pair: %v, presented %v, want client-2 still", err, got)
		}
	}
	if n := strings.Count(logs.String(), "do not load; still presenting the previous certificate"); n != 1 {
		t.Errorf("the broken pair was logged %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") || !strings.Contains(logs.String(), "kafka=test") {
		t.Errorf("a key in the logs, or the caller's attributes lost:\n%s", logs)
	}
	testpki.WriteFile(t, keyFile, third.KeyPEM)
	if got, err := handshake(t, r, addr, presented); err != nil || !got.Equal(third.Cert) {
		t.Fatalf("pair completed: %v, presented %v, want client-3", err, got)
	}

	// Another CA's certificate: presented, so the server refuses it.
	testpki.NewCA(t, "other CA").Issue(t, "stray").Write(t, dir, "client")
	if _, err := handshake(t, r, addr, presented); err == nil {
		t.Fatal("a certificate the server's client CA did not sign was accepted: was the new one presented?")
	}
}

// TestCARotation: a new CA file is loaded by the next Current; one
// without a certificate keeps the old pool.
func TestCARotation(t *testing.T) {
	dir := t.TempDir()
	a, b := testpki.NewCA(t, "CA a"), testpki.NewCA(t, "CA b")
	caFile := a.WriteCA(t, dir, "ca.pem")
	r, err := New(Files{CAFile: caFile}, Options{Client: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	verifies := func(ca *testpki.CA) bool {
		_, err := ca.Issue(t, "srv", "127.0.0.1").Cert.Verify(x509.VerifyOptions{Roots: r.Current().CAs})
		return err == nil
	}
	if !verifies(a) || verifies(b) {
		t.Fatal("the first CA file is not the pool")
	}
	b.WriteCA(t, dir, "ca.pem")
	if verifies(a) || !verifies(b) {
		t.Fatal("the rotated CA file is not the pool")
	}
	testpki.WriteFile(t, caFile, []byte("half written"))
	if !verifies(b) {
		t.Fatal("a CA file without a certificate replaced the pool")
	}
	if c, err := r.GetClientCertificate(nil); err != nil || c == nil || len(c.Certificate) != 0 {
		t.Errorf("without a certificate file: %v, %v, want an empty certificate", c, err)
	}
}

// TestRetryUnchangedStamps: a failed load is tried again after a second
// even when the files' stamps look unchanged (a coarse file-system clock).
func TestRetryUnchangedStamps(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	p := ca.Issue(t, "first", "127.0.0.1")
	certFile, keyFile := p.Write(t, dir, "server")
	now := time.Now()
	clock := func() time.Time { return now }
	r, err := New(Files{CertFile: certFile, KeyFile: keyFile}, Options{Logger: slog.New(slog.DiscardHandler), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	next := ca.Issue(t, "next", "127.0.0.1")
	testpki.WriteFile(t, certFile, next.CertPEM)
	r.check() // mismatched: kept
	if !r.cur.Load().Leaf.Equal(p.Cert) {
		t.Fatal("a mismatched pair was swapped in")
	}
	testpki.WriteFile(t, keyFile, next.KeyPEM)
	r.mu.Lock()
	r.seen = r.stamp() // as if the key's change were invisible
	r.mu.Unlock()
	r.check()
	if !r.cur.Load().Leaf.Equal(p.Cert) {
		t.Fatal("retried before a second passed")
	}
	now = now.Add(retryFailed)
	r.check()
	if !r.cur.Load().Leaf.Equal(next.Cert) {
		t.Fatal("the failed load was not retried")
	}
}

// TestNew: files that do not load stop the start, named with the
// caller's prefix and CA key.
func TestNew(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, _ := ca.Issue(t, "c", "127.0.0.1").Write(t, dir, "c")
	expired, expiredKey := ca.IssueValid(t, "old", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)).Write(t, dir, "old")
	junk := testpki.WriteFile(t, filepath.Join(dir, "junk.pem"), []byte("junk"))
	opts := Options{Prefix: "kafka.tls."}
	for _, tc := range []struct {
		name  string
		files Files
		opts  Options
		want  string
	}{
		{"nothing", Files{}, opts, "no file to load"},
		{"cert without key", Files{CertFile: certFile}, opts, "kafka.tls.cert_file and kafka.tls.key_file go together"},
		{"missing CA", Files{CAFile: filepath.Join(dir, "none.pem")}, opts, "kafka.tls.ca_file: open " + filepath.Join(dir, "none.pem")},
		{"junk CA", Files{CAFile: junk}, Options{CAKey: "client_ca_file"}, "client_ca_file " + junk + ": no PEM certificate"},
		{"mismatched", Files{CertFile: certFile, KeyFile: expiredKey}, opts, "load kafka.tls.cert_file " + certFile},
		{"expired", Files{CertFile: expired, KeyFile: expiredKey}, opts, "kafka.tls.cert_file " + expired + ": the certificate expired"},
	} {
		if _, err := New(tc.files, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// gauge returns the value of ExpiryMetric{use} in reg, and whether there
// is one.
func gauge(t *testing.T, reg *prometheus.Registry, use string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != ExpiryMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "use" {
				t.Fatalf("labels %v, want use only", m.GetLabel())
			}
			if m.GetLabel()[0].GetValue() == use {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestExpiry: the gauge is the certificate's not-after time after the
// start and after a rotation, with no series for a use without a
// certificate.
func TestExpiry(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	first := ca.IssueValid(t, "first", time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour).Truncate(time.Second))
	certFile, keyFile := first.Write(t, dir, "cert")
	r, err := New(Files{CertFile: certFile, KeyFile: keyFile}, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	caOnly, err := New(Files{CAFile: ca.WriteCA(t, dir, "ca.pem")}, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := NewExpiry()
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	e.Add(UseAgent, r.Leaf)
	e.Add(UseKafkaClient, caOnly.Leaf)
	if v, ok := gauge(t, reg, UseAgent); !ok || v != float64(first.Cert.NotAfter.Unix()) {
		t.Errorf("after start: %v (%v), want %d", v, ok, first.Cert.NotAfter.Unix())
	}
	second := ca.IssueValid(t, "second", time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour).Truncate(time.Second))
	second.Write(t, dir, "cert")
	if v, ok := gauge(t, reg, UseAgent); !ok || v != float64(second.Cert.NotAfter.Unix()) {
		t.Errorf("after rotation: %v (%v), want %d", v, ok, second.Cert.NotAfter.Unix())
	}
	if v, ok := gauge(t, reg, UseKafkaClient); ok {
		t.Errorf("a series for a use without a certificate: %v", v)
	}
}
