// Package console runs `xunjian console`, the supervisors' service beside
// the gateways: a Kafka consumer group over the gateway's event topics
// (console/consume) that stores every event (console/store: SQLite or
// PostgreSQL) and turns each conversation sampled for QA into review tasks
// (console/qa plans them), pushes each new alert to the live wall
// (console/api's event hub) and to the team's chat channels
// (console/notify), and an HTTP server for the API (the quality audits
// under /api/qa included), the web console (console/web) and the
// operations endpoints. The pieces are wired here and nowhere else.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/config"
	"github.com/xunjian/xunjian/console/consume"
	"github.com/xunjian/xunjian/console/notify"
	"github.com/xunjian/xunjian/console/qa"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/console/web"
	"github.com/xunjian/xunjian/internal/certfiles"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/servertls"
)

// Options carry what New needs beyond the configuration.
type Options struct {
	// Logger logs (never a secret, never a message's text); nil means
	// slog.Default().
	Logger *slog.Logger
	// Getenv reads the secrets the configuration names (the QA's text key
	// and salts among them); nil means os.Getenv.
	Getenv func(string) string
}

// Console is a provisioned console: its database open, its notifier,
// consumer and API built. Serve runs it; Close releases what Serve did
// not.
type Console struct {
	cfg      *config.Config
	log      *slog.Logger
	store    *store.Store
	notifier *notify.Dispatcher
	consumer *consume.Consumer
	api      *api.Handler
	reg      *prometheus.Registry
	// tls serves the listener's certificate; nil means plain HTTP.
	tls    *servertls.Reloader
	closed sync.Once
}

// New provisions the console of cfg (defaulted and validated, as
// config.Load returns it): it opens the database (running its
// migrations), records the agents' teams and builds the notifier, the
// consumer and the API. Nothing is read or served until Serve.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Console, error) {
	c := &Console{cfg: cfg, log: opts.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	if cfg.TLS.Enabled() {
		var err error
		// HTTP/2 over TLS: the live wall's event stream and the API share
		// one connection per browser.
		if c.tls, err = servertls.New(cfg.TLS, servertls.Options{Name: "console", Logger: c.log, NextProtos: []string{"h2", "http/1.1"}}); err != nil {
			return nil, fmt.Errorf("console: tls: %w", err)
		}
	}
	kc, err := cfg.Kafka.Security.OpenWith("kafka", kafkasec.Options{Getenv: opts.Getenv, Logger: c.log})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if path, ok := strings.CutPrefix(cfg.Database, "sqlite://"); ok && strings.HasPrefix(path, "/") {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("console: database directory: %w", err)
		}
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	qaCfg := cfg.QA
	if err := qaCfg.ReadSecrets(getenv); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	textKey, err := qaCfg.TextKey(getenv)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	st, err := store.Open(ctx, cfg.Database, store.WithAlertsTopic(cfg.Kafka.Topics.Alerts),
		store.WithSamplesTopic(cfg.Kafka.Topics.Samples), store.WithTaskPlanner(qa.NewPlanner(qaCfg)))
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c.store = st
	for tenant, agents := range cfg.Teams {
		if err := st.SetAgentTeams(ctx, tenant, agents); err != nil {
			st.Close()
			return nil, fmt.Errorf("console: teams of %s: %w", tenant, err)
		}
	}
	reg := prometheus.NewRegistry()
	c.reg = reg
	certs := certfiles.NewExpiry()
	if c.tls != nil {
		certs.Add(certfiles.UseConsole, c.tls.Certificate)
	}
	if kc != nil {
		certs.Add(certfiles.UseKafkaClient, kc.Certificate)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), certs)
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_console_deliveries_total",
		Help: "Alert deliveries to chat channels, by channel and result (delivered, duplicate, throttled, retry, dead, canceled).",
	}, []string{"channel", "result"})
	reg.MustRegister(deliveries)
	if c.notifier, err = notify.New(cfg.Notify, notify.Options{
		Getenv: opts.Getenv, Ledger: st, DeadLetters: deadLetters{st}, Logger: c.log,
		OnDelivery: func(channel, result string) { deliveries.WithLabelValues(channel, result).Inc() },
	}); err != nil {
		st.Close()
		return nil, fmt.Errorf("console: notify: %w", err)
	}
	hub := api.NewHub(api.HubConfig{})
	if c.consumer, err = consume.New(cfg.Kafka, st, consume.Options{Publisher: publisher{hub}, Notifier: c.notifier, Logger: c.log, Kafka: kc}); err != nil {
		c.closeNotifier()
		st.Close()
		return nil, err
	}
	reg.MustRegister(c.consumer.Collectors()...)
	if c.api, err = api.New(cfg.Auth, api.Options{
		Store: st, Hub: hub, Registry: reg, Ready: c.ready, UI: web.Handler(), Logger: c.log, Getenv: opts.Getenv,
		QA: &api.QAOptions{Store: st, Config: &qaCfg, TextKey: textKey},
	}); err != nil {
		c.closeNotifier()
		st.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	return c, nil
}

// Handler returns the console's HTTP handler: the API, the web console
// and the operations endpoints.
func (c *Console) Handler() http.Handler { return c.api }

// Registry returns the registry of the console's metrics (for tests and
// embedding), as /metrics serves it.
func (c *Console) Registry() *prometheus.Registry { return c.reg }

// ready reports whether the console can serve: the database answers and
// the consumer is reading.
func (c *Console) ready(ctx context.Context) error {
	if err := c.store.Ping(ctx); err != nil {
		return errors.New("database unavailable")
	}
	if !c.consumer.Ready() {
		return errors.New("not reading from Kafka")
	}
	return nil
}

// Run listens on the configured address and serves until ctx is done.
func (c *Console) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("console: listen: %w", err)
	}
	return c.Serve(ctx, ln)
}

// Serve reads the topics and serves HTTP on ln (a plain TCP listener,
// which speaks TLS here when the configuration says so) until ctx is
// done, then
// stops gracefully: no new request, the event streams ended, the consumer
// out of its group (its offsets committed), the notifier's deliveries in
// flight finished or abandoned at the shutdown timeout (an abandoned one
// is posted after the restart: the ledger does not mark it done), the
// database closed.
func (c *Console) Serve(ctx context.Context, ln net.Listener) error {
	defer c.Close()
	srv := &http.Server{
		Handler:           c.api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		// Beside the reading, not before it: a day of alerts to offer the
		// notifier again must not keep new ones off the wall.
		defer wg.Done()
		since := time.Now().Add(-c.cfg.RecoveryWindow.D())
		if n, err := c.consumer.Recover(runCtx, since); err != nil && runCtx.Err() == nil {
			c.log.Error("console: recovering the alerts to post", "err", err)
		} else if n > 0 {
			c.log.Info("console: offered the recent alerts to the notifier again", "alerts", n, "since", since)
		}
	}()
	go func() {
		defer wg.Done()
		_ = c.consumer.Run(runCtx)
	}()
	if c.tls != nil {
		ln = c.tls.Listener(ln)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c.log.Info("console listening", "addr", ln.Addr().String(), "tls", c.tls != nil, "kafka_security", c.cfg.Kafka.Security.Protocol(),
		"database", dialectOf(c.cfg.Database), "dev_mode", c.cfg.Auth.DevMode())

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("console: serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.cfg.ShutdownTimeout.D())
	defer cancel()
	c.api.Close() // the event streams end, so Shutdown need not wait for them
	if serr := srv.Shutdown(sctx); serr != nil && err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = fmt.Errorf("console: shutdown: %w", serr)
	}
	stopRun()
	wg.Wait()
	if nerr := c.notifier.Close(sctx); nerr != nil {
		c.log.Warn("console: notifier stopped with deliveries unfinished; they are posted after the restart", "err", nerr)
	}
	c.log.Info("console stopped")
	return err
}

// Close releases the notifier and the database; Serve calls it.
func (c *Console) Close() {
	c.closed.Do(func() {
		c.closeNotifier()
		if err := c.store.Close(); err != nil {
			c.log.Warn("console: closing the database", "err", err)
		}
	})
}

func (c *Console) closeNotifier() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.notifier.Close(ctx) // a second Close returns at once
}

// dialectOf names the database kind of a DSN for the log (never the DSN,
// which may hold a password).
func dialectOf(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return "sqlite"
	}
	return "postgres"
}

// publisher announces the consumer's new alerts on the API's event hub.
type publisher struct{ hub *api.Hub }

func (p publisher) PublishAlert(a store.Alert) { p.hub.Publish(a, api.KindAlert) }

// deadLetters records the notifier's failed deliveries in the database.
type deadLetters struct{ st *store.Store }

// Dead implements notify.DeadLetters: the channel, what was posted (ids,
// kind and level, never text) and the error, scrubbed of secrets by the
// notifier.
func (d deadLetters) Dead(ctx context.Context, del notify.Delivery, err error) error {
	summary := "digest"
	if n := del.Notification; n != nil {
		summary = fmt.Sprintf("tenant %s, conversation %s, event %s, %s/%s", n.Tenant, n.ConversationID, n.EventID, n.Kind, n.Level)
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return d.st.Dead(ctx, del.Key, del.Channel, summary, msg)
}
