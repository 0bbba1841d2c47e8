// Package config is the configuration of `xunjian console`: one YAML file
// whose sections belong to the console's components (the API's auth, the
// consumer's kafka, the notifier's notify, the quality audits' qa), each with its own defaults and
// checks. The file holds no secret: secrets are named by environment
// variable.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/consume"
	"github.com/xunjian/xunjian/console/notify"
	"github.com/xunjian/xunjian/console/qa"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/internal/servertls"
)

// Defaults of Config.
const (
	DefaultListen          = "127.0.0.1:8082"
	DefaultRecoveryWindow  = 24 * time.Hour
	DefaultShutdownTimeout = 10 * time.Second
)

// Config is the console's configuration file.
type Config struct {
	// Listen is the address of the API, the web console and the
	// operations endpoints (/healthz, /readyz, /metrics). Default
	// 127.0.0.1:8082. Env XUNJIAN_CONSOLE_LISTEN overrides it. A
	// non-loopback address needs credentials in auth.
	Listen string `yaml:"listen"`
	// TLS turns on HTTPS on Listen (servertls.Config: cert_file,
	// key_file, client_ca_file, min_version), the certificate reloaded
	// when its files change; with it the session cookie is Secure
	// (auth.secure_cookie). None is plain HTTP (TLS may end at a proxy in
	// front).
	TLS servertls.Config `yaml:"tls"`
	// Database is where the console keeps its state:
	// sqlite:///absolute/path.db (the default:
	// $XDG_STATE_HOME/xunjian/console.db) or postgres://user@host/db
	// (the password from PGPASSWORD or a .pgpass file, not here). Env
	// XUNJIAN_CONSOLE_DATABASE overrides it.
	Database string `yaml:"database"`
	// Kafka is the consumer group that reads the gateway's topics, and
	// how it reaches the brokers (kafka.tls, kafka.sasl: the gateway's
	// stream.tls and stream.sasl). Env XUNJIAN_KAFKA_BROKERS
	// (comma-separated) overrides kafka.brokers; in dev mode, none means
	// DefaultDevBroker.
	Kafka consume.Config `yaml:"kafka"`
	// Auth says who may use the console; none configured is dev mode
	// (loopback only, everyone the admin of tenant "default").
	Auth api.Config `yaml:"auth"`
	// Teams maps each tenant's agents to their teams: {tenant: {agent:
	// team}}. Alerts carry the team their agent had when they were
	// stored; supervisors see their teams' alerts.
	Teams map[string]map[string]string `yaml:"teams"`
	// Notify posts alerts to chat channels (DingTalk, WeCom, Feishu,
	// Slack, a signed webhook). No channel configured posts nowhere.
	Notify notify.Config `yaml:"notify"`
	// QA configures the quality audits of sampled conversations
	// (docs/qa.md): auditors and assignment, due times, calibration,
	// scorecards, disputes, the quota's minimum and the gateway's text
	// key.
	QA qa.Config `yaml:"qa"`
	// RecoveryWindow is how far back the console offers alerts to the
	// notifier again at start, so that one whose posting a crash cut
	// short is posted (the ledger skips those that were). Default 24h.
	RecoveryWindow duration.Duration `yaml:"recovery_window"`
	// ShutdownTimeout bounds the graceful stop: the notifier's deliveries
	// in flight, the event streams. Default 10s.
	ShutdownTimeout duration.Duration `yaml:"shutdown_timeout"`
}

// Load reads the YAML file at path (none when path is empty), applies the
// environment overrides from getenv (os.Getenv when nil), fills in the
// defaults and validates the result. Unknown fields are errors.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("console config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("console config %s: %w", path, err)
		}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv("XUNJIAN_CONSOLE_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("XUNJIAN_CONSOLE_DATABASE"); v != "" {
		c.Database = v
	}
	if v := getenv("XUNJIAN_KAFKA_BROKERS"); v != "" {
		c.Kafka.Brokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Kafka.Brokers = append(c.Kafka.Brokers, b)
			}
		}
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("console config %s: %w", path, err)
		}
		return nil, fmt.Errorf("console config: %w", err)
	}
	return c, nil
}

// Defaults fills in every field left at its zero value.
func (c *Config) Defaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	c.TLS.Defaults()
	if c.TLS.Enabled() {
		// Browsers reach this console over HTTPS: the cookie must say so.
		c.Auth.SecureCookie = true
	}
	if c.Database == "" {
		c.Database = "sqlite://" + DefaultDatabasePath()
	}
	if c.RecoveryWindow == 0 {
		c.RecoveryWindow = duration.Duration(DefaultRecoveryWindow)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = duration.Duration(DefaultShutdownTimeout)
	}
	if len(c.Kafka.Brokers) == 0 && c.Auth.DevMode() {
		// Dev mode reads the built-in broker of `xunjian serve`.
		c.Kafka.Brokers = []string{DefaultDevBroker}
	}
	c.Kafka.Defaults()
	c.Notify.Defaults()
	c.QA.Defaults()
}

// DefaultDevBroker is the broker a console in dev mode (no credentials
// configured) reads when none is configured: the built-in broker that
// `xunjian serve` starts without a configuration.
const DefaultDevBroker = "127.0.0.1:9092"

// DefaultDatabasePath is the SQLite file of the default database:
// $XDG_STATE_HOME/xunjian/console.db, falling back to ~/.local/state and
// then to the temporary directory.
func DefaultDatabasePath() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".local", "state")
		} else {
			base = os.TempDir()
		}
	}
	return filepath.Join(base, "xunjian", "console.db")
}

// Validate reports every problem of c (defaults applied), each naming its
// field.
func (c *Config) Validate() error {
	errs := []error{
		api.CheckListen(c.Listen, c.Auth.DevMode()),
		c.TLS.Validate("tls"),
		c.Kafka.Validate("kafka"),
		c.Auth.Validate("auth"),
		c.Notify.Validate("notify"),
		c.QA.Validate("qa"),
	}
	if !strings.HasPrefix(c.Database, "sqlite:") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		errs = append(errs, fmt.Errorf("database: %q: want sqlite:///path.db or postgres://…", redactDSN(c.Database)))
	}
	if c.RecoveryWindow < 0 {
		errs = append(errs, errors.New("recovery_window: negative"))
	}
	for tenant, agents := range c.Teams {
		if tenant == "" {
			errs = append(errs, errors.New("teams: an empty tenant id"))
		}
		for agent, team := range agents {
			if agent == "" || team == "" {
				errs = append(errs, fmt.Errorf("teams.%s: agent %q → team %q: both are required", tenant, agent, team))
			}
		}
	}
	return errors.Join(errs...)
}

// redactDSN drops a DSN's password, if any, for an error message.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return dsn[:i+3] + rest[:colon] + ":***" + rest[at:]
			}
		}
	}
	return dsn
}
