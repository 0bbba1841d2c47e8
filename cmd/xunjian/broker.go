package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
)

// runBroker runs the built-in Kafka-protocol broker on its own, for
// development: several gateways on one machine can share it, and it keeps
// its memory out of the gateways' heaps.
func runBroker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9092", "loopback address to listen on")
	partitions := fs.Int("partitions", embedded.DefaultPartitions, "partitions of the topics it creates")
	retention := fs.Int64("retention-bytes", embedded.DefaultRetentionBytes, "bytes kept per partition")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 || *partitions <= 0 || *retention <= 0 {
		return fmt.Errorf("%w: xunjian broker [--listen 127.0.0.1:9092] [--partitions N] [--retention-bytes N]", errUsage)
	}
	// The topics a gateway with the default configuration uses.
	var defaults config.Config
	defaults.Defaults()
	t := defaults.Stream.Topics
	b, err := embedded.Start(embedded.Options{
		Addr: *listen, Partitions: *partitions, RetentionBytes: *retention,
		Topics: []string{t.Findings, t.Alerts, t.Samples},
	})
	if err != nil {
		return err
	}
	defer b.Close()
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	log.Warn("built-in Kafka-protocol broker: in memory, for development; point gateways at it with stream.brokers",
		slog.String("broker", b.Addr()))
	<-ctx.Done()
	return nil
}
