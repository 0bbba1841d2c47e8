// Package consume is the console's Kafka consumer: it reads the gateway's
// event topics (alerts, findings, samples) as one consumer group, stores
// every event (console/store), pushes each new alert to the supervisors'
// live wall (a Publisher: the API's event hub) and hands it to the chat
// notifier (a Notifier: console/notify's Dispatcher).
//
// # Delivery
//
// At least once, idempotent: an offset is committed only after its event
// is stored and its alerts handed on, so a restart (or a rebalance)
// re-reads what was not committed, and the store ignores an event it
// already holds (by event id and topic). A new alert is published to the
// live wall once, when it is first stored; it is offered to the notifier
// on every reading, since the notifier's ledger, not the consumer, knows
// whether it was posted. A message that is not an xunjian.event/v1 event
// cannot become one by waiting: it is counted, logged by position (never
// by content) and committed. A database that fails is retried, with
// backoff, until it answers or the consumer stops: an event is never
// skipped for it.
//
// Recover offers the notifier the alerts of a recent window again at
// start, beside the reading: an alert that was stored and committed but
// whose posting the process did not live to finish is posted then (the
// ledger skips those that were).
//
// # Reaching Kafka
//
// The brokers are dialled with the TLS and SASL of Config.Security
// (internal/kafkasec, opened into Options.Kafka). Run first connects to
// them until one accepts the consumer, logging why not (a refused
// password, an unknown CA: explained, never the password), and joins the
// group only then: kafka-go's group reader retries such a refusal without
// ever returning it. Errors the reader reports later keep the consumer
// unready for a while and are logged, at most once a minute each.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/console/notify"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/internal/kafkasec"
)

// Store is what the consumer needs of the console's database.
type Store interface {
	Ingest(ctx context.Context, ev *event.Event, topic string, partition int, offset int64) (inserted bool, err error)
	EventAlerts(ctx context.Context, tenant, eventID string) ([]store.Alert, error)
	AlertsSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]store.Alert, error)
	Conversation(ctx context.Context, tenant, id string) (store.Conversation, error)
}

// Publisher pushes a new alert to the supervisors watching the wall (the
// API's event hub); it must not block.
type Publisher interface {
	PublishAlert(a store.Alert)
}

// Notifier delivers alerts to chat channels (notify.Dispatcher).
type Notifier interface {
	Submit(ctx context.Context, n notify.Notification) error
}

// Config configures a Consumer: the `kafka` section of the console's
// configuration.
type Config struct {
	// Brokers are the Kafka bootstrap brokers (host:port); required.
	Brokers []string `yaml:"brokers"`
	// Group is the consumer group; default "xunjian-console". Consoles of
	// one group share the partitions; each stores what it reads.
	Group string `yaml:"group"`
	// Topics are the gateway's topics; defaults xunjian.alerts,
	// xunjian.findings, xunjian.samples.
	Topics Topics `yaml:"topics"`
	// SessionTimeout is how long the group waits for a console that
	// stopped answering (a crash) before its partitions go to the others,
	// or to it again when it restarts; default 10s.
	SessionTimeout duration.Duration `yaml:"session_timeout"`
	// StartFromEnd makes a group with no committed offset start at the end
	// of each partition instead of its beginning (default: the beginning,
	// so that a new console gets what the topics still hold).
	StartFromEnd bool `yaml:"start_from_end"`
	// Security is how the brokers are reached: TLS (kafka.tls) and SASL
	// (kafka.sasl), see kafkasec.Config; none is plain TCP without
	// authentication. The console opens it (Options.Kafka).
	Security kafkasec.Config `yaml:",inline"`
}

// Topics names the gateway's three topics.
type Topics struct {
	Alerts   string `yaml:"alerts"`
	Findings string `yaml:"findings"`
	Samples  string `yaml:"samples"`
}

// Defaults of Config.
const (
	DefaultGroup    = "xunjian-console"
	DefaultAlerts   = "xunjian.alerts"
	DefaultFindings = "xunjian.findings"
	DefaultSamples  = "xunjian.samples"
	// DefaultSessionTimeout is Config.SessionTimeout's default.
	DefaultSessionTimeout = 10 * time.Second
)

// Defaults fills the zero fields of c that have a default.
func (c *Config) Defaults() {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Topics.Alerts == "" {
		c.Topics.Alerts = DefaultAlerts
	}
	if c.Topics.Findings == "" {
		c.Topics.Findings = DefaultFindings
	}
	if c.Topics.Samples == "" {
		c.Topics.Samples = DefaultSamples
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = duration.Duration(DefaultSessionTimeout)
	}
}

// Validate reports what is wrong with c (defaults applied), each field
// named under path.
func (c Config) Validate(path string) error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%s.brokers: missing: the Kafka brokers the gateways publish to", path))
	}
	if c.SessionTimeout < duration.Duration(time.Second) {
		errs = append(errs, fmt.Errorf("%s.session_timeout: %v: want 1s or more", path, c.SessionTimeout))
	}
	t := c.Topics
	if t.Alerts == t.Findings || t.Alerts == t.Samples || t.Findings == t.Samples {
		errs = append(errs, fmt.Errorf("%s.topics: the three topics must differ", path))
	}
	errs = append(errs, c.Security.Validate(path))
	return errors.Join(errs...)
}

// Options are a Consumer's collaborators beyond its Store.
type Options struct {
	// Publisher, when set, gets every new alert.
	Publisher Publisher
	// Notifier, when set, is handed every alert.
	Notifier Notifier
	// Logger logs positions and errors, never event text; nil means
	// slog.Default().
	Logger *slog.Logger
	// Kafka is Config.Security opened: the brokers are dialled with its
	// TLS and SASL, and its Explain says, in the log, why they refuse
	// (a wrong password, an unknown CA). Nil is plain TCP.
	Kafka *kafkasec.Client
	// Dialer, when set, dials the brokers instead of Kafka's dialer.
	Dialer *kafka.Dialer
	// RetryDelay is the first wait before a failed database write is
	// retried (doubling to 5 s); zero means 100 ms.
	RetryDelay time.Duration
}

// Consumer reads the topics and stores their events. Run it once.
type Consumer struct {
	cfg   Config
	st    Store
	opts  Options
	log   *slog.Logger
	ready atomic.Bool
	// readerErr is when kafka-go's reader last reported an error (unix
	// nanoseconds): its group reader retries a broker that refuses it
	// without returning from FetchMessage, so its error log is the only
	// sign. readerLog rate-limits those reports in the log.
	readerErr atomic.Int64
	readerLog logLimiter

	ingested *prometheus.CounterVec
	lag      *prometheus.GaugeVec
}

// New returns a Consumer of cfg (defaults applied here) storing into st.
func New(cfg Config, st Store, opts Options) (*Consumer, error) {
	cfg.Brokers = slices.Clone(cfg.Brokers)
	cfg.Defaults()
	if err := cfg.Validate("kafka"); err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	if st == nil {
		return nil, errors.New("consume: nil store")
	}
	c := &Consumer{cfg: cfg, st: st, opts: opts, log: opts.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.opts.Dialer == nil {
		c.opts.Dialer = c.opts.Kafka.Dialer(ClientID, 0)
	}
	if c.opts.RetryDelay <= 0 {
		c.opts.RetryDelay = 100 * time.Millisecond
	}
	c.ingested = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_console_events_total",
		Help: "Events read by the console, by topic and result: stored, duplicate (already stored), invalid (not an xunjian.event/v1 event, skipped).",
	}, []string{"topic", "result"})
	c.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "xunjian_console_consumer_lag",
		Help: "Messages behind the end of each partition the console reads, as of its last read.",
	}, []string{"topic", "partition"})
	return c, nil
}

// Collectors returns the consumer's metrics, to register.
func (c *Consumer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.ingested, c.lag}
}

// Ready reports whether the consumer is reading: Run has started, the
// brokers answered, its last fetch succeeded and the reader reported no
// error within the last readerErrorWindow.
func (c *Consumer) Ready() bool {
	return c.ready.Load() && time.Since(time.Unix(0, c.readerErr.Load())) > readerErrorWindow
}

// ClientID is the client id the console gives Kafka.
const ClientID = "xunjian-console"

// partitionWatch is how often the group reader looks at the partition
// counts of its topics.
const partitionWatch = 2 * time.Second

// readerErrorWindow is how long an error the reader reported keeps the
// consumer unready: longer than kafka-go's retries of a group that cannot
// join (5 s apart), so a broker refusing the console keeps it unready.
const readerErrorWindow = 15 * time.Second

// waitBrokers connects to the brokers (TLS and SASL included) until one
// answers, logging why not (once per distinct reason) and backing off
// meanwhile; false when ctx ended first. kafka-go's group reader would
// retry a refused password silently, so it starts only after this.
func (c *Consumer) waitBrokers(ctx context.Context) bool {
	delay := c.opts.RetryDelay
	last := ""
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := kafkasec.CheckDialer(cctx, c.opts.Dialer, c.cfg.Brokers, c.opts.Kafka.Explain)
		cancel()
		if err == nil {
			if last != "" {
				c.log.Info("console: Kafka answers", "security", c.opts.Kafka.String())
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if msg := err.Error(); msg != last {
			c.log.Error("console: cannot reach Kafka; retrying", "security", c.opts.Kafka.String(), "err", msg)
			last = msg
		}
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// waitTopics returns once each topic has partitions that all have a
// leader, or false when ctx is done first. A group that joins before
// then is assigned the partitions that existed at the join, and kafka-go
// only rebalances when a topic's partition count changes after that: a
// console started before the gateway created its topics (the usual order
// on a fresh install) would read nothing until another member came or
// went.
func (c *Consumer) waitTopics(ctx context.Context) bool {
	topics := []string{c.cfg.Topics.Alerts, c.cfg.Topics.Findings, c.cfg.Topics.Samples}
	delay := c.opts.RetryDelay
	logged := false
	for {
		missing, err := c.missingTopics(ctx, topics)
		if err == nil && len(missing) == 0 {
			if logged {
				c.log.Info("console: the topics are there; reading", "topics", topics)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !logged {
			c.log.Warn("console: waiting for the gateway's topics (a gateway creates them when it starts)",
				"missing", missing, "err", err)
			logged = true
		}
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// missingTopics returns the topics without partitions, or with one that
// has no leader yet, as the first broker that answers sees them.
func (c *Consumer) missingTopics(ctx context.Context, topics []string) ([]string, error) {
	var err error
	for _, b := range c.cfg.Brokers {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var conn *kafka.Conn
		conn, err = c.opts.Dialer.DialContext(cctx, "tcp", b)
		cancel()
		if err != nil {
			continue
		}
		var parts []kafka.Partition
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		parts, err = conn.ReadPartitions(topics...)
		conn.Close()
		if err != nil {
			continue
		}
		led := map[string]bool{}
		for _, p := range parts {
			if _, seen := led[p.Topic]; !seen {
				led[p.Topic] = true
			}
			led[p.Topic] = led[p.Topic] && p.Leader.ID >= 0 && p.Leader.Host != ""
		}
		var missing []string
		for _, t := range topics {
			if !led[t] {
				missing = append(missing, t)
			}
		}
		return missing, nil
	}
	return topics, fmt.Errorf("read the topics' partitions: %w", err)
}

// readerError is kafka-go's reader's error log: it marks the consumer
// unready for readerErrorWindow and logs the error, explained, at most
// once per distinct text per minute.
func (c *Consumer) readerError(format string, args ...any) {
	c.readerErr.Store(time.Now().UnixNano())
	msg := fmt.Sprintf(format, args...)
	if c.readerLog.allow(msg, time.Now()) {
		c.log.Warn("console: the Kafka reader reports an error; it retries", "security", c.opts.Kafka.String(),
			"err", c.opts.Kafka.Explain(errors.New(msg)).Error())
	}
}

// logLimiter lets a message through at most once a minute; it is safe
// for concurrent use.
type logLimiter struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (l *logLimiter) allow(msg string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.seen[msg]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if l.seen == nil || len(l.seen) > 100 {
		l.seen = map[string]time.Time{}
	}
	l.seen[msg] = now
	return true
}

// Run reads the topics until ctx is done, then leaves the group
// (committing what it handled) and returns nil. Other errors never stop
// it: a broker that cannot be reached is retried, and the consumer is not
// Ready meanwhile.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.waitBrokers(ctx) || !c.waitTopics(ctx) {
		return nil
	}
	start := kafka.FirstOffset
	if c.cfg.StartFromEnd {
		start = kafka.LastOffset
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        c.cfg.Brokers,
		GroupID:        c.cfg.Group,
		GroupTopics:    []string{c.cfg.Topics.Alerts, c.cfg.Topics.Findings, c.cfg.Topics.Samples},
		Dialer:         c.opts.Dialer,
		StartOffset:    start,
		MinBytes:       1,
		MaxBytes:       10 << 20,
		MaxWait:        100 * time.Millisecond,
		CommitInterval: 0, // each handled message is committed before the next is read
		SessionTimeout: c.cfg.SessionTimeout.D(),
		// Heartbeats well within the session, as Kafka advises (a third).
		HeartbeatInterval: c.cfg.SessionTimeout.D() / 3,
		RebalanceTimeout:  c.cfg.SessionTimeout.D(),
		ErrorLogger:       kafka.LoggerFunc(c.readerError),
		// Partitions added to a topic later are read from the next look.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: partitionWatch,
	})
	defer func() {
		c.ready.Store(false)
		if err := r.Close(); err != nil {
			c.log.Warn("console: leaving the consumer group", "err", err)
		}
	}()
	c.ready.Store(true)
	delay := c.opts.RetryDelay
	for {
		m, err := r.FetchMessage(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			c.ready.Store(false)
			c.log.Warn("console: fetch failed; retrying", "err", c.opts.Kafka.Explain(err))
			if !sleep(ctx, delay) {
				return nil
			}
			delay = min(2*delay, 5*time.Second)
			continue
		}
		c.ready.Store(true)
		delay = c.opts.RetryDelay
		c.lag.WithLabelValues(m.Topic, strconv.Itoa(m.Partition)).Set(float64(max(m.HighWaterMark-m.Offset-1, 0)))
		if !c.handle(ctx, &m) {
			return nil
		}
		if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			// Not fatal: the message is read again after a restart and
			// found already stored.
			c.log.Warn("console: commit failed", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		}
	}
}

// handle stores m's event and hands its alerts on, retrying the database
// until it answers; false when ctx ended first.
func (c *Consumer) handle(ctx context.Context, m *kafka.Message) bool {
	ev, err := event.Parse(m.Value)
	if err == nil && (ev.EventID == "" || ev.Tenant == "" || ev.ConversationID == "") {
		err = errors.New("event_id, tenant and conversation_id are required")
	}
	if err != nil {
		c.ingested.WithLabelValues(m.Topic, "invalid").Inc()
		// The error names a field or a JSON position, never the text.
		c.log.Error("console: skipping a message that is not an xunjian.event/v1 event", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		return true
	}
	delay := c.opts.RetryDelay
	for {
		err := c.store(ctx, ev, m)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.log.Error("console: storing an event failed; retrying", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "event_id", ev.EventID, "err", err)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// store ingests ev; for the alerts topic it publishes the alerts it
// created and offers every alert of ev to the notifier.
func (c *Consumer) store(ctx context.Context, ev *event.Event, m *kafka.Message) error {
	inserted, err := c.st.Ingest(ctx, ev, m.Topic, m.Partition, m.Offset)
	if errors.Is(err, store.ErrTenantMismatch) {
		// The same event id under another tenant: a forged or broken copy.
		// Storing it would cross tenants; waiting will not help.
		c.ingested.WithLabelValues(m.Topic, "invalid").Inc()
		c.log.Error("console: skipping an event whose id another tenant's event holds", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "event_id", ev.EventID)
		return nil
	}
	if err != nil {
		return err
	}
	result := "duplicate"
	if inserted {
		result = "stored"
	}
	c.ingested.WithLabelValues(m.Topic, result).Inc()
	if m.Topic != c.cfg.Topics.Alerts || len(ev.Alerts) == 0 {
		return nil
	}
	alerts, err := c.st.EventAlerts(ctx, ev.Tenant, ev.EventID)
	if err != nil {
		return err
	}
	if inserted && c.opts.Publisher != nil {
		for _, a := range alerts {
			c.opts.Publisher.PublishAlert(a)
		}
	}
	if c.opts.Notifier == nil {
		return nil
	}
	team := ""
	if len(alerts) > 0 {
		team = alerts[0].Team
	}
	ns, err := notify.FromEvent(ev, team)
	if err != nil {
		c.log.Error("console: alerts not posted", "event_id", ev.EventID, "err", err)
		return nil
	}
	for _, n := range ns {
		if err := c.opts.Notifier.Submit(ctx, n); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
	}
	return nil
}

// Recover offers the notifier every alert created since since again, with
// the masked turns of its conversation up to it as context: the ones whose
// posting a previous process did not finish are posted; the notifier's
// ledger skips the others. It returns how many alerts it offered.
func (c *Consumer) Recover(ctx context.Context, since time.Time) (int, error) {
	if c.opts.Notifier == nil {
		return 0, nil
	}
	convs := map[[2]string]store.Conversation{}
	offered, after := 0, int64(0)
	for {
		alerts, err := c.st.AlertsSince(ctx, since, after, store.MaxLimit)
		if err != nil {
			return offered, fmt.Errorf("consume: recover: %w", err)
		}
		if len(alerts) == 0 {
			return offered, nil
		}
		for _, a := range alerts {
			key := [2]string{a.Tenant, a.ConversationID}
			conv, ok := convs[key]
			if !ok {
				if conv, err = c.st.Conversation(ctx, a.Tenant, a.ConversationID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return offered, fmt.Errorf("consume: recover: %w", err)
				}
				convs[key] = conv
			}
			level, err := notify.ParseLevel(a.Level.String())
			if err != nil {
				continue // a level the notifier cannot post; counted when read
			}
			n := notify.Notification{
				EventID: a.EventID, Time: a.CreatedAt, Tenant: a.Tenant, Team: a.Team, ConversationID: a.ConversationID,
				AgentID: a.AgentID, Level: level, Kind: a.Kind, Message: a.Message, Risk: a.Risk, Context: contextOf(conv, a.CreatedAt),
			}
			if err := c.opts.Notifier.Submit(ctx, n); err != nil {
				return offered, fmt.Errorf("consume: recover: %w", err)
			}
			offered++
		}
		last := alerts[len(alerts)-1]
		since, after = last.CreatedAt, last.ID
		clear(convs) // a page's conversations; the next page's are mostly others
	}
}

// maxContext is how many turns a recovered notification carries, as the
// gateway's alert events do.
const maxContext = 5

// contextOf returns the last turns of conv up to until, oldest first.
func contextOf(conv store.Conversation, until time.Time) []event.Turn {
	var out []event.Turn
	for _, t := range conv.Turns {
		if t.TS.After(until) {
			break
		}
		out = append(out, event.Turn{Role: t.Role, TS: t.TS, TextMasked: t.TextMasked, Action: t.Action, Delivered: t.Delivered})
	}
	if len(out) > maxContext {
		out = out[len(out)-maxContext:]
	}
	return out
}

// sleep waits d or until ctx is done; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
