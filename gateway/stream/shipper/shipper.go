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
// partition) and by sending one batch at a time.
//
// Logs carry offsets, counts and error kinds, never keys or values.
package shipper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/spool"
)

// Defaults for zero Options fields, and the retry schedule.
const (
	// DefaultBatchSize is the number of spool records read and sent per
	// batch when Options.BatchSize is zero.
	DefaultBatchSize = 500
	// DefaultBatchTimeout is kafka-go's per-partition flush timeout when
	// Options.BatchTimeout is zero. It overrides kafka-go's 1 s default,
	// which would add up to a second to every synchronous write.
	DefaultBatchTimeout = 10 * time.Millisecond
	// MinBackoff is the first wait after a failed batch; each further
	// consecutive failure doubles it up to MaxBackoff.
	MinBackoff = 50 * time.Millisecond
	// MaxBackoff caps the wait between retries of a failed batch.
	MaxBackoff = 2 * time.Second
	// writeAttempts is how many times kafka-go itself tries a batch before
	// WriteMessages fails; further retries are ours (with a rewind), so
	// this stays small to surface outages quickly in Stats and logs.
	writeAttempts = 3
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
	// BatchSize is the number of spool records per batch, also used as
	// kafka-go's per-partition batch size. Zero means DefaultBatchSize
	// (500).
	BatchSize int
	// BatchTimeout is kafka-go's per-partition flush timeout. Zero means
	// DefaultBatchTimeout (10ms), overriding kafka-go's 1 s default.
	BatchTimeout time.Duration
	// Logger receives failure reports. Nil means slog.Default().
	Logger *slog.Logger
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
	sp    *spool.Spool
	opts  Options
	log   *slog.Logger
	w     *kafka.Writer
	stop  chan struct{} // closed by Close; ends Run
	once  sync.Once     // guards closing stop and the writer
	runWG sync.WaitGroup

	// mu guards closed, so runWG.Add never races with Close's Wait.
	mu     sync.Mutex
	closed bool
	busy   atomic.Bool // a Run is active

	shipped   atomic.Int64
	msgCount  atomic.Int64
	failures  atomic.Int64
	lastError atomic.Int64 // unix nanoseconds; 0 if none
	closeErr  error        // set once by Close
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
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Shipper{
		sp:   sp,
		opts: opts,
		log:  log.With(slog.String("component", "shipper")),
		stop: make(chan struct{}),
		w: &kafka.Writer{
			Addr:                   kafka.TCP(opts.Brokers...),
			Balancer:               &kafka.Hash{}, // one conversation, one partition: order kept
			RequiredAcks:           kafka.RequireAll,
			Async:                  false,
			AllowAutoTopicCreation: true,
			BatchSize:              opts.BatchSize,
			BatchTimeout:           opts.BatchTimeout,
			MaxAttempts:            writeAttempts,
		},
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

	var (
		recs    []spool.Record
		msgs    []kafka.Message
		backoff time.Duration
		err     error
	)
	for {
		recs, err = s.sp.Read(ctx, recs[:0], s.opts.BatchSize)
		if err != nil {
			return s.endErr(ctx, fmt.Errorf("shipper: reading spool: %w", err))
		}
		msgs = s.messages(recs, msgs[:0])
		last := recs[len(recs)-1].Offset
		err = s.w.WriteMessages(ctx, msgs...)
		if err == nil {
			if err = s.sp.Ack(last); err == nil {
				s.shipped.Add(int64(len(recs)))
				s.msgCount.Add(int64(len(msgs)))
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
		backoff = min(max(2*backoff, MinBackoff), MaxBackoff)
		s.log.LogAttrs(ctx, slog.LevelWarn, "batch failed; rewinding and retrying",
			slog.Int("records", len(recs)),
			slog.Uint64("first_offset", uint64(recs[0].Offset)),
			slog.Uint64("last_offset", uint64(last)),
			slog.Duration("backoff", backoff),
			slog.String("error", err.Error()))
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

// messages appends to dst one Kafka message per record and topic.
func (s *Shipper) messages(recs []spool.Record, dst []kafka.Message) []kafka.Message {
	for _, r := range recs {
		topics := s.opts.Topic(r)
		if len(topics) == 0 {
			continue
		}
		var h []kafka.Header
		if s.opts.Headers != nil {
			h = s.opts.Headers(r)
		}
		key := r.Key
		if s.opts.Key != nil {
			key = s.opts.Key(r)
		}
		for _, t := range topics {
			dst = append(dst, kafka.Message{Topic: t, Key: key, Value: r.Value, Headers: h})
		}
	}
	return dst
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

// Close stops Run (waiting for it to return; a batch being written is
// abandoned unacknowledged and will be resent) and closes the Kafka writer.
// It does not close the spool. Close is idempotent and safe for concurrent
// use; every call returns the first call's result.
func (s *Shipper) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		s.runWG.Wait()
		if err := s.w.Close(); err != nil {
			s.closeErr = fmt.Errorf("shipper: closing kafka writer: %w", err)
		}
	})
	return s.closeErr
}
