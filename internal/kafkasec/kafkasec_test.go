package kafkasec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xunjian/xunjian/internal/testpki"
	"github.com/xunjian/xunjian/internal/testproc"
)

const password = "s3cret-Pa55word-never-shown"

// secureCluster is a kfake broker with TLS (a certificate for 127.0.0.1
// from a CA of the test's own) and SASL users for the three mechanisms;
// it returns the broker and the CA file.
func secureCluster(t *testing.T, withTLS bool) (broker, caFile string) {
	t.Helper()
	ca := testpki.NewCA(t, "kafka test CA")
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, "events"), kfake.EnableSASL(),
		kfake.Superuser(SCRAMSHA512, "xunjian", password), kfake.Superuser(SCRAMSHA256, "xunjian256", password),
		kfake.Superuser(Plain, "plainuser", password)}
	if withTLS {
		opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "broker", "127.0.0.1").TLS(t)}, MinVersion: tls.VersionTLS12}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0], ca.WriteCA(t, t.TempDir(), "ca.pem")
}

// TestCheck: Check goes on to the next broker when one does not answer,
// and fails naming each.
func TestCheck(t *testing.T) {
	broker, caFile := secureCluster(t, true)
	cl, err := Config{TLS: TLS{Enabled: true, CAFile: caFile}, SASL: SASL{Mechanism: SCRAMSHA512, Username: "xunjian", PasswordEnv: "KAFKA_PW"}}.Open("kafka", env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := cl.Check(ctx, []string{"127.0.0.1:1", broker}, "xunjian-test"); err != nil {
		t.Errorf("one broker answers: %v", err)
	}
	err = cl.Check(ctx, []string{"127.0.0.1:1"}, "xunjian-test")
	if err == nil || !strings.Contains(err.Error(), "broker 127.0.0.1:1:") {
		t.Errorf("none answers: %v", err)
	}
	if err := cl.Check(ctx, nil, "xunjian-test"); err == nil {
		t.Error("no brokers: nil error")
	}
	plain, err := Config{}.Open("kafka", env) // a nil Client dials plain TCP: the TLS listener drops it
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Check(ctx, []string{broker}, "xunjian-test"); err == nil {
		t.Error("plain TCP to a TLS listener succeeded")
	}
}

// metadata asks the broker for the topic's metadata through cl's
// Transport and, separately, dials it with cl's Dialer.
func metadata(t *testing.T, cl *Client, broker string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tr := cl.Transport("xunjian-test")
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(broker), Transport: tr}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"events"}})
	if err != nil {
		return err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return errors.New("no topic events")
	}
	conn, err := cl.Dialer("xunjian-test", 5*time.Second).DialContext(ctx, "tcp", broker)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ApiVersions()
	return err
}

func env(k string) string {
	if k == "KAFKA_PW" {
		return password
	}
	if k == "KAFKA_WRONG" {
		return "not-the-password"
	}
	return ""
}

// TestMechanisms: each mechanism, over TLS, reaches the broker with the
// right password through both the Transport and the Dialer.
func TestMechanisms(t *testing.T) {
	broker, caFile := secureCluster(t, true)
	for mech, user := range map[string]string{SCRAMSHA512: "xunjian", SCRAMSHA256: "xunjian256", Plain: "plainuser"} {
		cfg := Config{TLS: TLS{Enabled: true, CAFile: caFile}, SASL: SASL{Mechanism: mech, Username: user, PasswordEnv: "KAFKA_PW"}}
		cl, err := cfg.Open("kafka", env)
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		if err := metadata(t, cl, broker); err != nil {
			t.Errorf("%s: %v", mech, err)
		}
		if want := "SASL_SSL " + mech + " user " + user; cl.String() != want {
			t.Errorf("String() = %q, want %q", cl.String(), want)
		}
	}
}

// TestSCRAMWithoutTLS: SCRAM needs no TLS to keep the password secret.
func TestSCRAMWithoutTLS(t *testing.T) {
	broker, _ := secureCluster(t, false)
	cl, err := Config{SASL: SASL{Mechanism: SCRAMSHA512, Username: "xunjian", PasswordEnv: "KAFKA_PW"}}.Open("kafka", env)
	if err != nil {
		t.Fatal(err)
	}
	if err := metadata(t, cl, broker); err != nil {
		t.Fatal(err)
	}
}

// TestRefused: a wrong password, an unknown CA and a missing TLS each fail
// at once with an error saying what to fix, never quoting the password.
func TestRefused(t *testing.T) {
	broker, caFile := secureCluster(t, true)
	otherCA := testpki.NewCA(t, "other CA").WriteCA(t, t.TempDir(), "other.pem")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"wrong password", Config{TLS: TLS{Enabled: true, CAFile: caFile}, SASL: SASL{Mechanism: SCRAMSHA512, Username: "xunjian", PasswordEnv: "KAFKA_WRONG"}},
			`refused the credentials of Kafka user "xunjian" (SASL SCRAM-SHA-512): check sasl.username and the password in KAFKA_WRONG`},
		{"unknown user", Config{TLS: TLS{Enabled: true, CAFile: caFile}, SASL: SASL{Mechanism: SCRAMSHA256, Username: "nobody", PasswordEnv: "KAFKA_PW"}},
			"refused the credentials"},
		{"other CA", Config{TLS: TLS{Enabled: true, CAFile: otherCA}, SASL: SASL{Mechanism: SCRAMSHA512, Username: "xunjian", PasswordEnv: "KAFKA_PW"}},
			"not signed by a CA in tls.ca_file"},
		{"server name", Config{TLS: TLS{Enabled: true, CAFile: caFile, ServerName: "kafka.example"}, SASL: SASL{Mechanism: SCRAMSHA512, Username: "xunjian", PasswordEnv: "KAFKA_PW"}},
			"set tls.server_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := tc.cfg.Open("kafka", env)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = cl.Check(t.Context(), []string{broker}, "xunjian-test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("failing took %v", time.Since(start))
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("the error quotes a password: %v", err)
			}
		})
	}
}

// TestValidate: what a file must not say, each named by its path.
func TestValidate(t *testing.T) {
	scram := SASL{Mechanism: SCRAMSHA512, Username: "u", PasswordEnv: "PW"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"insecure", Config{TLS: TLS{Enabled: true, InsecureSkipVerify: true}}, "stream.tls.insecure_skip_verify: not allowed"},
		{"files without tls", Config{TLS: TLS{CAFile: "ca.pem"}}, "stream.tls.enabled"},
		{"cert without key", Config{TLS: TLS{Enabled: true, CertFile: "c.pem"}}, "stream.tls.cert_file"},
		{"unknown mechanism", Config{SASL: SASL{Mechanism: "GSSAPI", Username: "u", PasswordEnv: "PW"}}, "stream.sasl.mechanism"},
		{"lower case", Config{SASL: SASL{Mechanism: "scram-sha-512", Username: "u", PasswordEnv: "PW"}}, "stream.sasl.mechanism"},
		{"plain in clear", Config{SASL: SASL{Mechanism: Plain, Username: "u", PasswordEnv: "PW"}}, "PLAIN sends the password in clear"},
		{"user without mechanism", Config{SASL: SASL{Username: "u"}}, "stream.sasl.mechanism: missing"},
		{"no user", Config{SASL: SASL{Mechanism: SCRAMSHA256, PasswordEnv: "PW"}}, "stream.sasl.username: missing"},
		{"no password env", Config{SASL: SASL{Mechanism: SCRAMSHA256, Username: "u"}}, "stream.sasl.password_env: missing"},
		{"password in place of env", Config{SASL: SASL{Mechanism: SCRAMSHA256, Username: "u", PasswordEnv: "hunter2!"}}, "not an environment variable name"},
	} {
		err := tc.cfg.Validate("stream")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error quotes the value: %v", tc.name, err)
		}
	}
	for _, c := range []Config{{}, {SASL: scram}, {TLS: TLS{Enabled: true}, SASL: scram}, {TLS: TLS{Enabled: true, CAFile: "ca", CertFile: "c", KeyFile: "k", ServerName: "kafka"}}} {
		if err := c.Validate("stream"); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestOpen: what Open reads must be there; no security is a nil Client,
// which dials plain TCP.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	scram := SASL{Mechanism: SCRAMSHA512, Username: "xunjian", PasswordEnv: "UNSET"}
	if _, err := (Config{SASL: scram}).Open("kafka", env); err == nil || !strings.Contains(err.Error(), "kafka.sasl.password_env: environment variable UNSET is empty") {
		t.Errorf("unset password: %v", err)
	}
	if _, err := (Config{TLS: TLS{Enabled: true, CAFile: filepath.Join(dir, "none.pem")}}).Open("kafka", env); err == nil || !strings.Contains(err.Error(), "kafka.tls.ca_file") {
		t.Errorf("missing CA: %v", err)
	}
	junk := testpki.WriteFile(t, filepath.Join(dir, "junk.pem"), []byte("junk"))
	if _, err := (Config{TLS: TLS{Enabled: true, CAFile: junk}}).Open("kafka", env); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("junk CA: %v", err)
	}
	cl, err := Config{}.Open("kafka", env)
	if err != nil || cl != nil {
		t.Fatalf("no security: %v, %v", cl, err)
	}
	if d := cl.Dialer("x", 0); d.TLS != nil || d.SASLMechanism != nil || d.Timeout != DefaultDialTimeout {
		t.Errorf("nil Client's dialer %+v", d)
	}
	if tr := cl.Transport("x"); tr.TLS != nil || tr.SASL != nil {
		t.Errorf("nil Client's transport %+v", tr)
	}
	if cl.String() != "PLAINTEXT" {
		t.Errorf("String() = %q", cl.String())
	}
}

// TestCertificateRotation: against a broker (kfake on a TLS listener)
// that requires client certificates from a CA of the test's own, a client
// certificate written over the old one is presented by the next
// connection, through the Dialer and the Transport, without reopening the
// Client; a broken pair keeps the old one, logged once; a new CA file is
// trusted by the next connection; and the broker's certificate is still
// checked against the IP address dialled.
func TestCertificateRotation(t *testing.T) {
	brokerCA, clients := testpki.NewCA(t, "broker CA"), testpki.NewCA(t, "client CA")
	var serving atomic.Pointer[tls.Certificate]
	var presented atomic.Pointer[x509.Certificate]
	setBroker := func(p testpki.Pair) { c := p.TLS(t); serving.Store(&c) }
	setBroker(brokerCA.Issue(t, "broker", "127.0.0.1"))
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"), kfake.TLS(&tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return serving.Load(), nil },
		ClientCAs:      clients.Pool(),
		ClientAuth:     tls.RequireAndVerifyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			presented.Store(cs.PeerCertificates[0])
			return nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	broker := c.ListenAddrs()[0]

	dir := t.TempDir()
	first := clients.Issue(t, "client-1")
	certFile, keyFile := first.Write(t, dir, "client")
	caFile := brokerCA.WriteCA(t, dir, "ca.pem")
	logs := &testproc.Buffer{}
	cl, err := Config{TLS: TLS{Enabled: true, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}}.OpenWith("stream",
		Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	check := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return cl.Check(ctx, []string{broker}, "xunjian-test")
	}
	for _, tc := range []struct {
		name string
		dial func() error
	}{
		{"dialer", check},
		{"transport", func() error { return metadata(t, cl, broker) }},
	} {
		if err := tc.dial(); err != nil || !presented.Load().Equal(first.Cert) {
			t.Fatalf("%s, first: %v, presented %v", tc.name, err, presented.Load().Subject)
		}
	}

	second := clients.Issue(t, "client-2")
	second.Write(t, dir, "client")
	if err := check(); err != nil || !presented.Load().Equal(second.Cert) || !cl.Certificate().Equal(second.Cert) {
		t.Fatalf("after rotation: %v, presented %v, want client-2", err, presented.Load().Subject)
	}
	third := clients.Issue(t, "client-3")
	third.Write(t, dir, "client")
	presented.Store(nil)
	if err := metadata(t, cl, broker); err != nil || !presented.Load().Equal(third.Cert) {
		t.Fatalf("after rotation, transport: %v, presented %v, want client-3", err, presented.Load())
	}

	// A certificate whose key has not been written yet: the old pair stays.
	fourth := clients.Issue(t, "client-4")
	testpki.WriteFile(t, certFile, fourth.CertPEM)
	for range 3 {
		if err := check(); err != nil || !presented.Load().Equal(third.Cert) {
			t.Fatalf("with a mismatched pair: %v, presented %v, want client-3 still", err, presented.Load().Subject)
		}
	}
	if n := strings.Count(logs.String(), "do not load; still presenting the previous certificate"); n != 1 {
		t.Errorf("the broken pair was logged %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") || !strings.Contains(logs.String(), "stream.tls") {
		t.Errorf("a key in the logs, or no name of the section:\n%s", logs)
	}
	testpki.WriteFile(t, keyFile, fourth.KeyPEM)
	if err := check(); err != nil || !presented.Load().Equal(fourth.Cert) {
		t.Fatalf("pair completed: %v, presented %v, want client-4", err, presented.Load().Subject)
	}

	// Without a client certificate, or with one another CA signed, the
	// broker refuses and the error says so.
	for _, tc := range []struct {
		name string
		tls  TLS
	}{
		{"none", TLS{Enabled: true, CAFile: caFile}},
		{"another CA's", func() TLS {
			c, k := testpki.NewCA(t, "stray CA").Issue(t, "stray").Write(t, t.TempDir(), "stray")
			return TLS{Enabled: true, CAFile: caFile, CertFile: c, KeyFile: k}
		}()},
	} {
		other, err := Config{TLS: tc.tls}.Open("stream", env)
		if err != nil {
			t.Fatal(err)
		}
		err = other.Check(t.Context(), []string{broker}, "xunjian-test")
		if err == nil || !strings.Contains(err.Error(), "the broker refused the client certificate (tls.cert_file)") {
			t.Errorf("%s client certificate: %v", tc.name, err)
		}
	}

	// The brokers move to another CA: refused until ca_file has it.
	newCA := testpki.NewCA(t, "new broker CA")
	setBroker(newCA.Issue(t, "broker", "127.0.0.1"))
	if err := check(); err == nil || !strings.Contains(err.Error(), "not signed by a CA in tls.ca_file") {
		t.Fatalf("broker certificate from a CA not in ca_file: %v", err)
	}
	newCA.WriteCA(t, dir, "ca.pem")
	if err := check(); err != nil {
		t.Fatalf("after the CA file's rotation: %v", err)
	}
	// Verification still names the address dialled, an IP address.
	setBroker(newCA.Issue(t, "elsewhere", "10.9.9.9"))
	if err := check(); err == nil || !strings.Contains(err.Error(), "set tls.server_name") {
		t.Fatalf("a certificate for another address: %v", err)
	}
}
