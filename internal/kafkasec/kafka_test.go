//go:build kafka

package kafkasec_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
	"github.com/xunjian/xunjian/internal/kafkasec"
)

// These run against the SASL_SSL listener of scripts/kafka.sh's broker
// (KAFKA_SCRAM_BROKERS and the rest; scripts/test.sh exports them).

// TestKafkaMechanisms: each mechanism, over TLS verified with the script's
// CA, produces to and reads back from the real broker, through the
// Transport (a kafka.Client) and the Dialer (a kafka.Reader).
func TestKafkaMechanisms(t *testing.T) {
	sec := kafkatest.SecureBrokers(t)
	topic := kafkatest.Topic(t, kafkatest.Brokers(t)[0], "xunjian-kafkasec", 1)
	for _, mech := range []string{kafkasec.SCRAMSHA512, kafkasec.SCRAMSHA256, kafkasec.Plain} {
		t.Run(mech, func(t *testing.T) {
			cl := sec.Client(t, mech)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := cl.Check(ctx, sec.Brokers, "xunjian-test"); err != nil {
				t.Fatal(err)
			}
			tr := cl.Transport("xunjian-test")
			defer tr.CloseIdleConnections()
			w := &kafka.Writer{Addr: kafka.TCP(sec.Brokers...), Topic: topic, Transport: tr, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
			value := fmt.Sprintf("over %s %d", mech, time.Now().UnixNano())
			if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(value)}); err != nil {
				t.Fatalf("produce: %v", cl.Explain(err))
			}
			w.Close()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: sec.Brokers, Topic: topic, Partition: 0, Dialer: cl.Dialer("xunjian-test", 0), MaxWait: 200 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("read: %v", cl.Explain(err))
				}
				if string(m.Value) == value {
					return
				}
			}
		})
	}
}

// TestKafkaWrongPassword: the real broker refuses a wrong password at
// once, through the Dialer and the Transport, and the error names the user
// and the variable, never a password.
func TestKafkaWrongPassword(t *testing.T) {
	sec := kafkatest.SecureBrokers(t)
	const wrong = "wrong-password-0123456789"
	for _, mech := range []string{kafkasec.SCRAMSHA512, kafkasec.SCRAMSHA256, kafkasec.Plain} {
		cl, err := sec.Config(mech, "XJ_KAFKA_PW").Open("kafka", func(string) string { return wrong })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		start := time.Now()
		checkErr := cl.Check(ctx, sec.Brokers, "xunjian-test")
		tr := cl.Transport("xunjian-test")
		_, mdErr := (&kafka.Client{Addr: kafka.TCP(sec.Brokers...), Transport: tr}).Metadata(ctx, &kafka.MetadataRequest{})
		tr.CloseIdleConnections()
		cancel()
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: failing took %v", mech, took)
		}
		for _, err := range []error{checkErr, cl.Explain(mdErr)} {
			want := fmt.Sprintf("refused the credentials of Kafka user %q (SASL %s): check sasl.username and the password in XJ_KAFKA_PW", sec.User, mech)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want one containing %q", mech, err, want)
			}
			if err != nil && (strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), sec.Password)) {
				t.Errorf("%s: the error quotes a password: %v", mech, err)
			}
		}
	}
}
