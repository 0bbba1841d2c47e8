// Package kafkatest holds the integration test that proves the real Kafka
// broker started by scripts/kafka.sh works with the gateway's Kafka client,
// github.com/segmentio/kafka-go: a topic is created, 1000 keyed messages are
// produced with acks=all and the hash balancer, and a consumer-group reader
// gets every one back with per-key order kept (the ordering the event stream
// relies on: one conversation's events on one partition, in order).
//
// The secure-transport tests run a gateway that ships to the broker's
// SASL_SSL listener (TLS verified with the script's CA, SCRAM-SHA-512) and
// read its events back through it, and check that a wrong password is
// reported in /readyz and the log, never shown.
//
// The tests are behind the build tag "kafka" and need KAFKA_BROKERS
// (comma-separated host:port list) and, for the secure ones,
// KAFKA_SCRAM_BROKERS, KAFKA_SCRAM_USER, KAFKA_SCRAM_PASSWORD and
// KAFKA_CA_FILE (and KAFKA_CA_KEY_FILE, with which internal/kafkasec's
// test issues client certificates), which `scripts/kafka.sh env` prints:
//
//	scripts/kafka.sh start
//	set -a && eval "$(scripts/kafka.sh env)" && set +a
//	go test -tags kafka -count=1 ./gateway/stream/kafkatest/
//	scripts/kafka.sh stop
//
// Without the tag the package has no code, only this comment.
package kafkatest
