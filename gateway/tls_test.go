package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/internal/certfiles"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/servertls"
	"github.com/xunjian/xunjian/internal/testpki"
)

// tlsGet GETs url over HTTPS on a fresh connection (so each request is a
// new handshake) with the client TLS settings conf, and returns the status
// and the certificate the server presented.
func tlsGet(url string, conf *tls.Config) (int, *x509.Certificate, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.TLS.PeerCertificates[0], nil
}

// TestTLSListeners: the agent and admin ports over TLS on loopback. The
// agent port answers HTTPS clients that trust its CA and nothing below
// TLS 1.2; a certificate written over the old one is presented by the next
// handshake, without a restart, and a broken one is not; the admin port
// requires a client certificate from its client CA.
func TestTLSListeners(t *testing.T) {
	ca := testpki.NewCA(t, "gateway CA")
	clients := testpki.NewCA(t, "ops client CA")
	dir := t.TempDir()
	first := ca.Issue(t, "gateway-1", "127.0.0.1", "localhost")
	agentCert, agentKey := first.Write(t, dir, "agent")
	adminCert, adminKey := ca.Issue(t, "gateway-admin", "127.0.0.1").Write(t, dir, "admin")
	cfg := config.Config{TLS: config.TLS{
		Agent: servertls.Config{CertFile: agentCert, KeyFile: agentKey},
		Admin: servertls.Config{CertFile: adminCert, KeyFile: adminKey, ClientCAFile: clients.WriteCA(t, dir, "clients.pem")},
	}}
	g := start(t, cfg, "", nil)
	agent := strings.Replace(g.agent, "http://", "https://", 1)
	admin := strings.Replace(g.admin, "http://", "https://", 1)
	trust := &tls.Config{RootCAs: ca.Pool()}

	// A check over TLS.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: trust}}
	resp, err := c.Post(agent+"/v1/check", "application/json", strings.NewReader(`{"text":"您好，请问有什么可以帮您？","conversation_id":"c1","agent_id":"a1"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"action":"allow"`) || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("check over TLS: %d %s", resp.StatusCode, body)
	}
	// Plain HTTP to the TLS port gets nothing it can use.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(g.agent + "/v1/check"); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP to the TLS port: %d", resp.StatusCode)
		}
	}
	// Nothing below TLS 1.2.
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if _, _, err := tlsGet(agent+"/v1/check", &tls.Config{RootCAs: ca.Pool(), MinVersion: v, MaxVersion: v}); err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("%s: err %v, want the version refused", tls.VersionName(v), err)
		}
	}

	// Rotation, without a restart.
	second := ca.Issue(t, "gateway-2", "127.0.0.1", "localhost")
	second.Write(t, dir, "agent")
	if _, got, err := tlsGet(agent+"/v1/check", trust); err != nil || !got.Equal(second.Cert) {
		t.Fatalf("after rotation: %v, presented %v, want gateway-2", err, got.Subject)
	}
	// A key that is not the certificate's: the old pair stays.
	testpki.WriteFile(t, agentKey, ca.Issue(t, "stray").KeyPEM)
	if _, got, err := tlsGet(agent+"/v1/check", trust); err != nil || !got.Equal(second.Cert) {
		t.Fatalf("after a broken rotation: %v, presented %v, want gateway-2 still", err, got.Subject)
	}
	if !strings.Contains(g.logs.String(), "still serving the previous certificate") {
		t.Errorf("the broken rotation is not logged:\n%s", g.logs)
	}

	// The admin port: a client certificate from the client CA, or nothing.
	if _, _, err := tlsGet(admin+"/healthz", trust); err == nil {
		t.Error("the admin port served a client without a certificate")
	}
	intruder := testpki.NewCA(t, "intruder CA").Issue(t, "intruder")
	if _, _, err := tlsGet(admin+"/healthz", &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{intruder.TLS(t)}}); err == nil {
		t.Error("the admin port served a client whose certificate another CA signed")
	}
	ops := clients.Issue(t, "ops")
	if status, _, err := tlsGet(admin+"/healthz", &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ops.TLS(t)}}); err != nil || status != 200 {
		t.Errorf("the admin port with a client certificate: %d, %v", status, err)
	}
}

// TestTLSFilesAtStart: a certificate that does not load stops the start,
// naming the listener and the file.
func TestTLSFilesAtStart(t *testing.T) {
	ca := testpki.NewCA(t, "gateway CA")
	dir := t.TempDir()
	certFile, _ := ca.Issue(t, "gateway", "127.0.0.1").Write(t, dir, "agent")
	_, otherKey := ca.Issue(t, "other", "127.0.0.1").Write(t, dir, "other")
	for _, tc := range []struct {
		tls  config.TLS
		want string
	}{
		{config.TLS{Agent: servertls.Config{CertFile: certFile, KeyFile: otherKey}}, "tls.agent: load cert_file"},
		{config.TLS{Admin: servertls.Config{CertFile: filepath.Join(dir, "none.crt"), KeyFile: otherKey}}, "tls.admin: load cert_file " + filepath.Join(dir, "none.crt")},
	} {
		cfg := config.Config{TLS: tc.tls}
		cfg.Stream.Disabled = true
		cfg.Defaults()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		_, err := New(context.Background(), &cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want one containing %q", err, tc.want)
		}
	}
}

// notAfter returns the certificate-expiry gauge of use in reg, and whether
// it has a series.
func notAfter(t *testing.T, reg *prometheus.Registry, use string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != certfiles.ExpiryMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			if l := m.GetLabel(); len(l) == 1 && l[0].GetName() == "use" && l[0].GetValue() == use {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestTLSCertificateExpiry: the gateway exports the not-after time of the
// agent's and the admin port's certificates and of its Kafka client
// certificate, labelled by use only, and a rotation shows at the next
// scrape.
func TestTLSCertificateExpiry(t *testing.T) {
	ca := testpki.NewCA(t, "gateway CA")
	dir := t.TempDir()
	in := func(days int) time.Time {
		return time.Now().Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Second)
	}
	issue := func(cn string, days int) testpki.Pair {
		return ca.IssueValid(t, cn, time.Now().Add(-time.Hour), in(days), "127.0.0.1")
	}
	agent, admin, kafkaClient := issue("agent-1", 30), issue("admin", 60), issue("kafka-client-1", 10)
	agentCert, agentKey := agent.Write(t, dir, "agent")
	adminCert, adminKey := admin.Write(t, dir, "admin")
	clientCert, clientKey := kafkaClient.Write(t, dir, "kafka-client")
	cfg := config.Config{TLS: config.TLS{
		Agent: servertls.Config{CertFile: agentCert, KeyFile: agentKey},
		Admin: servertls.Config{CertFile: adminCert, KeyFile: adminKey},
	}}
	cfg.Stream.Brokers = []string{"127.0.0.1:1"} // nothing listens: nothing ships
	cfg.Stream.Security.TLS = kafkasec.TLS{Enabled: true, CAFile: ca.WriteCA(t, dir, "kafka-ca.pem"), CertFile: clientCert, KeyFile: clientKey}
	g := start(t, cfg, "", nil)
	reg := g.srv.Metrics().Registry()
	for use, want := range map[string]testpki.Pair{"agent": agent, "admin": admin, "kafka_client": kafkaClient} {
		if v, ok := notAfter(t, reg, use); !ok || v != float64(want.Cert.NotAfter.Unix()) {
			t.Errorf("%s after start: %v (%v), want %d", use, v, ok, want.Cert.NotAfter.Unix())
		}
	}

	agent2, client2 := issue("agent-2", 90), issue("kafka-client-2", 120)
	agent2.Write(t, dir, "agent")
	client2.Write(t, dir, "kafka-client")
	for use, want := range map[string]testpki.Pair{"agent": agent2, "admin": admin, "kafka_client": client2} {
		if v, ok := notAfter(t, reg, use); !ok || v != float64(want.Cert.NotAfter.Unix()) {
			t.Errorf("%s after rotation: %v (%v), want %d", use, v, ok, want.Cert.NotAfter.Unix())
		}
	}
	// The handshake presents what the gauge says.
	if _, got, err := tlsGet(strings.Replace(g.agent, "http://", "https://", 1)+"/healthz", &tls.Config{RootCAs: ca.Pool()}); err != nil || !got.Equal(agent2.Cert) {
		t.Errorf("agent after rotation: %v, presented %v", err, got)
	}
}
