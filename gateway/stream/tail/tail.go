// Package tail reads the gateway's events (xunjian.event/v1) from one Kafka
// topic and prints them for people, or as JSON lines for tools: the logic
// of `xunjian tail`.
//
// Two ways to consume, as kafka-go offers them:
//
//   - With a consumer group (Options.Group), one group kafka.Reader reads
//     the partitions the group assigns and commits the offsets of what was
//     printed, so a second run of the same group goes on where the first
//     stopped, and several members share the partitions. FromBeginning
//     applies only while the group has no committed offset (Kafka's
//     auto.offset.reset).
//   - Without a group, one kafka.Reader per partition reads every
//     partition of the topic, from the end (only what is published after
//     the start) or, with FromBeginning, from the first retained event.
//     Nothing is committed. The partitions are those of the topic when Run
//     starts; partitions added later are read after a restart.
//
// Either way, one partition's events are printed in partition order (one
// conversation's events stay in order: the Kafka key is the conversation
// id); events of different partitions interleave as they arrive.
//
// A topic that does not exist is an error wrapping ErrNoTopic, unless
// Options.WaitForTopic is set: then Run notes it once on Options.Err and
// polls until the topic appears, and reads the new topic from its start
// (whatever was published to it since the wait began is news). Tail never
// creates a topic: its metadata requests do not ask for auto-creation.
//
// Every value is decoded with event.Parse. A value that is not an
// xunjian.event/v1 event (not JSON, unknown fields, a "schema" header other
// than event.SchemaID, no event_id or ts) is skipped with a one-line warning
// naming its partition and offset; the value itself is never printed, as it
// might hold private data. Delivery is at-least-once, so the same event may
// come twice (after a gateway crash): events whose event_id was seen among
// the last Options.Dedup ids are dropped.
package tail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/internal/lru"
)

// Defaults for Options.
const (
	// DefaultDedup is how many recent event ids are remembered to drop
	// repeats.
	DefaultDedup = 10000
	// DefaultPollInterval is how often a missing topic is looked up again
	// with WaitForTopic.
	DefaultPollInterval = time.Second
	// DefaultDialTimeout bounds connecting to a broker.
	DefaultDialTimeout = 10 * time.Second
)

// maxWait is how long one fetch waits at the broker for new events. It also
// bounds how long closing a reader takes (kafka-go waits for the fetch in
// flight), so it is far below kafka-go's 10 s default.
const maxWait = 500 * time.Millisecond

// partitionWatch is how often a group reader looks for partitions added
// to its topic.
const partitionWatch = 5 * time.Second

// commitInterval is how often a group reader commits the offsets of what
// was printed; the last ones are committed when Run returns.
const commitInterval = time.Second

// retryDelay is the pause after a failed fetch before the next one.
const retryDelay = time.Second

// warnEvery is how long the same fetch error stays quiet after it was
// reported, so a broker that is down does not flood the terminal.
const warnEvery = 30 * time.Second

// ErrNoTopic is wrapped by the error of Run when the topic does not exist
// and Options.WaitForTopic is not set.
var ErrNoTopic = errors.New("no such topic")

// ErrRunning is returned by a second call of Run.
var ErrRunning = errors.New("tail: Run called twice")

// Options configures a Tailer. Brokers, Topic and Out are required; the
// zero value of every other field is valid and means its default.
type Options struct {
	// Brokers are the Kafka bootstrap brokers, host:port.
	Brokers []string
	// Topic is the topic to read, such as xunjian.alerts.
	Topic string
	// Group is the consumer group id. Empty means no group: every
	// partition is read and no offset is committed.
	Group string
	// FromBeginning starts at the first retained event instead of the
	// end. With a Group it applies only while the group has no committed
	// offset.
	FromBeginning bool
	// Max stops Run after this many events were written (skipped values
	// and dropped repeats do not count); 0 means no limit.
	Max int
	// JSON writes each event as one JSON line, the value exactly as it
	// was received (compacted onto one line if it spans several), instead
	// of the text layout of Format.
	JSON bool
	// Dedup is how many recent event ids are remembered: an event whose
	// id is among them is dropped. 0 means DefaultDedup; negative turns
	// deduplication off.
	Dedup int
	// WaitForTopic makes Run wait for a missing topic instead of failing
	// with ErrNoTopic. A broker that cannot be reached is an error either
	// way.
	WaitForTopic bool
	// PollInterval is how often a missing topic is looked up again; 0
	// means DefaultPollInterval.
	PollInterval time.Duration
	// Format lays out the text output (time zone, field width).
	Format Format
	// Out receives the events.
	Out io.Writer
	// Err receives warnings (skipped values, fetch errors) and notes (where
	// reading starts, waiting for the topic), one line each. Nil means
	// io.Discard.
	Err io.Writer
	// Dialer connects to the brokers (TLS, SASL, timeouts). Nil means a
	// plain TCP dialer with DefaultDialTimeout.
	Dialer *kafka.Dialer
}

// Tailer prints the events of one topic. It is made by New and run once by
// Run; it is not meant for concurrent use.
type Tailer struct {
	opts    Options
	running atomic.Bool
}

// New validates opts and fills in the defaults. It does not connect: Run
// does.
func New(opts Options) (*Tailer, error) {
	var bs []string
	for _, b := range opts.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			bs = append(bs, b)
		}
	}
	opts.Brokers = bs
	switch {
	case len(opts.Brokers) == 0:
		return nil, errors.New("tail: no brokers")
	case opts.Topic == "":
		return nil, errors.New("tail: no topic")
	case opts.Out == nil:
		return nil, errors.New("tail: no Out writer")
	case opts.Max < 0:
		return nil, fmt.Errorf("tail: Max %d: want 0 (no limit) or more", opts.Max)
	case opts.PollInterval < 0:
		return nil, fmt.Errorf("tail: PollInterval %v: want 0 (default) or more", opts.PollInterval)
	}
	if opts.Dedup == 0 {
		opts.Dedup = DefaultDedup
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Err == nil {
		opts.Err = io.Discard
	}
	if opts.Dialer == nil {
		opts.Dialer = &kafka.Dialer{Timeout: DefaultDialTimeout, DualStack: true, ClientID: "xunjian-tail"}
	}
	return &Tailer{opts: opts}, nil
}

// Run looks the topic up, then reads and writes events until ctx is done
// (it returns ctx.Err()), Options.Max events were written (it returns nil)
// or writing to Out fails. Fetch errors are reported on Options.Err and
// retried: kafka-go reconnects by itself. Before the first event, Run
// writes one note to Options.Err saying where it starts; without a group,
// everything published after that note is printed (a group's start is
// settled later, when the group assigns the partitions). Run may be called
// only once.
func (t *Tailer) Run(ctx context.Context) error {
	if t.running.Swap(true) {
		return ErrRunning
	}
	o := &t.opts
	parts, created, err := t.lookup(ctx)
	if err != nil {
		return err
	}
	first := o.FromBeginning || created
	p := newPrinter(o)
	if o.Group != "" {
		return t.runGroup(ctx, p, first)
	}
	return t.runPartitions(ctx, p, parts, first)
}

// lookup returns the topic's partitions, waiting for the topic when asked
// to; created reports that it did not exist when lookup began.
func (t *Tailer) lookup(ctx context.Context) (parts []int, created bool, err error) {
	o := &t.opts
	c, closeClient := t.client()
	defer closeClient()
	noted := false
	for {
		parts, err := topicPartitions(ctx, c, o.Topic)
		switch {
		case err == nil:
			return parts, noted, nil
		case errors.Is(err, ErrNoTopic) && !o.WaitForTopic:
			return nil, false, fmt.Errorf("tail: topic %q on %s: %w (nothing published to it yet?)", o.Topic, strings.Join(o.Brokers, ","), err)
		case errors.Is(err, ErrNoTopic):
			if !noted {
				fmt.Fprintf(o.Err, "tail: topic %s does not exist yet; waiting for it\n", o.Topic)
				noted = true
			}
		case !errors.Is(err, errNotReady):
			return nil, false, fmt.Errorf("tail: look up topic %s on %s: %w", o.Topic, strings.Join(o.Brokers, ","), err)
		}
		if !sleep(ctx, o.PollInterval) {
			return nil, false, ctx.Err()
		}
	}
}

// client returns a kafka.Client for metadata and offset requests, and the
// function that closes its connections. Its metadata requests name only
// the topic and never ask the broker to create it; cached metadata is
// refreshed every PollInterval, so a topic being waited for is seen soon.
func (t *Tailer) client() (*kafka.Client, func()) {
	o := &t.opts
	tr := &kafka.Transport{
		Dial:           o.Dialer.DialFunc,
		DialTimeout:    o.Dialer.Timeout,
		ClientID:       o.Dialer.ClientID,
		TLS:            o.Dialer.TLS,
		SASL:           o.Dialer.SASLMechanism,
		MetadataTTL:    o.PollInterval,
		MetadataTopics: []string{o.Topic},
	}
	return &kafka.Client{Addr: kafka.TCP(o.Brokers...), Transport: tr}, tr.CloseIdleConnections
}

// errNotReady means the topic exists but its metadata is not settled yet
// (no partition, a partition without leader): ask again shortly.
var errNotReady = errors.New("topic not ready")

// topicPartitions returns the sorted partition ids of topic, an error
// wrapping ErrNoTopic when it does not exist, errNotReady while it is
// being created. The metadata request does not ask for auto-creation.
func topicPartitions(ctx context.Context, c *kafka.Client, topic string) ([]int, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultDialTimeout+5*time.Second)
	defer cancel()
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	for _, tp := range md.Topics {
		if tp.Name != topic {
			continue
		}
		switch {
		case errors.Is(tp.Error, kafka.UnknownTopicOrPartition):
			return nil, ErrNoTopic
		case tp.Error != nil, len(tp.Partitions) == 0:
			return nil, errNotReady
		}
		parts := make([]int, 0, len(tp.Partitions))
		for _, p := range tp.Partitions {
			if p.Leader.Host == "" {
				return nil, errNotReady
			}
			parts = append(parts, p.ID)
		}
		slices.Sort(parts)
		return parts, nil
	}
	return nil, ErrNoTopic
}

// runGroup reads with one consumer-group reader, committing what it
// handled.
func (t *Tailer) runGroup(ctx context.Context, p *printer, first bool) error {
	o := &t.opts
	start, from := kafka.LastOffset, "the end"
	if first {
		start, from = kafka.FirstOffset, "the beginning"
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        o.Brokers,
		GroupID:        o.Group,
		Topic:          o.Topic,
		Dialer:         o.Dialer,
		StartOffset:    start,
		CommitInterval: commitInterval,
		MaxWait:        maxWait,
		// Partitions added while tailing are read too.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: partitionWatch,
	})
	// Close leaves the group and commits the last offsets.
	defer r.Close()
	fmt.Fprintf(o.Err, "tail: %s: group %s, from its committed offsets (%s if none)\n", o.Topic, o.Group, from)
	for {
		m, err := r.FetchMessage(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.fetchError(-1, err)
			if !sleep(ctx, retryDelay) {
				return ctx.Err()
			}
			continue
		}
		done, err := p.handle(m)
		if err != nil {
			return err
		}
		if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			p.fetchError(-1, fmt.Errorf("commit: %w", err))
		}
		if done {
			return nil
		}
	}
}

// item is what a partition reader hands to the printing loop: a message
// or a fetch error.
type item struct {
	partition int
	m         kafka.Message
	err       error
}

// runPartitions reads every partition with its own reader; one goroutine
// per partition fetches, and this one prints, so output is never
// interleaved and each partition stays in order.
func (t *Tailer) runPartitions(ctx context.Context, p *printer, parts []int, first bool) error {
	o := &t.opts
	start, from, err := t.startOffsets(ctx, parts, first)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	readers := make([]*kafka.Reader, len(parts))
	items := make(chan item)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		closeAll(readers)
	}()
	for i, part := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   o.Brokers,
			Topic:     o.Topic,
			Partition: part,
			Dialer:    o.Dialer,
			MaxWait:   maxWait,
		})
		readers[i] = r
		if err := r.SetOffset(start[i]); err != nil {
			return fmt.Errorf("tail: %s partition %d: set offset %d: %w", o.Topic, part, start[i], err)
		}
		wg.Go(func() { fetchLoop(ctx, r, part, items) })
	}
	fmt.Fprintf(o.Err, "tail: %s: %d partitions, from %s\n", o.Topic, len(parts), from)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case it := <-items:
			if it.err != nil {
				p.fetchError(it.partition, it.err)
				continue
			}
			done, err := p.handle(it.m)
			if err != nil || done {
				return err
			}
		}
	}
}

// startOffsets resolves the first or the next offset of each partition,
// so reading starts from a known point before Run's note is written. A
// topic just created may not have settled yet (no leader, or the metadata
// naming an old one): temporary errors are retried for a while.
func (t *Tailer) startOffsets(ctx context.Context, parts []int, first bool) ([]int64, string, error) {
	from := "the end"
	if first {
		from = "the beginning"
	}
	deadline := time.Now().Add(settleTimeout)
	for {
		offs, err := t.listOffsets(ctx, parts, first)
		var kerr kafka.Error
		switch {
		case err == nil:
			return offs, from, nil
		case ctx.Err() != nil:
			return nil, "", ctx.Err()
		case !errors.As(err, &kerr) || !kerr.Temporary() || time.Now().After(deadline):
			return nil, "", err
		}
		if !sleep(ctx, settleDelay) {
			return nil, "", ctx.Err()
		}
	}
}

// settleTimeout bounds how long startOffsets retries temporary errors;
// settleDelay is the pause between tries.
const (
	settleTimeout = 15 * time.Second
	settleDelay   = 100 * time.Millisecond
)

// listOffsets asks once for the offsets startOffsets wants, with a fresh
// client (so fresh metadata).
func (t *Tailer) listOffsets(ctx context.Context, parts []int, first bool) ([]int64, error) {
	o := &t.opts
	reqs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		if first {
			reqs[i] = kafka.FirstOffsetOf(p)
		} else {
			reqs[i] = kafka.LastOffsetOf(p)
		}
	}
	c, closeClient := t.client()
	defer closeClient()
	lctx, cancel := context.WithTimeout(ctx, DefaultDialTimeout+5*time.Second)
	defer cancel()
	res, err := c.ListOffsets(lctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{o.Topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("tail: list offsets of %s: %w", o.Topic, err)
	}
	byPart := make(map[int]int64, len(parts))
	for _, po := range res.Topics[o.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("tail: list offsets of %s partition %d: %w", o.Topic, po.Partition, po.Error)
		}
		if first {
			byPart[po.Partition] = po.FirstOffset
		} else {
			byPart[po.Partition] = po.LastOffset
		}
	}
	out := make([]int64, len(parts))
	for i, p := range parts {
		off, ok := byPart[p]
		if !ok || off < 0 {
			return nil, fmt.Errorf("tail: list offsets of %s: no offset for partition %d", o.Topic, p)
		}
		out[i] = off
	}
	return out, nil
}

// fetchLoop fetches from r and hands each message or error to items until
// ctx is done. After an error it waits retryDelay.
func fetchLoop(ctx context.Context, r *kafka.Reader, part int, items chan<- item) {
	for {
		m, err := r.FetchMessage(ctx)
		if ctx.Err() != nil || errors.Is(err, io.EOF) {
			return
		}
		select {
		case items <- item{partition: part, m: m, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil && !sleep(ctx, retryDelay) {
			return
		}
	}
}

// closeAll closes the readers in parallel: each Close waits for the fetch
// in flight (up to maxWait).
func closeAll(rs []*kafka.Reader) {
	var wg sync.WaitGroup
	for _, r := range rs {
		if r != nil {
			wg.Go(func() { r.Close() })
		}
	}
	wg.Wait()
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// printer decodes, deduplicates and writes events. It is owned by Run's
// goroutine.
type printer struct {
	o       *Options
	seen    *lru.LRU[string, struct{}] // nil: no deduplication
	written int
	day     [3]int // calendar day of the last text block, for AppendDay
	buf     []byte
	// lastWarn remembers when each fetch error text was last reported.
	lastWarn map[string]time.Time
}

func newPrinter(o *Options) *printer {
	p := &printer{o: o, lastWarn: map[string]time.Time{}}
	if o.Dedup > 0 {
		p.seen = lru.New[string, struct{}](o.Dedup)
	}
	return p
}

// handle writes m's event, or a warning when m is not an event. done
// reports that Max events have been written; err is a write error.
func (p *printer) handle(m kafka.Message) (done bool, err error) {
	e, why := decode(m)
	if why != "" {
		fmt.Fprintf(p.o.Err, "tail: warning: %s partition %d offset %d: %s (%d bytes); skipped\n",
			m.Topic, m.Partition, m.Offset, why, len(m.Value))
		return false, nil
	}
	if p.seen != nil {
		if _, dup := p.seen.Get(e.EventID); dup {
			return false, nil
		}
		p.seen.Add(e.EventID, struct{}{})
	}
	b := p.buf[:0]
	if p.o.JSON {
		b = appendJSONLine(b, m.Value)
	} else {
		if d := p.o.Format.day(e.TS); d != p.day {
			p.day = d
			b = p.o.Format.AppendDay(b, e.TS)
		}
		b = p.o.Format.Append(b, e)
	}
	p.buf = b
	if _, err := p.o.Out.Write(b); err != nil {
		return false, fmt.Errorf("tail: write: %w", err)
	}
	p.written++
	return p.o.Max > 0 && p.written >= p.o.Max, nil
}

// fetchError reports a fetch error on Err, the same text at most once per
// warnEvery. partition < 0 means the group reader.
func (p *printer) fetchError(partition int, err error) {
	msg := err.Error()
	now := time.Now()
	if last, ok := p.lastWarn[msg]; ok && now.Sub(last) < warnEvery {
		return
	}
	if len(p.lastWarn) > 100 {
		clear(p.lastWarn)
	}
	p.lastWarn[msg] = now
	if partition < 0 {
		fmt.Fprintf(p.o.Err, "tail: warning: %s: %s (retrying)\n", p.o.Topic, msg)
		return
	}
	fmt.Fprintf(p.o.Err, "tail: warning: %s partition %d: %s (retrying)\n", p.o.Topic, partition, msg)
}

// decode parses m's value. why says, without quoting the value, why it is
// not an event; it is empty when e is good.
func decode(m kafka.Message) (e *event.Event, why string) {
	for _, h := range m.Headers {
		if h.Key == "schema" && string(h.Value) != event.SchemaID {
			return nil, "schema header is not " + event.SchemaID
		}
	}
	e, err := event.Parse(m.Value)
	if err != nil {
		return nil, describe(err)
	}
	switch {
	case e.EventID == "":
		return nil, "not an " + event.SchemaID + " event (no event_id)"
	case e.TS.IsZero():
		return nil, "not an " + event.SchemaID + " event (no ts)"
	}
	return e, ""
}

// describe explains a Parse error without any of the value's content:
// JSON syntax errors by byte offset, type errors by field path (a path of
// the schema's field names, never of the value's), the rest generically.
func describe(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON (syntax error at byte %d)", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "not JSON (truncated or empty)"
	case errors.As(err, &te) && te.Field != "":
		return fmt.Sprintf("not an %s event (field %s has the wrong type)", event.SchemaID, te.Field)
	}
	return "not an " + event.SchemaID + " event"
}

// appendJSONLine appends v and a newline, compacting v first if it spans
// several lines (v is valid JSON: Parse accepted it).
func appendJSONLine(b, v []byte) []byte {
	if bytes.ContainsAny(v, "\r\n") {
		var c bytes.Buffer
		if json.Compact(&c, v) == nil {
			return append(append(b, c.Bytes()...), '\n')
		}
	}
	return append(append(b, v...), '\n')
}
