// Package shipper drains a spool to Kafka: it reads records in append order,
// produces each one (key = conversation id, value = event JSON) to the topics
// chosen by the caller, and acknowledges to the spool only what Kafka
// acknowledged with acks from all in-sync replicas.
//
// Delivery is at-least-once. A failed write is never skipped: the spool is
// rewound to the first unacknowledged record and the whole batch is sent
// again after an exponential back-off (capped at MaxBackoff), so a consumer
// may see a record more than once (it dedups on event_id) but never misses
// one. Per-conversation order is kept by the hash balancer (one key, one
// partition), by sending one batch at a time, and by sending each batch as
// one produce request per partition: a partition's records of a batch
// succeed or fail together, so a retry can only repeat them after
// themselves, never put a later record before an earlier one.
//
// The shipper produces with kafka-go's Client (the protocol client under
// kafka.Writer) rather than the Writer itself: the Writer allocates a
// slice of BatchSize messages for every partition batch it opens, however
// few it holds, which under live traffic (a few records per partition per
// batch) was 44% of the gateway's allocations under load.
//
// Reachability. The shipper tracks whether the brokers answer (Reachable,
// Status): a batch Kafka acknowledged says they do; while Run is active (or
// Watch), a probe (a connection and an ApiVersions round trip to each
// bootstrap broker in turn, bounded by ProbeTimeout and the context) runs
// every ProbeInterval when no batch has been acknowledged since the last
// one, and at once after a failed batch, so an idle shipper notices a dead
// broker too, within ProbeInterval+ProbeTimeout (5 s by default). The state
// changes are logged once each: one line when the brokers stop answering,
// one when they answer again; never one per retry.
//
// Security. With Options.Kafka every connection (produce, metadata,
// probes) uses its TLS and SASL (internal/kafkasec), and a failure the
// security settings explain (a refused password, an unknown CA) says so in
// Status and the logs, never with the password.
//
// Logs carry offsets, counts and error kinds, never keys or values.
package shipper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/spool"
	"github.com/xunjian/xunjian/internal/kafkasec"
)

// Defaults for zero Options fields, and the retry schedule.
const (
	// DefaultBatchSize is the number of spool records read and sent per
	// batch when Options.BatchSize is zero.
	DefaultBatchSize = 500
	// DefaultBatchTimeout is how long a batch may wait to fill up before
	// it is sent when Options.BatchTimeout is zero.
	DefaultBatchTimeout = 10 * time.Millisecond
	// MinBackoff is the first wait after a failed batch; each further
	// consecutive failure doubles it up to MaxBackoff.
	MinBackoff = 50 * time.Millisecond
	// MaxBackoff caps the wait between retries of a failed batch.
	MaxBackoff = 2 * time.Second
	// requestTimeout bounds one produce or metadata request.
	requestTimeout = 10 * time.Second
	// partitionAttempts is how many times a batch's failed partitions are
	// tried before the whole batch fails (and is rewound and resent).
	partitionAttempts = 4
	// DefaultProbeInterval is how often the brokers are probed when
	// Options.ProbeInterval is zero.
	DefaultProbeInterval = 2 * time.Second
	// ProbeTimeout bounds one probe of all the bootstrap brokers.
	ProbeTimeout = 3 * time.Second
	// ClientID is the client id the shipper gives Kafka.
	ClientID = "xunjian-gateway"
)

// Sentinel errors, for errors.Is.
var (
	// ErrClosed is returned by Run when the Shipper is (or gets) closed.
	ErrClosed = errors.New("shipper: closed")
	// ErrRunning is returned by Run when another Run is already active.
	ErrRunning = errors.New("shipper: already running")
)

// Options configures a Shipper. Brokers and Topic are required; every other
// zero field means the documented default.
type Options struct {
	// Brokers is the list of bootstrap brokers (host:port); required.
	Brokers []string
	// Topic returns the topics a record goes to (zero or more; a record
	// routed nowhere is acknowledged without being sent); required. It is
	// called on the shipper goroutine, must not block, and must not keep
	// or modify the record.
	Topic func(spool.Record) []string
	// Headers returns the Kafka headers of a record (e.g. tenant and
	// schema); nil means no headers. The returned slice is shared by all
	// of the record's messages and must not be modified after return. It
	// is called on the shipper goroutine and must not block.
	Headers func(spool.Record) []kafka.Header
	// Key returns the Kafka key of a record, for callers that store more
	// than the key in the spool record's key (e.g. routing bits); nil means
	// the record's key as is. It is called on the shipper goroutine and
	// must not block.
	Key func(spool.Record) []byte
	// BatchSize is the most spool records sent per batch. Zero means
	// DefaultBatchSize (500).
	BatchSize int
	// BatchTimeout is how long a batch waits to fill up to BatchSize
	// before it is sent anyway. Zero means DefaultBatchTimeout (10ms).
	BatchTimeout time.Duration
	// Logger receives failure reports. Nil means slog.Default().
	Logger *slog.Logger
	// ProbeInterval is how often an idle shipper checks that the brokers
	// answer. Zero means DefaultProbeInterval (2s).
	ProbeInterval time.Duration
	// Kafka is how the brokers are reached (TLS, SASL); nil means plain
	// TCP without authentication.
	Kafka *kafkasec.Client
}

// Status is whether the brokers answer, as the shipper last saw them.
type Status struct {
	// Reachable is false from the first failed probe until a probe
	// succeeds or Kafka acknowledges a batch. Before the first contact it
	// is true (nothing has failed yet) and Since is zero.
	Reachable bool
	// Since is when the current state began: the start of the outage
	// while unreachable, the recovery (or first contact) while reachable.
	Since time.Time
	// Error is the last probe failure while unreachable (addresses and
	// error kinds, never message data); empty while reachable.
	Error string
}

// Stats is a snapshot of the shipper's counters.
type Stats struct {
	// Shipped is the number of spool records acknowledged after Kafka
	// acknowledged all of their messages.
	Shipped int64
	// Messages is the number of Kafka messages acknowledged (a record
	// routed to two topics counts twice).
	Messages int64
	// Failures is the number of failed batches (each was retried).
	Failures int64
	// LastError is when the last batch failed; zero if none has.
	LastError time.Time
}

// Shipper drains one spool to Kafka.
//
// Run is meant to be called once, on one goroutine, which then owns the
// spool's reader side (Read, Ack, Rewind); Stats and Close may be called from
// any goroutine. Close is idempotent.
type Shipper struct {
	sp        *spool.Spool
	opts      Options
	log       *slog.Logger
	transport *kafka.Transport
	client    *kafka.Client
	balancer  kafka.Hash
	// partitions caches each topic's partition ids; only Run's goroutine
	// touches it. A failed batch forgets it, so a re-partitioned topic is
	// looked up again.
	partitions map[string][]int
	stop       chan struct{} // closed by Close; ends Run
	once       sync.Once     // guards closing stop and the connections
	runWG      sync.WaitGroup

	// mu guards closed, so runWG.Add never races with Close's Wait.
	mu     sync.Mutex
	closed bool
	busy   atomic.Bool // a Run is active

	shipped   atomic.Int64
	msgCount  atomic.Int64
	failures  atomic.Int64
	lastError atomic.Int64 // unix nanoseconds; 0 if none
	closeErr  error        // set once by Close

	// statusMu guards status; kick asks the watcher for a probe now.
	statusMu sync.Mutex
	status   Status
	lastOK   atomic.Int64 // unix nanoseconds of the last acknowledged batch or probe
	kick     chan struct{}
}

// New validates opts and returns a Shipper for sp. It does not connect: the
// first connection is made by Run. The caller keeps ownership of sp (Close
// does not close it).
func New(sp *spool.Spool, opts Options) (*Shipper, error) {
	switch {
	case sp == nil:
		return nil, errors.New("shipper: nil spool")
	case len(opts.Brokers) == 0:
		return nil, errors.New("shipper: Options.Brokers is required")
	case opts.Topic == nil:
		return nil, errors.New("shipper: Options.Topic is required")
	case opts.BatchSize < 0 || opts.BatchTimeout < 0:
		return nil, errors.New("shipper: negative BatchSize or BatchTimeout")
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.BatchTimeout == 0 {
		opts.BatchTimeout = DefaultBatchTimeout
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	transport := opts.Kafka.Transport(ClientID)
	s := &Shipper{
		sp:         sp,
		opts:       opts,
		log:        log.With(slog.String("component", "shipper")),
		stop:       make(chan struct{}),
		transport:  transport,
		client:     &kafka.Client{Addr: kafka.TCP(opts.Brokers...), Timeout: requestTimeout, Transport: transport},
		partitions: map[string][]int{},
		status:     Status{Reachable: true},
		kick:       make(chan struct{}, 1),
	}
	return s, nil
}

// Run ships records until ctx is done or the Shipper is closed. It returns
// nil when ctx is done, ErrClosed when the Shipper is closed, ErrRunning if
// another Run is active, and a wrapped error if the spool fails (for example
// spool.ErrClosed). Kafka failures do not end Run: they are logged, counted
// in Stats and retried with back-off, without skipping or acknowledging
// anything Kafka did not acknowledge.
func (s *Shipper) Run(ctx context.Context) error {
	if !s.busy.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.busy.Store(false)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.runWG.Add(1)
	s.mu.Unlock()
	defer s.runWG.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var watch sync.WaitGroup
	watch.Go(func() { s.Watch(ctx) })
	defer func() { cancel(); watch.Wait() }()

	var (
		recs    []spool.Record
		more    []spool.Record
		backoff time.Duration
		err     error
		sent    int
	)
	for {
		recs, err = s.sp.Read(ctx, recs[:0], s.opts.BatchSize)
		if err != nil {
			return s.endErr(ctx, fmt.Errorf("shipper: reading spool: %w", err))
		}
		// Let the batch fill for up to BatchTimeout: fewer, larger
		// requests. The spool wakes the shipper once, when the batch is
		// full, not at every event appended meanwhile: on a gateway with
		// one core each wake-up is taken from the drafts.
		if len(recs) < s.opts.BatchSize {
			lctx, cancel := context.WithTimeout(ctx, s.opts.BatchTimeout)
			err = s.sp.Await(lctx, int64(s.opts.BatchSize-len(recs)))
			cancel()
			if errors.Is(err, spool.ErrClosed) {
				return s.endErr(ctx, fmt.Errorf("shipper: reading spool: %w", err))
			}
			// Another error than ErrClosed is the next Read's to report.
			more, err = s.sp.TryRead(more[:0], s.opts.BatchSize-len(recs))
			if errors.Is(err, spool.ErrClosed) {
				return s.endErr(ctx, fmt.Errorf("shipper: reading spool: %w", err))
			}
			recs = append(recs, more...)
		}
		last := recs[len(recs)-1].Offset
		sent, err = s.send(ctx, recs)
		if err == nil {
			if err = s.sp.Ack(last); err == nil {
				s.shipped.Add(int64(len(recs)))
				s.msgCount.Add(int64(sent))
				s.setStatus(nil)
				backoff = 0
				continue
			}
			if errors.Is(err, spool.ErrClosed) {
				return s.endErr(ctx, fmt.Errorf("shipper: acking spool: %w", err))
			}
			err = fmt.Errorf("ack: %w", err)
		}
		if ctx.Err() != nil {
			// Cancelled mid-write: what Kafka got is unknown, so nothing
			// was acknowledged; the next Run (or Open) resends it.
			s.sp.Rewind()
			return s.endErr(ctx, nil)
		}
		s.failures.Add(1)
		s.lastError.Store(time.Now().UnixNano())
		select { // let the watcher tell a dead broker from a refusal
		case s.kick <- struct{}{}:
		default:
		}
		backoff = min(max(2*backoff, MinBackoff), MaxBackoff)
		s.log.LogAttrs(ctx, slog.LevelWarn, "batch failed; rewinding and retrying",
			slog.Int("records", len(recs)),
			slog.Uint64("first_offset", uint64(recs[0].Offset)),
			slog.Uint64("last_offset", uint64(last)),
			slog.Duration("backoff", backoff),
			slog.String("error", s.opts.Kafka.Explain(err).Error()))
		s.sp.Rewind()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.endErr(ctx, nil)
		case <-t.C:
		}
	}
}

// endErr maps the end of Run: ErrClosed if Close was called, nil if ctx is
// done, else err.
func (s *Shipper) endErr(ctx context.Context, err error) error {
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// partition is one topic partition of a batch.
type partition struct {
	topic string
	id    int
}

// message is one record bound for one partition.
type message struct {
	key, value []byte
	headers    []kafka.Header
}

// send produces recs, each to the topics Options.Topic names, as one
// request per topic partition (sent concurrently), and returns how many
// messages Kafka acknowledged with acks from all in-sync replicas. Any
// failure fails the whole batch.
func (s *Shipper) send(ctx context.Context, recs []spool.Record) (int, error) {
	groups := map[partition][]message{}
	var order []partition // deterministic request order, for logs and tests
	n := 0
	for _, r := range recs {
		topics := s.opts.Topic(r)
		if len(topics) == 0 {
			continue
		}
		key := r.Key
		if s.opts.Key != nil {
			key = s.opts.Key(r)
		}
		var h []kafka.Header
		if s.opts.Headers != nil {
			h = s.opts.Headers(r)
		}
		for _, t := range topics {
			ids, err := s.topicPartitions(ctx, t)
			if err != nil {
				return 0, err
			}
			p := partition{t, s.balancer.Balance(kafka.Message{Key: key}, ids...)}
			if _, ok := groups[p]; !ok {
				order = append(order, p)
			}
			groups[p] = append(groups[p], message{key: key, value: r.Value, headers: h})
			n++
		}
	}
	// A partition that failed is retried alone (its records after
	// themselves, in order), a few times, before the batch fails: a leader
	// election must not duplicate what the other partitions took.
	pending := order
	for attempt := 1; ; attempt++ {
		failed, err := s.produce(ctx, pending, groups)
		if err == nil {
			return n, nil
		}
		if attempt == partitionAttempts || ctx.Err() != nil {
			clear(s.partitions) // leaders or partitions may have moved
			return 0, err
		}
		t := time.NewTimer(time.Duration(attempt) * MinBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		pending = failed
	}
}

// produce sends each partition's records as one request, concurrently,
// and returns the partitions that failed with their errors joined.
func (s *Shipper) produce(ctx context.Context, parts []partition, groups map[partition][]message) ([]partition, error) {
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Records are readers, consumed by a send: new ones each try.
			msgs := groups[p]
			recs := make([]kafka.Record, len(msgs))
			for j, m := range msgs {
				recs[j] = kafka.Record{Key: kafka.NewBytes(m.key), Value: kafka.NewBytes(m.value), Headers: m.headers}
			}
			resp, err := s.client.Produce(ctx, &kafka.ProduceRequest{
				Topic: p.topic, Partition: p.id, RequiredAcks: kafka.RequireAll,
				Records: kafka.NewRecordReader(recs...),
			})
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("produce to %s/%d: %w", p.topic, p.id, err)
			case resp.Error != nil:
				errs[i] = fmt.Errorf("produce to %s/%d: %w", p.topic, p.id, resp.Error)
			}
		}()
	}
	wg.Wait()
	var failed []partition
	for i, err := range errs {
		if err != nil {
			failed = append(failed, parts[i])
		}
	}
	return failed, errors.Join(errs...)
}

// topicPartitions returns the partition ids of topic, from the cache or
// the brokers' metadata.
func (s *Shipper) topicPartitions(ctx context.Context, topic string) ([]int, error) {
	if ids, ok := s.partitions[topic]; ok {
		return ids, nil
	}
	meta, err := s.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
		if len(ids) == 0 {
			break
		}
		slices.Sort(ids)
		s.partitions[topic] = ids
		return ids, nil
	}
	return nil, fmt.Errorf("metadata of %s: no partitions", topic)
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (s *Shipper) Stats() Stats {
	st := Stats{
		Shipped:  s.shipped.Load(),
		Messages: s.msgCount.Load(),
		Failures: s.failures.Load(),
	}
	if ns := s.lastError.Load(); ns != 0 {
		st.LastError = time.Unix(0, ns)
	}
	return st
}

// Reachable reports whether the brokers answer and since when (see
// Status). Safe for concurrent use.
func (s *Shipper) Reachable() (ok bool, since time.Time) {
	st := s.Status()
	return st.Reachable, st.Since
}

// Status returns the brokers' reachability. Safe for concurrent use.
func (s *Shipper) Status() Status {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	return s.status
}

// Watch probes the brokers every Options.ProbeInterval (skipping a round
// when a batch was acknowledged meanwhile, and probing at once after a
// failed batch) until ctx is done or the Shipper is closed, recording
// reachability for Status. Run watches while it runs; call Watch only to
// watch while Run is not running (for example while topics are being
// created).
func (s *Shipper) Watch(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // Close ends a probe in flight too
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(s.opts.ProbeInterval)
	defer t.Stop()
	for {
		if since := time.Since(time.Unix(0, s.lastOK.Load())); since >= s.opts.ProbeInterval {
			err := s.probe(ctx)
			if ctx.Err() != nil {
				return // cancelled, not a verdict on the brokers
			}
			s.setStatus(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
			s.lastOK.Store(0) // a batch failed: probe now, whatever came before
		}
	}
}

// probe connects to the bootstrap brokers in turn (with TLS and SASL when
// configured) until one answers an ApiVersions request, within
// ProbeTimeout; it returns the failures joined when none does, a refused
// password or certificate explained.
func (s *Shipper) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	return s.opts.Kafka.Check(ctx, s.opts.Brokers, ClientID)
}

// setStatus records the outcome of a probe or batch (nil: the brokers
// answered) and logs a change of state: one line per outage, one per
// recovery.
func (s *Shipper) setStatus(err error) {
	now := time.Now()
	if err == nil {
		s.lastOK.Store(now.UnixNano())
	}
	s.statusMu.Lock()
	prev := s.status
	switch {
	case err == nil && prev.Reachable && !prev.Since.IsZero():
		s.statusMu.Unlock()
		return
	case err == nil:
		s.status = Status{Reachable: true, Since: now}
	case !prev.Reachable:
		s.status.Error = err.Error()
		s.statusMu.Unlock()
		return
	default:
		s.status = Status{Reachable: false, Since: now, Error: err.Error()}
	}
	s.statusMu.Unlock()
	switch {
	case err != nil:
		s.log.LogAttrs(context.Background(), slog.LevelError, "kafka unreachable; events stay in the spool until it answers",
			slog.Time("since", now), slog.String("error", err.Error()))
	case !prev.Reachable:
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka reachable again",
			slog.Time("unreachable_since", prev.Since), slog.Duration("outage", now.Sub(prev.Since)))
	}
}

// Close stops Run (waiting for it to return; a batch being written is
// abandoned unacknowledged and will be resent) and closes the Kafka
// connections.
// It does not close the spool. Close is idempotent and safe for concurrent
// use; every call returns the first call's result.
func (s *Shipper) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		s.runWG.Wait()
		s.transport.CloseIdleConnections()
	})
	return s.closeErr
}
