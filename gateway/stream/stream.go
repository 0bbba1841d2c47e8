// Package stream turns every inspected message into events on Kafka with
// nothing lost: it decides where an event goes (findings, alerts, samples),
// appends it to the local spool before the verdict is returned, and runs
// the shipper that drains the spool to Kafka.
//
// Routing, per message:
//   - the findings topic gets the event when the message has a finding, its
//     action is not allow, or it was released fail-open;
//   - the alerts topic gets a copy carrying only the alerts that pass
//     deduplication (alerting.Dedup) and the conversation's last few masked
//     turns as context;
//   - the samples topic gets the event when its conversation is sampled
//     (sampling.Sampler: by hash, high risk, policy request, agent minimum).
//
// A message routed nowhere is not spooled. An event's event_id is the
// verdict's decision_id, so a client's reply leads an auditor to its event. The spool record's key carries
// the routing bits and the tenant ahead of the conversation id; the shipper
// turns them back into topics, the tenant header and the Kafka key.
//
// Readiness with Kafka away. The stream reports whether the brokers answer
// (Kafka, Readiness, and the metrics of Collector: xunjian_kafka_reachable
// and xunjian_kafka_unreachable_since_seconds), within 10 s of an outage
// even with no traffic (the shipper probes them), and logs one line when
// they stop answering and one when they answer again. An unreachable Kafka
// alone does not make the gateway unready: the gateway still inspects and
// answers, and every event waits in the spool, on disk, until Kafka is back;
// what /readyz must say is that Kafka is unreachable and since when, so an
// operator sees the outage before the spool fills. Readiness turns false
// (503) only when the spool is full, when events are being held or
// dropped.
package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream/alerting"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/sampling"
	"github.com/xunjian/xunjian/gateway/stream/shipper"
	"github.com/xunjian/xunjian/gateway/stream/spool"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/loopback"
	"github.com/xunjian/xunjian/rules"
)

// ErrFull is returned by Publish when the spool is full and the stream is
// configured to hold messages rather than lose their events.
var ErrFull = errors.New("stream: spool full")

// Defaults of zero Config fields.
const (
	DefaultFindingsTopic = "xunjian.findings"
	DefaultAlertsTopic   = "xunjian.alerts"
	DefaultSamplesTopic  = "xunjian.samples"
	// DefaultEmbeddedBroker is where the gateway's built-in broker listens
	// when no brokers are configured.
	DefaultEmbeddedBroker = "127.0.0.1:9092"
	// DefaultTextKeyID labels the text encryption key in events.
	DefaultTextKeyID = "default"
)

// What the stream does with an event the full spool refuses
// (SpoolConfig.OnFull).
const (
	// OnFullServe drops the event, counts and logs it, and lets the
	// message go on as usual (the default).
	OnFullServe = "serve"
	// OnFullHold makes Publish fail with ErrFull, so that the caller holds
	// the message (the gateway answers drafts 503 until there is room) and
	// nothing goes unrecorded.
	OnFullHold = "hold"
)

// Topics names the three topics; it is the `stream.topics` section of the
// gateway's configuration file. Open requires all three.
type Topics struct {
	// Findings gets every message with a finding and every non-allow;
	// default DefaultFindingsTopic (xunjian.findings).
	Findings string `yaml:"findings"`
	// Alerts gets supervisor alerts, deduplicated; default
	// DefaultAlertsTopic (xunjian.alerts).
	Alerts string `yaml:"alerts"`
	// Samples gets the messages of sampled conversations; default
	// DefaultSamplesTopic (xunjian.samples).
	Samples string `yaml:"samples"`
}

// Defaults fills the empty topic names with their defaults.
func (t *Topics) Defaults() {
	for _, f := range []struct {
		name *string
		def  string
	}{{&t.Findings, DefaultFindingsTopic}, {&t.Alerts, DefaultAlertsTopic}, {&t.Samples, DefaultSamplesTopic}} {
		if *f.name == "" {
			*f.name = f.def
		}
	}
}

// Validate checks that the three names are legal Kafka topic names and
// differ, naming each fault by its YAML path under path (e.g.
// "stream.topics.alerts: ..."), all of them joined.
func (t Topics) Validate(path string) error {
	var errs []error
	for _, tp := range []struct{ field, name string }{{"findings", t.Findings}, {"alerts", t.Alerts}, {"samples", t.Samples}} {
		if !validTopic(tp.name) {
			errs = append(errs, fmt.Errorf("%s.%s: %q: want 1-249 characters of a-z A-Z 0-9 . _ -", path, tp.field, tp.name))
		}
	}
	if t.Findings == t.Alerts || t.Findings == t.Samples || t.Alerts == t.Samples {
		errs = append(errs, fmt.Errorf("%s: the three topics must differ", path))
	}
	return errors.Join(errs...)
}

// validTopic reports whether name is a legal Kafka topic name.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// SpoolConfig configures the stream's spool, the `stream.spool` section of
// the gateway's configuration file: the spool's own options, and what the
// stream does when the spool is full.
type SpoolConfig struct {
	// Options are the spool's options; Options.Dir is required by Open.
	spool.Options `yaml:",inline"`
	// OnFull is what happens to a message whose event the full spool
	// refuses: OnFullServe (release it as usual, counting the dropped
	// event; the default, also what empty means) or OnFullHold (Publish
	// returns ErrFull, so the caller holds it until there is room).
	OnFull string `yaml:"on_full"`
}

// Defaults fills the zero fields of c with their defaults.
func (c *SpoolConfig) Defaults() {
	c.Options.Defaults()
	if c.OnFull == "" {
		c.OnFull = OnFullServe
	}
}

// Validate checks c as a configuration file gives it, naming each fault by
// its YAML path under path (e.g. "stream.spool.on_full: ..."), all of them
// joined.
func (c SpoolConfig) Validate(path string) error {
	err := c.Options.Validate(path)
	if !c.validOnFull() {
		err = errors.Join(err, fmt.Errorf("%s.on_full: %q: want serve or hold", path, c.OnFull))
	}
	return err
}

// validOnFull reports whether OnFull is a policy, or empty for the default.
func (c SpoolConfig) validOnFull() bool {
	return c.OnFull == "" || c.OnFull == OnFullServe || c.OnFull == OnFullHold
}

// hold reports whether Publish holds messages when the spool is full.
func (c SpoolConfig) hold() bool { return c.OnFull == OnFullHold }

// Config configures a Stream; it is the `stream` section of the gateway's
// configuration file. Open reads the spool, brokers, topics, batching,
// alerts, sampling, Encryptor and Logger; Disabled, EmbeddedBroker and the
// text key's fields are the gateway's, which decides whether to open a
// stream, starts the built-in broker, and builds the Encryptor.
type Config struct {
	// Disabled turns events off: the gateway opens no stream, so nothing
	// is spooled or sent. Default false.
	Disabled bool `yaml:"disabled"`
	// Brokers are the Kafka bootstrap brokers (host:port); Open requires
	// them. In the configuration file none means the gateway's built-in
	// Kafka-protocol broker at EmbeddedBroker, in memory, for development.
	// Env XUNJIAN_KAFKA_BROKERS (comma-separated) overrides them.
	Brokers []string `yaml:"brokers"`
	// Security is how the brokers are reached: TLS (stream.tls) and SASL
	// (stream.sasl), see kafkasec.Config; none is plain TCP without
	// authentication. It needs Brokers: the built-in broker speaks plain
	// TCP on loopback only.
	Security kafkasec.Config `yaml:",inline"`
	// Kafka is Security opened (its files read, its password taken from
	// the environment), which the gateway sets; nil dials plain TCP.
	Kafka *kafkasec.Client `yaml:"-"`
	// EmbeddedBroker is where the built-in broker listens when Brokers is
	// empty; default DefaultEmbeddedBroker (127.0.0.1:9092). It must be a
	// loopback address.
	EmbeddedBroker string `yaml:"embedded_broker"`
	// Topics are the topic names; Open requires all three.
	Topics Topics `yaml:"topics"`
	// Spool configures the spool every event is appended to before its
	// verdict is returned; Spool.Dir is required by Open.
	Spool SpoolConfig `yaml:"spool"`
	// BatchSize is how many events the shipper sends per batch; zero means
	// shipper.DefaultBatchSize (500).
	BatchSize int `yaml:"batch_size"`
	// BatchTimeout is Kafka's per-partition flush timeout; zero means
	// shipper.DefaultBatchTimeout (10ms).
	BatchTimeout duration.Duration `yaml:"batch_timeout"`
	// Alerts configures alert deduplication.
	Alerts alerting.Config `yaml:"alerts"`
	// Sampling configures the QA sample.
	Sampling sampling.Config `yaml:"sampling"`
	// TextKeyEnv names the environment variable holding a base64 AES-256
	// key; with one, the gateway builds the Encryptor, and each event
	// carries the raw text encrypted (text_enc) for auditors. Empty (the
	// default) means raw text is never kept.
	TextKeyEnv string `yaml:"text_key_env"`
	// TextKeyID labels the key in events (for rotation); default
	// DefaultTextKeyID ("default").
	TextKeyID string `yaml:"text_key_id"`
	// Encryptor, when set, seals each message's raw text into text_enc.
	Encryptor *event.Encryptor `yaml:"-"`
	// Logger receives state changes (spool full, recovered); nil means
	// slog.Default(). Log lines never carry message text or keys.
	Logger *slog.Logger `yaml:"-"`
	// ProbeInterval is how often the brokers are probed while no batch
	// ships (zero: shipper.DefaultProbeInterval). Not settable from the
	// configuration file.
	ProbeInterval time.Duration `yaml:"-"`
}

// Defaults fills the zero fields of c that have a default, those of its
// nested sections included.
func (c *Config) Defaults() {
	if c.EmbeddedBroker == "" {
		c.EmbeddedBroker = DefaultEmbeddedBroker
	}
	c.Topics.Defaults()
	c.Spool.Defaults()
	if c.BatchSize == 0 {
		c.BatchSize = shipper.DefaultBatchSize
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = duration.Duration(shipper.DefaultBatchTimeout)
	}
	c.Alerts.Defaults()
	c.Sampling.Defaults()
	if c.TextKeyID == "" {
		c.TextKeyID = DefaultTextKeyID
	}
}

// Validate checks c as a configuration file gives it (call Defaults
// first), naming each fault by its YAML path under path (e.g.
// "stream.brokers[0]: ..."), all of them joined. A disabled stream is not
// checked.
func (c Config) Validate(path string) error {
	if c.Disabled {
		return nil
	}
	var errs []error
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("%s.brokers[%d]: %q is not host:port", path, i, b))
		}
	}
	if len(c.Brokers) == 0 && !loopback.Addr(c.EmbeddedBroker) {
		errs = append(errs, fmt.Errorf("%s.embedded_broker: %q: the built-in broker listens on loopback only", path, c.EmbeddedBroker))
	}
	errs = append(errs, c.Security.Validate(path))
	if len(c.Brokers) == 0 && c.Security.Enabled() {
		errs = append(errs, fmt.Errorf("%s.brokers: none, but %s.tls or %s.sasl is set: the built-in broker speaks plain TCP on loopback; set the brokers that want them", path, path, path))
	}
	errs = append(errs, c.Topics.Validate(path+".topics"), c.Spool.Validate(path+".spool"))
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("%s.batch_size: must not be negative", path))
	}
	if c.BatchTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s.batch_timeout: must not be negative", path))
	}
	errs = append(errs, c.Alerts.Validate(path+".alerts"), c.Sampling.Validate(path+".sampling"))
	return errors.Join(errs...)
}

// Message is one inspected message, as Publish takes it. Publish reads it
// synchronously and keeps nothing, so its fields may be views of buffers
// the caller reuses afterwards.
type Message struct {
	Tenant, ConversationID, AgentID string
	// AgentClaimed marks AgentID as named by the request, not established
	// by the credential.
	AgentClaimed bool
	// Role is agent or customer.
	Role string
	// Route is the proxied route, if any.
	Route string
	// Verdict is the inspection's outcome; required.
	Verdict *inspect.Verdict
	// Risk is the conversation's complaint risk after this message.
	Risk float64
	// Recent are the conversation's last turns, masked, ending with this
	// message: the context of an alert.
	Recent []inspect.Turn
	// Raw is the text as typed (only ever stored encrypted), Masked the
	// text with private data masked.
	Raw, Masked string
	// Now is the inspection time.
	Now time.Time
	// Decided, when set, carries the alert and sampling decisions made by
	// the state several gateways share, atomically with the conversation's
	// update; Publish applies them instead of its own Dedup and Sampler
	// (which serve a gateway without shared state, and one whose shared
	// state is away).
	Decided *Decisions
	// Degraded marks a message decided on this gateway's own state because
	// the shared state was unreachable (the event's degraded field).
	Degraded bool
}

// Decisions are the alert and sampling decisions of one message made
// outside the stream, by the rules of Decider.
type Decisions struct {
	// Admitted[i] reports whether the verdict's Alerts[i] passed
	// deduplication; missing entries count as suppressed.
	Admitted []bool
	// Sampled reports whether the message's conversation is sampled.
	Sampled bool
}

// Decider gives the rules of the stream's alert deduplication and
// sampling to a store that makes those decisions for several gateways:
// the alerting.Dedup and sampling.Sampler the stream uses on its own.
type Decider struct {
	// Window is the deduplication window (alerting.Dedup.Window).
	Window time.Duration
	// AgentDailyMin is the per-agent daily minimum of sampled
	// conversations (sampling.Sampler.AgentDailyMin).
	AgentDailyMin int
	// Reason is sampling.Sampler.Reason: why a conversation would be
	// sampled before what is remembered of it.
	Reason func(tenant, conversation string, risk float64, policyForced bool) string
}

// Decider returns the rules of the stream's alert and sampling decisions.
func (s *Stream) Decider() Decider {
	return Decider{Window: s.dedup.Window(), AgentDailyMin: s.sampler.AgentDailyMin(), Reason: s.sampler.Reason}
}

// Stats is a snapshot of the stream's counters.
type Stats struct {
	// Events is the number of messages spooled (to any topic); Findings,
	// Alerts and Samples count them per topic.
	Events, Findings, Alerts, Samples int64
	// Suppressed is the number of alerts dropped as repeats.
	Suppressed int64
	// Dropped is the number of events lost to a full spool (serve policy);
	// Held the number of messages refused for it (hold policy).
	Dropped, Held int64
	// Errors is the number of events that could not be built or written
	// for another reason (logged).
	Errors int64
	// Spool is the spool's state.
	Spool spool.Stats
	// Shipper is the shipper's state.
	Shipper shipper.Stats
}

// Routing bits in a spool record's key.
const (
	toFindings byte = 1 << iota
	toAlerts
	toSamples
)

// Stream is the event pipeline of one gateway. Publish is safe for
// concurrent use; Run ships until its context ends; Close releases the
// spool.
type Stream struct {
	cfg     Config
	log     *slog.Logger
	sp      *spool.Spool
	ship    *shipper.Shipper
	dedup   *alerting.Dedup
	sampler *sampling.Sampler
	bufs    sync.Pool   // *[]byte: event JSON and record keys
	full    atomic.Bool // last Publish met a full spool (for logging once)

	closed    chan struct{} // closed by Close: ends Run's topic retries
	closeOnce sync.Once

	events, findings, alerts, samples, suppressed atomic.Int64
	dropped, held, errs                           atomic.Int64
}

// Open opens the spool (replaying what an earlier run did not ship) and
// prepares the shipper; nothing is sent until Run.
func Open(cfg Config) (*Stream, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("stream: no brokers")
	case cfg.Topics.Findings == "" || cfg.Topics.Alerts == "" || cfg.Topics.Samples == "":
		return nil, errors.New("stream: a topic name is empty")
	case !cfg.Spool.validOnFull():
		return nil, fmt.Errorf("stream: on_full %q: want serve or hold", cfg.Spool.OnFull)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	sampler, err := sampling.New(cfg.Sampling)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	if cfg.Spool.Logger == nil {
		cfg.Spool.Logger = log.With(slog.String("component", "spool"))
	}
	sp, err := spool.Open(cfg.Spool.Options)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	s := &Stream{
		cfg:     cfg,
		log:     log.With(slog.String("component", "stream")),
		sp:      sp,
		dedup:   alerting.New(cfg.Alerts),
		sampler: sampler,
		closed:  make(chan struct{}),
	}
	s.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	s.ship, err = shipper.New(sp, shipper.Options{
		Brokers:       cfg.Brokers,
		Topic:         s.topics,
		Headers:       s.kafkaHeaders,
		Key:           func(r spool.Record) []byte { _, _, conv, _ := decodeKey(r.Key); return conv },
		BatchSize:     cfg.BatchSize,
		BatchTimeout:  cfg.BatchTimeout.D(),
		Logger:        log,
		ProbeInterval: cfg.ProbeInterval,
		Kafka:         cfg.Kafka,
	})
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("stream: %w", err)
	}
	if st := sp.Stats(); st.Records > 0 {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "spool holds unshipped events from an earlier run; shipping them first",
			slog.Int64("events", st.Records), slog.Int64("bytes", st.Bytes))
	}
	return s, nil
}

// Publish routes the event of one inspected message and writes it to the
// spool, in the order of Publish calls: callers that must keep a
// conversation's order call it under that conversation's lock. The event
// is durable once Commit returns. It returns ErrFull (hold policy) when the
// spool has no room, and other errors only when the event cannot be built
// or written (the caller decides whether the message may go on).
func (s *Stream) Publish(ctx context.Context, m Message) error {
	v := m.Verdict
	var route byte
	if len(v.Findings) > 0 || v.Action != rules.Allow || v.FailOpen {
		route |= toFindings
	}
	sampled := v.Sample
	switch {
	case m.Decided != nil:
		sampled = sampled || m.Decided.Sampled
	case m.ConversationID != "":
		sampled, _ = s.sampler.Decide(m.Tenant, m.ConversationID, m.AgentID, m.Risk, v.Sample, m.Now)
	}
	if sampled {
		route |= toSamples
	}
	var admitted []rules.Alert
	for i, a := range v.Alerts {
		var ok bool
		if d := m.Decided; d != nil {
			ok = i < len(d.Admitted) && d.Admitted[i]
		} else {
			ok, _ = s.dedup.Admit(m.Tenant, m.ConversationID, a.Kind, a.Level, m.Now)
		}
		if ok {
			admitted = append(admitted, a)
		} else {
			s.suppressed.Add(1)
		}
	}
	if route == 0 && len(admitted) == 0 {
		return nil
	}
	e, err := NewEvent(EventInput{
		ID: v.DecisionID, TS: m.Now, Tenant: m.Tenant, ConversationID: m.ConversationID, AgentID: m.AgentID, AgentClaimed: m.AgentClaimed,
		Role: m.Role, Route: m.Route, Verdict: v, Shadow: v.Shadow, Sampled: sampled, Degraded: m.Degraded,
		Risk: m.Risk, Masked: m.Masked, Raw: m.Raw,
	}, s.cfg.Encryptor)
	if err != nil {
		s.errs.Add(1)
		return fmt.Errorf("stream: %w", err)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	if route != 0 {
		err = s.write(ctx, bp, route, m, e)
	}
	if len(admitted) > 0 && err == nil {
		err = s.write(ctx, bp, toAlerts, m, forAlert(e, v, admitted, m.Recent))
	}
	switch {
	case errors.Is(err, errDropped):
		return nil
	case err != nil:
		return err
	}
	s.events.Add(1)
	return nil
}

// errDropped reports an event dropped for a full spool (serve policy).
var errDropped = errors.New("stream: event dropped")

// write encodes one record (key: routing, tenant, conversation; value: the
// event) into *bp and writes it to the spool.
func (s *Stream) write(ctx context.Context, bp *[]byte, route byte, m Message, e *event.Event) error {
	b := appendKey((*bp)[:0], route, m.Tenant, m.ConversationID)
	keyLen := len(b)
	b, err := e.Marshal(b)
	*bp = b
	if err != nil {
		s.errs.Add(1)
		return fmt.Errorf("stream: %w", err)
	}
	_, err = s.sp.Write(ctx, b[:keyLen], b[keyLen:])
	switch {
	case errors.Is(err, spool.ErrFull):
		if !s.full.Swap(true) {
			st := s.sp.Stats()
			s.log.LogAttrs(ctx, slog.LevelError, "spool full: Kafka is not keeping up or unreachable",
				slog.Int64("bytes", st.Bytes), slog.Int64("events", st.Records), slog.Bool("hold", s.cfg.Spool.hold()))
		}
		if s.cfg.Spool.hold() {
			s.held.Add(1)
			return ErrFull
		}
		s.dropped.Add(1)
		return errDropped
	case err != nil:
		s.errs.Add(1)
		return fmt.Errorf("stream: %w", err)
	}
	if s.full.Swap(false) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "spool has room again",
			slog.Int64("dropped_so_far", s.dropped.Load()), slog.Int64("held_so_far", s.held.Load()))
	}
	if route&toFindings != 0 {
		s.findings.Add(1)
	}
	if route&toAlerts != 0 {
		s.alerts.Add(1)
	}
	if route&toSamples != 0 {
		s.samples.Add(1)
	}
	return nil
}

// Commit makes the events published so far durable when the spool's
// policy is FsyncAlways (one fsync shared by concurrent callers); with the
// other policies it returns at once. Call it after Publish and before
// returning the verdict.
func (s *Stream) Commit(ctx context.Context) error {
	if s.cfg.Spool.Fsync != spool.FsyncAlways {
		return nil
	}
	if err := s.sp.Sync(ctx); err != nil {
		s.errs.Add(1)
		return fmt.Errorf("stream: %w", err)
	}
	return nil
}

// Ready reports whether the stream can take events: an error saying why
// not while the spool is full.
func (s *Stream) Ready() error {
	if st := s.sp.Stats(); st.Full {
		return fmt.Errorf("event spool full (%d bytes, %d events unshipped)", st.Bytes, st.Records)
	}
	return nil
}

// Run creates the topics that are missing (with the brokers' default
// partitions and replication), then ships the spool to Kafka until ctx is
// done or Close is called. Kafka outages are retried inside, so it returns
// only at the end (nil) or when the spool fails.
func (s *Stream) Run(ctx context.Context) error {
	// The shipper watches the brokers while it runs; until then (topics
	// not created yet, perhaps for want of a broker) Watch does.
	wctx, stopWatch := context.WithCancel(ctx)
	var watch sync.WaitGroup
	watch.Go(func() { s.ship.Watch(wctx) })
	defer func() { stopWatch(); watch.Wait() }()
	for backoff := shipper.MinBackoff; ; backoff = min(2*backoff, 10*time.Second) {
		err := s.ensureTopics(ctx)
		if err == nil {
			break
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "creating topics failed; retrying", slog.Duration("backoff", backoff), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return nil
		case <-s.closed:
			return nil
		case <-time.After(backoff):
		}
	}
	stopWatch()
	watch.Wait()
	err := s.ship.Run(ctx)
	if errors.Is(err, shipper.ErrClosed) {
		return nil
	}
	return err
}

// ensureTopics creates the three topics where they are missing.
func (s *Stream) ensureTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tr := s.cfg.Kafka.Transport(shipper.ClientID)
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(s.cfg.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range []string{s.cfg.Topics.Findings, s.cfg.Topics.Alerts, s.cfg.Topics.Samples} {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: -1, ReplicationFactor: -1})
	}
	resp, err := c.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", s.cfg.Kafka.Explain(err))
	}
	var errs []error
	for t, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// Stats returns a snapshot of the counters.
func (s *Stream) Stats() Stats {
	return Stats{
		Events: s.events.Load(), Findings: s.findings.Load(), Alerts: s.alerts.Load(), Samples: s.samples.Load(),
		Suppressed: s.suppressed.Load(), Dropped: s.dropped.Load(), Held: s.held.Load(), Errors: s.errs.Load(),
		Spool: s.sp.Stats(), Shipper: s.ship.Stats(),
	}
}

// Close stops the shipper (what it had in flight is resent next time) and
// closes the spool, fsyncing it unless the policy is FsyncNever.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return errors.Join(s.ship.Close(), s.sp.Close())
}

func (s *Stream) topics(r spool.Record) []string {
	route, _, _, ok := decodeKey(r.Key)
	if !ok {
		s.log.LogAttrs(context.Background(), slog.LevelError, "spool record with an unreadable key: not shipped", slog.Uint64("offset", uint64(r.Offset)))
		return nil
	}
	var out []string
	if route&toFindings != 0 {
		out = append(out, s.cfg.Topics.Findings)
	}
	if route&toAlerts != 0 {
		out = append(out, s.cfg.Topics.Alerts)
	}
	if route&toSamples != 0 {
		out = append(out, s.cfg.Topics.Samples)
	}
	return out
}

func (s *Stream) kafkaHeaders(r spool.Record) []kafka.Header {
	_, tenant, _, _ := decodeKey(r.Key)
	return []kafka.Header{{Key: "tenant", Value: tenant}, {Key: "schema", Value: []byte(event.SchemaID)}}
}

// appendKey encodes a spool record key: the routing bits, uvarint(len
// tenant), tenant, then the conversation id (the Kafka key).
func appendKey(b []byte, route byte, tenant, conv string) []byte {
	b = append(b, route)
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	return append(b, conv...)
}

// decodeKey splits a spool record key; ok is false for a key appendKey did
// not write (the record is then routed nowhere).
func decodeKey(k []byte) (route byte, tenant, conv []byte, ok bool) {
	if len(k) < 2 {
		return 0, nil, nil, false
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || n > uint64(len(k)-1-w) {
		return 0, nil, nil, false
	}
	i := 1 + w
	return k[0], k[i : i+int(n)], k[i+int(n):], true
}
