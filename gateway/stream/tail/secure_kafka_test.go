//go:build kafka

package tail

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/testproc"
)

// TestTailKafkaSASLSSL reads over the real broker's SASL_SSL listener
// (TLS verified with the script's CA, SCRAM-SHA-512), without and with a
// group, what was produced on its PLAINTEXT listener: the same cluster.
func TestTailKafkaSASLSSL(t *testing.T) {
	sec := kafkatest.SecureBrokers(t)
	addrs := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, addrs[0], "xunjian-tail-sasl", 3)
	per := realProduce(t, addrs, topic, "sasl", 3, 4)
	cl := sec.Client(t, kafkasec.SCRAMSHA512)
	for _, group := range []string{"", fmt.Sprintf("xunjian-tail-sasl-%d", time.Now().UnixNano())} {
		out := runMax(t, Options{Brokers: sec.Brokers, Topic: topic, Group: group, FromBeginning: true, Max: 12, JSON: true,
			Dialer: cl.Dialer("xunjian-tail", DefaultDialTimeout)})
		checkOrder(t, out, per, jsonNeedle(t))
	}
}

// TestTailKafkaWrongPassword: a refused password ends Run at once with an
// error that, explained, says so, and holds no password.
func TestTailKafkaWrongPassword(t *testing.T) {
	sec := kafkatest.SecureBrokers(t)
	const wrong = "wrong-tail-password"
	cl, err := sec.Config(kafkasec.SCRAMSHA512, "XJ_TAIL_PW").Open("kafka", func(string) string { return wrong })
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut testproc.Buffer
	tl, err := New(Options{Brokers: sec.Brokers, Topic: "xunjian.alerts", Out: &out, Err: &errOut, Dialer: cl.Dialer("xunjian-tail", DefaultDialTimeout)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = cl.Explain(tl.Run(ctx))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("failing took %v", took)
	}
	if err == nil || !strings.Contains(err.Error(), `refused the credentials of Kafka user "`+sec.User+`" (SASL SCRAM-SHA-512)`) {
		t.Fatalf("err = %v, want the refused credentials", err)
	}
	if s := err.Error() + errOut.String(); strings.Contains(s, wrong) || strings.Contains(s, sec.Password) {
		t.Errorf("a password in the error or the warnings: %s", s)
	}
}
