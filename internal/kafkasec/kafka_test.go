//go:build kafka

package kafkasec_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/testpki"
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

// TestKafkaClientCertificate: the real broker's SASL_SSL listener requests
// a client certificate (ssl.client.auth=requested, its truststore the
// script's CA): a certificate that CA signed is accepted; rotated to one
// another CA signed, the next connection presents it and the broker
// refuses it; rotated back to a good one, the next connection is accepted,
// all without reopening the Client.
func TestKafkaClientCertificate(t *testing.T) {
	sec := kafkatest.SecureBrokers(t)
	keyFile := os.Getenv("KAFKA_CA_KEY_FILE")
	if keyFile == "" {
		t.Fatal("KAFKA_CA_KEY_FILE is not set: export scripts/kafka.sh env of a broker started by this version of the script")
	}
	ca := testpki.LoadCA(t, sec.CAFile, keyFile)
	dir := t.TempDir()
	certFile, clientKey := ca.Issue(t, "xunjian-client-1").Write(t, dir, "client")
	cfg := sec.Config(kafkasec.SCRAMSHA512, "KAFKA_SCRAM_PASSWORD")
	cfg.TLS.CertFile, cfg.TLS.KeyFile = certFile, clientKey
	cl, err := cfg.Open("kafka", func(string) string { return sec.Password })
	if err != nil {
		t.Fatal(err)
	}
	check := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		return cl.Check(ctx, sec.Brokers, "xunjian-test")
	}
	if err := check(); err != nil {
		t.Fatalf("a client certificate the broker's CA signed: %v", err)
	}
	testpki.NewCA(t, "stray CA").Issue(t, "stray").Write(t, dir, "client")
	if err := check(); err == nil || !strings.Contains(err.Error(), "the broker refused the client certificate") {
		t.Fatalf("a client certificate from another CA: %v, want the broker to refuse it (was the rotated certificate presented?)", err)
	}
	second := ca.Issue(t, "xunjian-client-2")
	second.Write(t, dir, "client")
	if err := check(); err != nil || !cl.Certificate().Equal(second.Cert) {
		t.Fatalf("rotated back to a good certificate: %v", err)
	}
}
