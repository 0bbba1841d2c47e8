package shipper

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xunjian/xunjian/gateway/stream/spool"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/testpki"
)

const scramPassword = "shipper-s3cret-password"

// secureFake is a kfake broker with TLS (a test CA's certificate for
// 127.0.0.1) and one SCRAM-SHA-512 user, xunjian; it returns the broker
// and the client configuration that reaches it, the password read from
// XJ_KAFKA_PASSWORD.
func secureFake(t *testing.T, topics ...string) (broker string, cfg kafkasec.Config) {
	t.Helper()
	ca := testpki.NewCA(t, "kafka CA")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...),
		kfake.EnableSASL(), kfake.Superuser(kafkasec.SCRAMSHA512, "xunjian", scramPassword),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "broker", "127.0.0.1").TLS(t)}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0], kafkasec.Config{
		TLS:  kafkasec.TLS{Enabled: true, CAFile: ca.WriteCA(t, t.TempDir(), "ca.pem")},
		SASL: kafkasec.SASL{Mechanism: kafkasec.SCRAMSHA512, Username: "xunjian", PasswordEnv: "XJ_KAFKA_PASSWORD"},
	}
}

func openClient(t *testing.T, cfg kafkasec.Config, password string) *kafkasec.Client {
	t.Helper()
	cl, err := cfg.Open("stream", func(string) string { return password })
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestShipSecureKfake: with Options.Kafka the shipper produces over TLS
// with SCRAM, and a consumer with the same settings reads every event.
func TestShipSecureKfake(t *testing.T) {
	broker, cfg := secureFake(t, "findings")
	cl := openClient(t, cfg, scramPassword)
	sp := openSpool(t)
	appendEvents(t, sp, "s", 300, 10, map[string]int{})
	s, err := New(sp, Options{Brokers: []string{broker}, Topic: func(spool.Record) []string { return []string{"findings"} },
		Headers: tenantHeaders, Logger: quietLogger(), Kafka: cl})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := startRun(s)
	waitDrained(t, sp, 20*time.Second)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	var msgs []got
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for p := range 3 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: "findings", Partition: p,
			Dialer: cl.Dialer("xunjian-test", 0), MaxWait: 100 * time.Millisecond})
		defer r.Close()
		lag, err := r.ReadLag(ctx)
		if err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
		for range lag {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d: %v", p, err)
			}
			g := got{topic: m.Topic, key: string(m.Key), partition: m.Partition, headers: map[string]string{}}
			json.Unmarshal(m.Value, &g.ev)
			for _, h := range m.Headers {
				g.headers[h.Key] = string(h.Value)
			}
			msgs = append(msgs, g)
		}
	}
	checkDelivery(t, msgs, 300, "s")
}

// TestWrongPasswordKfake: a refused password makes the brokers
// unreachable in Status, saying why, and the events wait in the spool;
// neither the status nor the logs hold the password.
func TestWrongPasswordKfake(t *testing.T) {
	broker, cfg := secureFake(t, "findings")
	const wrong = "not-the-shipper-password"
	sp := openSpool(t)
	appendEvents(t, sp, "w", 10, 2, map[string]int{})
	logs := &lockedBuf{}
	s, err := New(sp, Options{Brokers: []string{broker}, Topic: func(spool.Record) []string { return []string{"findings"} },
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Kafka: openClient(t, cfg, wrong), ProbeInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := startRun(s)
	st := waitStatus(t, s, false, 10*time.Second)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(st.Error, `refused the credentials of Kafka user "xunjian" (SASL SCRAM-SHA-512): check sasl.username and the password in XJ_KAFKA_PASSWORD`) {
		t.Errorf("status error %q does not say the password was refused", st.Error)
	}
	if n := sp.Stats().Records; n != 10 {
		t.Errorf("spool holds %d events, want the 10 appended", n)
	}
	logs.mu.Lock()
	all := logs.b.String()
	logs.mu.Unlock()
	for _, pw := range []string{wrong, scramPassword} {
		if strings.Contains(st.Error, pw) || strings.Contains(all, pw) {
			t.Errorf("a password in the status or the logs:\n%s\n%s", st.Error, all)
		}
	}
	if !strings.Contains(all, "refused the credentials") {
		t.Errorf("the logs do not say why:\n%s", all)
	}
}
