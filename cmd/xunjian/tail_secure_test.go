package main

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/tail"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/testpki"
	"github.com/xunjian/xunjian/rules"
)

// TestTailSecurityUsage: the --tls… and --sasl… flags are checked before
// anything connects, each mistake named.
func TestTailSecurityUsage(t *testing.T) {
	t.Setenv("XUNJIAN_KAFKA_BROKERS", "")
	t.Setenv("XUNJIAN_KAFKA_PASSWORD", "")
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no user", []string{"--sasl-mechanism", "SCRAM-SHA-512"}, true, "kafka.sasl.username: missing"},
		{"unknown mechanism", []string{"--sasl-mechanism", "OAUTHBEARER", "--sasl-username", "u"}, true, "kafka.sasl.mechanism"},
		{"plain in clear", []string{"--sasl-mechanism", "PLAIN", "--sasl-username", "u"}, true, "PLAIN sends the password in clear"},
		{"user without mechanism", []string{"--sasl-username", "u"}, true, "kafka.sasl.mechanism: missing"},
		{"cert without key", []string{"--tls-cert-file", "c.pem"}, true, "kafka.tls.cert_file"},
		{"password unset", []string{"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "u"}, false, "environment variable XUNJIAN_KAFKA_PASSWORD is empty"},
		{"CA missing", []string{"--tls-ca-file", "/nonexistent/ca.pem"}, false, "kafka.tls.ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, "", append([]string{"tail", "alerts", "--brokers", "127.0.0.1:1"}, tc.args...)...)
			if err == nil || errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (usage %v), want one containing %q (usage %v)", err, errors.Is(err, errUsage), tc.want, tc.usage)
			}
		})
	}
}

// TestTailSecureKfake: tail reads over TLS with SCRAM from a kfake broker
// that requires both; a wrong password fails at once, saying so, without
// the password.
func TestTailSecureKfake(t *testing.T) {
	const password = "tail-s3cret"
	ca := testpki.NewCA(t, "kafka CA")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "xunjian.alerts"),
		kfake.EnableSASL(), kfake.Superuser(kafkasec.SCRAMSHA256, "ops", password),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "broker", "127.0.0.1").TLS(t)}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	broker := c.ListenAddrs()[0]
	caFile := ca.WriteCA(t, t.TempDir(), "ca.pem")
	sec := kafkasec.Config{TLS: kafkasec.TLS{Enabled: true, CAFile: caFile}, SASL: kafkasec.SASL{Mechanism: kafkasec.SCRAMSHA256, Username: "ops", PasswordEnv: "PW"}}
	cl, err := sec.Open("kafka", func(string) string { return password })
	if err != nil {
		t.Fatal(err)
	}
	e, err := stream.NewEvent(stream.EventInput{
		TS: time.Date(2026, 11, 23, 12, 3, 28, 0, time.UTC), Tenant: "acme", ConversationID: "conv-secure", AgentID: "a7",
		Role: "agent", Verdict: &inspect.Verdict{DecisionID: "0194f0a2-0000-7000-8000-000000000001", Action: rules.Warn},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	value, err := e.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := cl.Transport("xunjian-test")
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: "xunjian.alerts", Transport: tr, BatchTimeout: time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("conv-secure"), Value: value, Headers: []kafka.Header{{Key: "schema", Value: []byte(event.SchemaID)}}}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	args := []string{"tail", "alerts", "--brokers", broker, "--from-beginning", "--max", "1", "--json",
		"--tls-ca-file", caFile, "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "ops", "--sasl-password-env", "XJ_TAIL_PW"}
	t.Setenv("XJ_TAIL_PW", password)
	out, _, err := runCLI(t, "", args...)
	if err != nil || out != string(value)+"\n" {
		t.Fatalf("tail over SASL_SSL: %v, output %q", err, out)
	}

	const wrong = "not-the-tail-password"
	t.Setenv("XJ_TAIL_PW", wrong)
	start := time.Now()
	_, errOut, err := runCLI(t, "", args...)
	if err == nil || !strings.Contains(err.Error(), `refused the credentials of Kafka user "ops" (SASL SCRAM-SHA-256): check sasl.username and the password in XJ_TAIL_PW`) {
		t.Fatalf("wrong password: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("failing took %v", time.Since(start))
	}
	if s := err.Error() + errOut; strings.Contains(s, wrong) || strings.Contains(s, password) {
		t.Errorf("a password in the error or on stderr: %s", s)
	}
	if errors.Is(err, tail.ErrNoTopic) || errors.Is(err, errUsage) {
		t.Errorf("wrong password: %v is not a missing topic or a usage error", err)
	}
}
