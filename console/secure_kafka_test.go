//go:build kafka

package console

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/console/store/storetest"
	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
	"github.com/xunjian/xunjian/internal/kafkasec"
)

// These run against the SASL_SSL listener of scripts/kafka.sh's broker
// (KAFKA_SCRAM_BROKERS and the rest; scripts/test.sh exports them).

// TestConsoleKafkaSASLSSL: the console's consumer reads the gateway's
// topics through the real broker's SASL_SSL listener (SCRAM-SHA-256, TLS
// verified with the script's CA): alerts published there reach the chat
// channel and the API.
func TestConsoleKafkaSASLSSL(t *testing.T) {
	sec := kafkatest.SecureBrokers(t)
	plain := kafkatest.Brokers(t)[0]
	robot := newDingTalk(t)
	cfg := consoleConfig(storetest.DSN(t, storetest.Dialects[0]), sec.Brokers, fmt.Sprintf("sasl-%d-", time.Now().UnixNano()), robot)
	// The topics through the PLAINTEXT listener: the same cluster.
	cfg.Kafka.Topics.Alerts = kafkatest.Topic(t, plain, "console-sasl-alerts", 3)
	cfg.Kafka.Topics.Findings = kafkatest.Topic(t, plain, "console-sasl-findings", 3)
	cfg.Kafka.Topics.Samples = kafkatest.Topic(t, plain, "console-sasl-samples", 3)
	cfg.Kafka.Security = sec.Config(kafkasec.SCRAMSHA256, "XJ_KAFKA_PASSWORD")
	addr, logs := serveOn(t, cfg, envWith(sec.Password))
	waitFor(t, "the console ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	cl := sec.Client(t, kafkasec.SCRAMSHA512) // the gateway's side: another mechanism, same user
	tr := cl.Transport("xunjian-test")
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(sec.Brokers...), Topic: cfg.Kafka.Topics.Alerts, Transport: tr, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
	var ids []string
	var msgs []kafka.Message
	for i := range 5 {
		id, v := alertEvent(t, fmt.Sprintf("conv-sasl-%d", i))
		ids = append(ids, id)
		msgs = append(msgs, kafka.Message{Key: []byte(id), Value: v})
	}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatalf("produce over SASL_SSL: %v", cl.Explain(err))
	}
	w.Close()
	waitFor(t, "5 alerts posted", func() bool { return len(robot.events()) >= 5 })
	resp, err := http.Get("http://" + addr + "/api/alerts?limit=50")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, id := range ids {
		if !strings.Contains(string(body), id) {
			t.Errorf("alert %s not listed", id)
		}
	}
	if strings.Contains(logs.String(), sec.Password) {
		t.Errorf("the Kafka password in the logs:\n%s", logs)
	}
}

// TestConsoleKafkaWrongPasswordReal: the real broker refuses a wrong
// password; the console stays unready, and its log says why without the
// password.
func TestConsoleKafkaWrongPasswordReal(t *testing.T) {
	sec := kafkatest.SecureBrokers(t)
	cfg := consoleConfig(storetest.DSN(t, storetest.Dialects[0]), sec.Brokers, fmt.Sprintf("sasl-wrong-%d-", time.Now().UnixNano()), newDingTalk(t))
	cfg.Kafka.Security = sec.Config(kafkasec.SCRAMSHA512, "XJ_KAFKA_PASSWORD")
	const wrong = "wrong-console-password"
	addr, logs := serveOn(t, cfg, envWith(wrong))
	waitFor(t, "the refusal logged", func() bool {
		return strings.Contains(logs.String(), `the brokers refused the credentials of Kafka user \"`+sec.User+`\" (SASL SCRAM-SHA-512)`)
	})
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d, want 503", resp.StatusCode)
	}
	if s := logs.String(); strings.Contains(s, wrong) || strings.Contains(s, sec.Password) {
		t.Errorf("a password in the logs:\n%s", s)
	}
}
