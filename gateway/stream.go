package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/metrics"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/internal/certfiles"
	"github.com/xunjian/xunjian/internal/kafkasec"
)

// defaultSampleSeed salts the sample when stream.sampling.seed_env is not
// set. It is public, so such a sample is predictable; the config docs say so.
const defaultSampleSeed = "xunjian-default-sample-seed"

// drainTimeout bounds how long shutdown waits for the shipper to send what
// is left in the spool; the rest ships at the next start.
const drainTimeout = 3 * time.Second

// openStream opens the event stream cfg describes, starting the embedded
// broker when no brokers are configured, and exports the expiry of its
// Kafka client certificate to m. Both are nil when events are off.
func openStream(cfg *config.Config, getenv func(string) string, log *slog.Logger, m *metrics.Metrics) (*stream.Stream, *embedded.Broker, error) {
	sc := cfg.Stream // a copy: the secrets and the broker address stay out of cfg
	if sc.Disabled {
		log.LogAttrs(context.Background(), slog.LevelWarn, "event stream disabled (stream.disabled): findings reach no supervisor or auditor")
		return nil, nil, nil
	}
	if sc.TextKeyEnv != "" {
		var err error
		if sc.Encryptor, err = event.NewEncryptor(getenv(sc.TextKeyEnv), sc.TextKeyID); err != nil {
			return nil, nil, fmt.Errorf("stream.text_key_env %s: %w", sc.TextKeyEnv, err)
		}
	}
	sc.Sampling.Seed = defaultSampleSeed
	if sc.Sampling.SeedEnv != "" {
		if sc.Sampling.Seed = getenv(sc.Sampling.SeedEnv); sc.Sampling.Seed == "" {
			return nil, nil, fmt.Errorf("stream.sampling.seed_env: environment variable %s is empty: set it to one secret shared by every gateway (e.g. %s=$(openssl rand -hex 16) xunjian serve --config FILE), or remove seed_env for the public default seed", sc.Sampling.SeedEnv, sc.Sampling.SeedEnv)
		}
	}
	var err error
	if sc.Kafka, err = sc.Security.OpenWith("stream", kafkasec.Options{Getenv: getenv, Logger: log}); err != nil {
		return nil, nil, err
	}
	if sc.Kafka != nil {
		m.CertExpiry(certfiles.UseKafkaClient, sc.Kafka.Certificate)
	}
	var broker *embedded.Broker
	if len(sc.Brokers) == 0 {
		broker, err = embedded.Start(embedded.Options{Addr: sc.EmbeddedBroker, Topics: []string{sc.Topics.Findings, sc.Topics.Alerts, sc.Topics.Samples}})
		if err != nil {
			return nil, nil, fmt.Errorf("stream: no brokers configured and the built-in broker did not start: %w", err)
		}
		sc.Brokers = []string{broker.Addr()}
		log.LogAttrs(context.Background(), slog.LevelWarn,
			"no Kafka brokers configured: started the built-in in-memory Kafka-protocol broker (events are lost on exit; set stream.brokers for production)",
			slog.String("broker", broker.Addr()),
			slog.String("watch", "xunjian tail findings --brokers "+broker.Addr()))
	}
	sc.Logger = log
	st, err := stream.Open(sc)
	if err != nil {
		if broker != nil {
			broker.Close()
		}
		return nil, nil, err
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "event stream",
		slog.Any("brokers", sc.Brokers), slog.String("kafka_security", sc.Kafka.String()),
		slog.String("spool", sc.Spool.Dir), slog.String("fsync", string(sc.Spool.Fsync)),
		slog.String("on_full", sc.Spool.OnFull), slog.Bool("text_encrypted", sc.Encryptor != nil))
	return st, broker, nil
}

// streamStats adapts the stream's counters to the metrics package.
func streamStats(st *stream.Stream) func() metrics.StreamStats {
	return func() metrics.StreamStats {
		s := st.Stats()
		return metrics.StreamStats{
			Spooled: s.Events, Findings: s.Findings, Alerts: s.Alerts, Samples: s.Samples,
			Suppressed: s.Suppressed, Dropped: s.Dropped, Held: s.Held, Errors: s.Errors,
			Shipped: s.Shipper.Shipped, ShipFailures: s.Shipper.Failures,
			SpoolBytes: s.Spool.Bytes, SpoolEvents: s.Spool.Records, SpoolFull: s.Spool.Full,
		}
	}
}

// runStream ships events until ctx is done, then gives the shipper a
// moment to drain what is left.
func (s *Server) runStream(ctx context.Context) {
	err := s.stream.Run(ctx)
	if err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelError, "event shipper stopped", slog.String("error", err.Error()))
		return
	}
	if s.stream.Stats().Spool.Records == 0 {
		return
	}
	drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-drain.Done():
				return
			case <-t.C:
				if s.stream.Stats().Spool.Records == 0 {
					cancel()
					return
				}
			}
		}
	}()
	_ = s.stream.Run(drain)
	if n := s.stream.Stats().Spool.Records; n > 0 {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "events left in the spool at shutdown; they ship at the next start", slog.Int64("events", n))
	}
}

// recorder records inspected messages on the event stream: the session's
// inspect.Recorder.
type recorder struct {
	st     *stream.Stream
	onFull string // stream.spool.on_full
	log    *slog.Logger
}

var _ inspect.Recorder = (*recorder)(nil)

// errHeld is what the recorder answers when the message must be held: its
// event could not be written and the spool is configured to hold
// (on_full: hold).
var errHeld = errors.New("event not written and stream.spool.on_full is hold")

// Record writes the event of an inspected message. An event that could not
// be written is dropped, counted by the stream and logged, unless the
// spool is configured to hold; then the message is held.
func (r *recorder) Record(ctx context.Context, rec *inspect.Record) error {
	return r.record(ctx, rec, nil, false)
}

// record is Record with the alert and sampling decisions the shared state
// made (nil: the stream's own), and the degraded flag.
func (r *recorder) record(ctx context.Context, rec *inspect.Record, decided *stream.Decisions, degraded bool) error {
	m, c := rec.Message, rec.Conversation
	em := stream.Message{
		Tenant: m.TenantID, ConversationID: m.ConversationID, AgentID: m.AgentID, AgentClaimed: m.AgentClaimed, Role: m.Role, Route: m.Route,
		Verdict: rec.Verdict, Risk: c.Risk, Recent: c.Recent, Raw: m.Text, Now: rec.Now, Decided: decided, Degraded: degraded,
	}
	if n := len(c.Recent); n > 0 {
		em.Masked = c.Recent[n-1].Text
	}
	err := r.st.Publish(ctx, em)
	if err == nil {
		return nil
	}
	if !errors.Is(err, stream.ErrFull) {
		r.log.LogAttrs(context.Background(), slog.LevelError, "event not written", slog.String("error", err.Error()))
	}
	if r.onFull == stream.OnFullHold {
		return errHeld
	}
	return nil
}

// Commit makes the written events durable (fsync: always).
func (r *recorder) Commit(ctx context.Context) error {
	if err := r.st.Commit(ctx); err != nil {
		r.log.LogAttrs(context.Background(), slog.LevelError, "event not made durable", slog.String("error", err.Error()))
		if r.onFull == stream.OnFullHold {
			return errHeld
		}
	}
	return nil
}
