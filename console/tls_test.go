package console

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xunjian/xunjian/console/config"
	"github.com/xunjian/xunjian/console/store/storetest"
	"github.com/xunjian/xunjian/internal/certfiles"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/servertls"
	"github.com/xunjian/xunjian/internal/testpki"
	"github.com/xunjian/xunjian/internal/testproc"
)

const kafkaPassword = "console-kafka-s3cret"

// secureKafka is a kfake broker that wants TLS (a certificate from a CA
// of the test's own) and SCRAM-SHA-512 (user console, kafkaPassword),
// with the console's three topics; it returns the broker and the
// console's kafka security section, the password read from
// XJ_KAFKA_PASSWORD.
func secureKafka(t *testing.T, prefix string) (string, kafkasec.Config) {
	t.Helper()
	ca := testpki.NewCA(t, "kafka CA")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, prefix+"alerts", prefix+"findings", prefix+"samples"),
		kfake.EnableSASL(), kfake.Superuser(kafkasec.SCRAMSHA512, "console", kafkaPassword),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "broker", "127.0.0.1").TLS(t)}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0], kafkasec.Config{
		TLS:  kafkasec.TLS{Enabled: true, CAFile: ca.WriteCA(t, t.TempDir(), "kafka-ca.pem")},
		SASL: kafkasec.SASL{Mechanism: kafkasec.SCRAMSHA512, Username: "console", PasswordEnv: "XJ_KAFKA_PASSWORD"},
	}
}

// envWith is testEnv plus the Kafka password variable set to password.
func envWith(password string) func(string) string {
	return func(k string) string {
		if k == "XJ_KAFKA_PASSWORD" {
			return password
		}
		return testEnv(k)
	}
}

// serveOn provisions the console of cfg with getenv and serves it on a
// loopback port until the test ends; it returns the address and the logs.
func serveOn(t *testing.T, cfg *config.Config, getenv func(string) string) (string, *testproc.Buffer) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &testproc.Buffer{}
	c, err := New(context.Background(), cfg, Options{Getenv: getenv, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	})
	return ln.Addr().String(), logs
}

// TestConsoleTLS: the console serves HTTPS (HTTP/2 offered, nothing below
// TLS 1.2, the certificate rotated without a restart) and reads the
// gateway's topics over TLS with SCRAM: an alert published there is
// listed by the API.
func TestConsoleTLS(t *testing.T) {
	broker, kafkaSec := secureKafka(t, "s.")
	ca := testpki.NewCA(t, "console CA")
	dir := t.TempDir()
	first := ca.Issue(t, "console-1", "127.0.0.1")
	certFile, keyFile := first.Write(t, dir, "console")
	robot := newDingTalk(t)
	cfg := consoleConfig(storetest.DSN(t, storetest.Dialects[0]), []string{broker}, "s.", robot)
	kafkaClient := ca.IssueValid(t, "kafka-client-1", time.Now().Add(-time.Hour), time.Now().Add(10*24*time.Hour))
	kafkaSec.TLS.CertFile, kafkaSec.TLS.KeyFile = kafkaClient.Write(t, dir, "kafka-client")
	cfg.Kafka.Security = kafkaSec
	cfg.TLS = servertls.Config{CertFile: certFile, KeyFile: keyFile}
	cfg.Defaults()
	if !cfg.Auth.SecureCookie || cfg.TLS.MinVersion != servertls.Version12 {
		t.Errorf("with tls: secure_cookie %v, min_version %q", cfg.Auth.SecureCookie, cfg.TLS.MinVersion)
	}
	addr, logs := serveOn(t, cfg, envWith(kafkaPassword))
	base := "https://" + addr
	client := func(conf *tls.Config) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true, DisableKeepAlives: true}}
	}
	trust := &tls.Config{RootCAs: ca.Pool()}
	waitFor(t, "the console ready over HTTPS", func() bool {
		resp, err := client(trust).Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	id, value := alertEvent(t, "conv-tls")
	cl, err := kafkaSec.Open("kafka", envWith(kafkaPassword))
	if err != nil {
		t.Fatal(err)
	}
	tr := cl.Transport("xunjian-test")
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: "s.alerts", Transport: tr, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(t.Context(), kafka.Message{Key: []byte("conv-tls"), Value: value}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitFor(t, "the alert listed over HTTPS", func() bool {
		resp, err := client(trust).Get(base + "/api/alerts")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.ProtoMajor != 2 {
			t.Errorf("protocol %s, want HTTP/2 over TLS", resp.Proto)
		}
		return strings.Contains(string(body), id)
	})

	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if _, err := client(&tls.Config{RootCAs: ca.Pool(), MinVersion: v, MaxVersion: v}).Get(base + "/healthz"); err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("%s: err %v, want the version refused", tls.VersionName(v), err)
		}
	}
	second := ca.Issue(t, "console-2", "127.0.0.1")
	second.Write(t, dir, "console")
	resp, err := client(trust).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.TLS.PeerCertificates[0].Equal(second.Cert) {
		t.Errorf("after rotation the console presents %v, want console-2", resp.TLS.PeerCertificates[0].Subject)
	}
	// The certificates' expiry on /metrics, a rotation shown at the next
	// scrape.
	expiry(t, client(trust), base, map[string]testpki.Pair{"console": second, "kafka_client": kafkaClient})
	kafkaClient2 := ca.IssueValid(t, "kafka-client-2", time.Now().Add(-time.Hour), time.Now().Add(40*24*time.Hour))
	kafkaClient2.Write(t, dir, "kafka-client")
	expiry(t, client(trust), base, map[string]testpki.Pair{"console": second, "kafka_client": kafkaClient2})
	if strings.Contains(logs.String(), kafkaPassword) {
		t.Errorf("the Kafka password in the logs:\n%s", logs)
	}
}

// expiry checks that /metrics on base gives, for each use, the not-after
// time of its certificate in want.
func expiry(t *testing.T, c *http.Client, base string, want map[string]testpki.Pair) {
	t.Helper()
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for use, p := range want {
		prefix := certfiles.ExpiryMetric + `{use="` + use + `"} `
		var got string
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				got = strings.TrimSpace(v)
			}
		}
		if v, err := strconv.ParseFloat(got, 64); err != nil || v != float64(p.Cert.NotAfter.Unix()) {
			t.Errorf("%s%q, want %d", prefix, got, p.Cert.NotAfter.Unix())
		}
	}
}

// TestConsoleKafkaWrongPassword: a password Kafka refuses keeps the
// console unready and says why in the log, without the password, and
// without hanging its start or its stop.
func TestConsoleKafkaWrongPassword(t *testing.T) {
	broker, kafkaSec := secureKafka(t, "w.")
	robot := newDingTalk(t)
	cfg := consoleConfig(storetest.DSN(t, storetest.Dialects[0]), []string{broker}, "w.", robot)
	cfg.Kafka.Security = kafkaSec
	const wrong = "not-the-console-password"
	addr, logs := serveOn(t, cfg, envWith(wrong))
	want := `the brokers refused the credentials of Kafka user \"console\" (SASL SCRAM-SHA-512): check sasl.username and the password in XJ_KAFKA_PASSWORD`
	waitFor(t, "the refusal logged", func() bool { return strings.Contains(logs.String(), want) })
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d %v, want 503", resp.StatusCode, body)
	}
	if s := logs.String(); strings.Contains(s, wrong) || strings.Contains(s, kafkaPassword) {
		t.Errorf("a password in the logs:\n%s", s)
	}
}
