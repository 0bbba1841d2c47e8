// Package kafkatest holds the integration test that proves the real Kafka
// broker started by scripts/kafka.sh works with the gateway's Kafka client,
// github.com/segmentio/kafka-go: a topic is created, 1000 keyed messages are
// produced with acks=all and the hash balancer, and a consumer-group reader
// gets every one back with per-key order kept (the ordering the event stream
// relies on: one conversation's events on one partition, in order).
//
// The test is behind the build tag "kafka" and needs KAFKA_BROKERS
// (comma-separated host:port list); without it the test skips:
//
//	scripts/kafka.sh start
//	KAFKA_BROKERS=127.0.0.1:9092 go test -tags kafka -count=1 ./gateway/stream/kafkatest/
//	scripts/kafka.sh stop
//
// Without the tag the package has no code, only this comment.
package kafkatest
