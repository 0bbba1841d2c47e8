package servertls

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

	"github.com/xunjian/xunjian/internal/testpki"
	"github.com/xunjian/xunjian/internal/testproc"
)

// server is a TLS echo-less server: it completes handshakes and closes.
type server struct {
	addr string
	logs *testproc.Buffer
	r    *Reloader
}

func serve(t *testing.T, cfg Config) *server {
	t.Helper()
	logs := &testproc.Buffer{}
	cfg.Defaults()
	r, err := New(cfg, Options{Name: "test", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := r.Listener(ln)
	t.Cleanup(func() { tln.Close() })
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if tc, ok := c.(*tls.Conn); ok && tc.Handshake() == nil {
					io.WriteString(c, "ok")
				}
			}()
		}
	}()
	return &server{addr: ln.Addr().String(), logs: logs, r: r}
}

// dial handshakes with conf and returns the certificate the server
// presented.
func (s *server) dial(conf *tls.Config) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.addr, conf)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// With TLS 1.3 a refused client certificate shows on the first read.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

// TestRotation: new files are presented by the next handshake, without a
// restart; a broken new pair keeps the old certificate and is logged once;
// completing the pair is picked up.
func TestRotation(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	first := ca.Issue(t, "first", "127.0.0.1")
	certFile, keyFile := first.Write(t, dir, "server")
	s := serve(t, Config{CertFile: certFile, KeyFile: keyFile})
	client := &tls.Config{RootCAs: ca.Pool()}
	got, err := s.dial(client)
	if err != nil || !got.Equal(first.Cert) {
		t.Fatalf("first handshake: %v, cert %v", err, got.Subject)
	}

	second := ca.Issue(t, "second", "127.0.0.1")
	second.Write(t, dir, "server")
	if got, err = s.dial(client); err != nil || !got.Equal(second.Cert) {
		t.Fatalf("after rotation: %v, cert %v, want second", err, got.Subject)
	}
	if !strings.Contains(s.logs.String(), "TLS certificate reloaded") || !s.r.Certificate().Equal(second.Cert) {
		t.Errorf("rotation not logged or not current:\n%s", s.logs)
	}

	// A new certificate whose key has not been written yet.
	third := ca.Issue(t, "third", "127.0.0.1")
	testpki.WriteFile(t, certFile, third.CertPEM)
	for range 3 {
		if got, err = s.dial(client); err != nil || !got.Equal(second.Cert) {
			t.Fatalf("with a mismatched pair: %v, cert %v, want second still", err, got.Subject)
		}
	}
	if n := strings.Count(s.logs.String(), "do not load"); n != 1 {
		t.Errorf("the broken pair was logged %d times, want once:\n%s", n, s.logs)
	}
	if strings.Contains(s.logs.String(), "PRIVATE KEY") {
		t.Errorf("a key in the logs:\n%s", s.logs)
	}
	testpki.WriteFile(t, keyFile, third.KeyPEM)
	if got, err = s.dial(client); err != nil || !got.Equal(third.Cert) {
		t.Fatalf("pair completed: %v, cert %v, want third", err, got.Subject)
	}

	// An expired certificate is not swapped in; nor is a missing file.
	old := ca.IssueValid(t, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), "127.0.0.1")
	old.Write(t, dir, "server")
	if got, err = s.dial(client); err != nil || !got.Equal(third.Cert) {
		t.Fatalf("expired pair written: %v, cert %v, want third still", err, got.Subject)
	}
	if !strings.Contains(s.logs.String(), "expired") {
		t.Errorf("the expired certificate was not logged:\n%s", s.logs)
	}
}

// TestVersions: nothing below TLS 1.2; min_version 1.3 refuses 1.2.
func TestVersions(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	certFile, keyFile := ca.Issue(t, "srv", "127.0.0.1").Write(t, t.TempDir(), "server")
	s12 := serve(t, Config{CertFile: certFile, KeyFile: keyFile})
	s13 := serve(t, Config{CertFile: certFile, KeyFile: keyFile, MinVersion: Version13})
	for _, tc := range []struct {
		s        *server
		min, max uint16
		ok       bool
	}{
		{s12, tls.VersionTLS10, tls.VersionTLS10, false},
		{s12, tls.VersionTLS11, tls.VersionTLS11, false},
		{s12, tls.VersionTLS12, tls.VersionTLS12, true},
		{s12, tls.VersionTLS13, tls.VersionTLS13, true},
		{s13, tls.VersionTLS12, tls.VersionTLS12, false},
		{s13, tls.VersionTLS13, tls.VersionTLS13, true},
	} {
		_, err := tc.s.dial(&tls.Config{RootCAs: ca.Pool(), MinVersion: tc.min, MaxVersion: tc.max})
		if (err == nil) != tc.ok {
			t.Errorf("server min %s, client %s: err %v, want ok %v", tc.s.r.cfg.MinVersion, tls.VersionName(tc.max), err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("server min %s, client %s: %v, want the server to refuse the version", tc.s.r.cfg.MinVersion, tls.VersionName(tc.max), err)
		}
	}
}

// TestClientCA: with client_ca_file, a client without a certificate, or
// with one from another CA, is refused; one the CA signed is served.
func TestClientCA(t *testing.T) {
	ca := testpki.NewCA(t, "server CA")
	clients := testpki.NewCA(t, "client CA")
	other := testpki.NewCA(t, "other CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, "srv", "127.0.0.1").Write(t, dir, "server")
	s := serve(t, Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: clients.WriteCA(t, dir, "clients.pem")})
	good := clients.Issue(t, "ops")
	bad := other.Issue(t, "intruder")
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"none", nil, false},
		{"other CA", []tls.Certificate{bad.TLS(t)}, false},
		{"client CA", []tls.Certificate{good.TLS(t)}, true},
	} {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			_, err := s.dial(&tls.Config{RootCAs: ca.Pool(), Certificates: tc.certs, MaxVersion: v})
			if (err == nil) != tc.ok {
				t.Errorf("%s over %s: err %v, want ok %v", tc.name, tls.VersionName(v), err, tc.ok)
			}
		}
	}
}

// TestNew: files that do not load stop the start, naming the file.
func TestNew(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, "srv", "127.0.0.1").Write(t, dir, "server")
	otherCert, _ := ca.Issue(t, "other", "127.0.0.1").Write(t, dir, "other")
	notPEM := testpki.WriteFile(t, filepath.Join(dir, "junk.pem"), []byte("junk"))
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing cert", Config{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: keyFile}, "nope.crt"},
		{"mismatched", Config{CertFile: otherCert, KeyFile: keyFile}, "private key does not match"},
		{"client CA junk", Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: notPEM}, "junk.pem: no PEM certificate"},
		{"disabled", Config{}, "no cert_file"},
		{"old version", Config{CertFile: certFile, KeyFile: keyFile, MinVersion: "1.1"}, "min_version"},
	} {
		if _, err := New(tc.cfg, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestValidate names each fault by its path.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{CertFile: "c"}, "tls.agent.key_file: missing"},
		{Config{KeyFile: "k"}, "tls.agent.cert_file: missing"},
		{Config{ClientCAFile: "ca"}, "tls.agent.client_ca_file"},
		{Config{CertFile: "c", KeyFile: "k", MinVersion: "1.0"}, "tls.agent.min_version"},
	} {
		if err := tc.cfg.Validate("tls.agent"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	for _, c := range []Config{{}, {CertFile: "c", KeyFile: "k"}, {CertFile: "c", KeyFile: "k", ClientCAFile: "ca", MinVersion: "1.3"}} {
		if err := c.Validate("tls"); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
