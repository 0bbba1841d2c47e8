//go:build kafka

// Package kafkatest holds what the tests against a real Kafka broker share
// (build tag kafka; scripts/test.sh starts the broker and sets
// KAFKA_BROKERS), and, in its own tests, the end-to-end tests of the
// gateway's event stream.
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/internal/kafkasec"
)

// Brokers returns the brokers in KAFKA_BROKERS. The kafka build tag is the
// opt-in to a real broker, so without one the test fails rather than skips.
func Brokers(t testing.TB) []string {
	t.Helper()
	env := strings.TrimSpace(os.Getenv("KAFKA_BROKERS"))
	if env == "" {
		t.Fatal("KAFKA_BROKERS is not set: the kafka build tag needs a broker (scripts/kafka.sh start, then KAFKA_BROKERS=127.0.0.1:9092; scripts/test.sh does both)")
	}
	var out []string
	for _, b := range strings.Split(env, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Secure is the broker's SASL_SSL listener, as scripts/kafka.sh env
// describes it: TLS with a certificate from the script's CA, SASL users
// for SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN.
type Secure struct {
	// Brokers are the listener's addresses (KAFKA_SCRAM_BROKERS).
	Brokers []string
	// User and Password are the SASL user's (KAFKA_SCRAM_USER,
	// KAFKA_SCRAM_PASSWORD).
	User, Password string
	// CAFile is the PEM file of the CA that signed the broker's
	// certificate (KAFKA_CA_FILE).
	CAFile string
}

// SecureBrokers returns the SASL_SSL listener from the environment
// scripts/test.sh exports. Like Brokers, it fails rather than skips
// without one.
func SecureBrokers(t testing.TB) Secure {
	t.Helper()
	s := Secure{User: os.Getenv("KAFKA_SCRAM_USER"), Password: os.Getenv("KAFKA_SCRAM_PASSWORD"), CAFile: os.Getenv("KAFKA_CA_FILE")}
	for _, b := range strings.Split(os.Getenv("KAFKA_SCRAM_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.Brokers = append(s.Brokers, b)
		}
	}
	if len(s.Brokers) == 0 || s.User == "" || s.Password == "" || s.CAFile == "" {
		t.Fatal("KAFKA_SCRAM_BROKERS, KAFKA_SCRAM_USER, KAFKA_SCRAM_PASSWORD or KAFKA_CA_FILE is not set: the secure-transport tests need the broker's SASL_SSL listener (set -a; eval \"$(scripts/kafka.sh env)\"; set +a after scripts/kafka.sh start; scripts/test.sh does both)")
	}
	return s
}

// Config returns the configuration that reaches the listener with
// mechanism, the password read from the environment variable passwordEnv
// (which the caller sets to s.Password where the client runs).
func (s Secure) Config(mechanism, passwordEnv string) kafkasec.Config {
	return kafkasec.Config{
		TLS:  kafkasec.TLS{Enabled: true, CAFile: s.CAFile},
		SASL: kafkasec.SASL{Mechanism: mechanism, Username: s.User, PasswordEnv: passwordEnv},
	}
}

// Client opens s.Config(mechanism, …) with the right password.
func (s Secure) Client(t testing.TB, mechanism string) *kafkasec.Client {
	t.Helper()
	c, err := s.Config(mechanism, "KAFKA_SCRAM_PASSWORD").Open("kafka", func(k string) string {
		if k == "KAFKA_SCRAM_PASSWORD" {
			return s.Password
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Topic creates a fresh topic named after prefix with partitions
// partitions (replication factor 1) through the controller, waits until
// every partition has a leader, and deletes it when the test ends.
func Topic(t testing.TB, broker, prefix string, partitions int) string {
	t.Helper()
	topic := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	CreateTopic(t, broker, topic, partitions)
	return topic
}

// CreateTopic creates topic as Topic does, under the name given: for a
// test that has something wait for a topic before it exists.
func CreateTopic(t testing.TB, broker, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		t.Fatalf("dial %s: %v", broker, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("find controller: %v", err)
	}
	caddr := net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port))
	cc, err := kafka.DialContext(ctx, "tcp", caddr)
	if err != nil {
		t.Fatalf("dial controller: %v", err)
	}
	defer cc.Close()
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		c, err := kafka.Dial("tcp", caddr)
		if err != nil {
			t.Logf("cleanup: dial controller: %v", err)
			return
		}
		defer c.Close()
		if err := c.DeleteTopics(topic); err != nil {
			t.Logf("cleanup: delete topic %s: %v", topic, err)
		}
	})
	// Metadata reaches the broker shortly after the controller accepts the
	// topic: wait for every partition to have a leader.
	waitLeaders(t, kafka.DefaultDialer, []string{broker}, topic, partitions)
}

// waitLeaders waits (at most 30 s) until topic has partitions (want of
// them; any number when want is 0), each with a leader, as the first
// broker answers through dialer.
func waitLeaders(t testing.TB, dialer *kafka.Dialer, brokers []string, topic string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var parts []kafka.Partition
		conn, err := dialer.DialContext(ctx, "tcp", brokers[0])
		if err == nil {
			parts, err = conn.ReadPartitions(topic)
			conn.Close()
		}
		ready := err == nil && len(parts) > 0 && (want == 0 || len(parts) == want)
		for _, p := range parts {
			ready = ready && p.Leader.ID >= 0 && p.Leader.Host != ""
		}
		if ready {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s not ready on %v (partitions %d, last error %v): %v", topic, brokers, len(parts), err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Reader returns a reader of every partition of topic from its first
// offset, in a consumer group of its own, through dialer (nil: plaintext).
// It first waits (at most 30 s) until the topic exists and each of its
// partitions has a leader, and the reader watches for new partitions: a
// group that joins while the topic is still being created is otherwise
// assigned no partition and waits forever, which a loaded machine shows
// as a test that reads nothing. The reader is closed when the test ends.
func Reader(t testing.TB, dialer *kafka.Dialer, brokers []string, topic string) *kafka.Reader {
	t.Helper()
	if dialer == nil {
		dialer = kafka.DefaultDialer
	}
	waitLeaders(t, dialer, brokers, topic, 0)
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, GroupID: fmt.Sprintf("%s-check-%d", topic, time.Now().UnixNano()), Dialer: dialer,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond,
		WatchPartitionChanges: true, PartitionWatchInterval: 500 * time.Millisecond,
	})
	t.Cleanup(func() { r.Close() })
	return r
}
