// Package embedded runs the in-process Kafka-protocol broker that
// `xunjian serve` starts when no brokers are configured, so a new user sees
// events flow (with any Kafka client, or `xunjian tail`) without installing
// Kafka.
//
// It is franz-go's kfake: one broker, in memory, on a loopback address.
// Everything is lost when the process ends, and retention bounds memory
// (by default 8 MiB and one hour per partition, enforced every few
// seconds): what it keeps lives on the heap of the process that runs it,
// so a gateway running it pays for it in garbage collection. It is for
// development and demos; production configures real brokers.
package embedded

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Defaults of Options.
const (
	DefaultPartitions     = 3
	DefaultRetentionBytes = 8 << 20
	DefaultRetention      = time.Hour
	retentionEvery        = 5 * time.Second
)

// Options configures the broker. The zero value of each field means its
// default.
type Options struct {
	// Addr is the listen address; it must be a loopback host:port (port 0
	// picks a free one). Required.
	Addr string
	// Topics are created at start with Partitions partitions each (other
	// topics are created on first use).
	Topics     []string
	Partitions int
	// RetentionBytes and Retention bound what each partition keeps.
	RetentionBytes int64
	Retention      time.Duration
}

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Start listens on opts.Addr and serves the Kafka protocol until Close.
func Start(opts Options) (*Broker, error) {
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker %q: %w", opts.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("embedded broker %q: listens on loopback only", opts.Addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("embedded broker %q: bad port", opts.Addr)
	}
	if opts.Partitions <= 0 {
		opts.Partitions = DefaultPartitions
	}
	if opts.RetentionBytes <= 0 {
		opts.RetentionBytes = DefaultRetentionBytes
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(p),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(opts.Partitions),
		kfake.BrokerConfigs(map[string]string{
			"log.retention.bytes": strconv.FormatInt(opts.RetentionBytes, 10),
			"log.retention.ms":    strconv.FormatInt(opts.Retention.Milliseconds(), 10),
		}),
	}
	if len(opts.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(opts.Partitions), opts.Topics...))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded broker %s: %w", opts.Addr, err)
	}
	b := &Broker{c: c, addr: c.ListenAddrs()[0], stop: make(chan struct{})}
	b.wg.Add(1)
	go b.retain()
	return b, nil
}

// retain applies retention periodically: kfake only enforces it on demand.
func (b *Broker) retain() {
	defer b.wg.Done()
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.c.ApplyRetention()
		}
	}
}

// Addr is the address the broker listens on (host:port).
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker; its data is gone. It is idempotent.
func (b *Broker) Close() {
	b.once.Do(func() {
		close(b.stop)
		b.wg.Wait()
		b.c.Close()
	})
}
