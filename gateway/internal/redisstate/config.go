package redisstate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// Modes: what a gateway does with a request while the shared state is
// unreachable (Config.Mode).
const (
	// ModeDegrade serves the request on the gateway's own state (its
	// conversation store, limits, alert deduplication, sampling and ack
	// record), and flags it: the verdict, the event, /readyz and a metric
	// say so. The default.
	ModeDegrade = "degrade"
	// ModeFailClosed answers the request 503 state_unavailable, as the
	// gateway's other inspection failures are answered: nothing decided on
	// a fragment of the state.
	ModeFailClosed = "fail_closed"
)

// Defaults of zero Config fields.
const (
	DefaultTimeout     = 20 * time.Millisecond
	DefaultDialTimeout = time.Second
	DefaultKeyPrefix   = "xunjian:"
	DefaultBreakerOpen = time.Second
)

// Config configures the state several gateways share on Redis (or
// Valkey); it is the `shared_state` section of the gateway's
// configuration file. Without Addrs there is none: each gateway keeps its
// state in its own memory (the default).
type Config struct {
	// Addrs is the server's host:port: one address, or with
	// SentinelMaster the Sentinels' addresses, or with Cluster some of the
	// cluster's nodes (seeds: the client learns the others and the slots
	// from them). Empty: no shared state.
	Addrs []string `yaml:"addrs"`
	// SentinelMaster is the name of the primary the Sentinels at Addrs
	// watch; empty means Addrs[0] is the server itself (or, with Cluster,
	// Addrs are seed nodes).
	SentinelMaster string `yaml:"sentinel_master"`
	// Cluster says Addrs are seed nodes of a Redis Cluster (or a Valkey
	// cluster): keys are spread over its primaries by hash slot, each
	// script's keys in one slot (see the package doc). Not with
	// SentinelMaster, nor with a DB other than 0.
	Cluster bool `yaml:"cluster"`
	// DB is the database number; default 0 (the only one a cluster has).
	DB int `yaml:"db"`
	// Username is the ACL user; empty means the default user.
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password;
	// the gateway reads it at start into Password. Empty means none.
	PasswordEnv string `yaml:"password_env"`
	// Password is the password read from PasswordEnv. Never in the file,
	// never logged.
	Password string `yaml:"-"`
	// TLS, when Enabled, connects over TLS.
	TLS TLS `yaml:"tls"`
	// Timeout bounds every call (one round trip) to the server, within the
	// inspection deadline: past it the call fails and Mode applies; default
	// DefaultTimeout (20ms). It must not exceed limits.inspect_timeout.
	Timeout duration.Duration `yaml:"timeout"`
	// DialTimeout bounds a new connection, within Timeout when a request
	// waits for it; default DefaultDialTimeout (1s) for the background
	// reconnects.
	DialTimeout duration.Duration `yaml:"dial_timeout"`
	// PoolSize bounds the connections to the server (in a cluster, to each
	// node); zero means the client's default (10 per CPU; in a cluster 5
	// per CPU and node).
	PoolSize int `yaml:"pool_size"`
	// KeyPrefix starts every key, so gateways of several deployments may
	// share a server; default DefaultKeyPrefix ("xunjian:"). No braces:
	// the keys' hash tags pick their cluster slot.
	KeyPrefix string `yaml:"key_prefix"`
	// Mode is what a request does while the server is unreachable:
	// ModeDegrade (default) or ModeFailClosed.
	Mode string `yaml:"mode"`
	// BreakerOpen is how long after a failed call requests stop waiting
	// for the server (degrading or failing at once) before one tries it
	// again; a background probe also closes the breaker as soon as the
	// server answers. Default DefaultBreakerOpen (1s).
	BreakerOpen duration.Duration `yaml:"breaker_open"`
}

// TLS configures TLS to the server.
type TLS struct {
	// Enabled turns TLS on; default off.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs to trust; empty means the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate and its key (PEM), for
	// servers that ask for one; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name to verify the server's certificate against;
	// empty means the host of the address (in a cluster, of each node's
	// address as the cluster announces it).
	ServerName string `yaml:"server_name"`
}

// Enabled reports whether the gateways share state (Addrs is set).
func (c *Config) Enabled() bool { return len(c.Addrs) > 0 }

// Defaults fills the zero fields of c that have a default.
func (c *Config) Defaults() {
	if c.Timeout == 0 {
		c.Timeout = duration.Duration(DefaultTimeout)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = duration.Duration(DefaultDialTimeout)
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.Mode == "" {
		c.Mode = ModeDegrade
	}
	if c.BreakerOpen == 0 {
		c.BreakerOpen = duration.Duration(DefaultBreakerOpen)
	}
}

// Validate checks c as a configuration file gives it (call Defaults
// first), naming each fault by its YAML path under path (e.g.
// "shared_state.mode: ..."), all of them joined. A section without addrs
// is not checked further.
func (c Config) Validate(path string) error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	for i, a := range c.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad(fmt.Sprintf("addrs[%d]", i), "%q is not host:port", a)
		}
	}
	switch {
	case c.Cluster && c.SentinelMaster != "":
		bad("cluster", "not with sentinel_master: give a cluster's seed nodes (cluster: true) or Sentinels (sentinel_master), not both")
	case len(c.Addrs) > 1 && !c.Cluster && c.SentinelMaster == "":
		bad("addrs", "%d addresses: give one server, Sentinels with sentinel_master, or a cluster's seed nodes with cluster: true", len(c.Addrs))
	}
	if c.DB < 0 {
		bad("db", "must not be negative")
	} else if c.Cluster && c.DB != 0 {
		bad("db", "%d: a cluster has database 0 only", c.DB)
	}
	if c.PoolSize < 0 {
		bad("pool_size", "must not be negative")
	}
	for field, d := range map[string]duration.Duration{"timeout": c.Timeout, "dial_timeout": c.DialTimeout, "breaker_open": c.BreakerOpen} {
		if d < 0 {
			bad(field, "must not be negative")
		}
	}
	switch c.Mode {
	case ModeDegrade, ModeFailClosed:
	default:
		bad("mode", "%q: want degrade or fail_closed", c.Mode)
	}
	if strings.ContainsAny(c.KeyPrefix, " \r\n{}") {
		bad("key_prefix", "%q: no spaces, line breaks or braces (braces would pick the keys' cluster slot)", c.KeyPrefix)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	return errors.Join(errs...)
}

// tlsConfig returns the client's TLS configuration, nil when TLS is off.
// Without ServerName the server's certificate is verified against the host
// of addr, or, when addr is empty (a cluster's nodes), against the host of
// whichever node it connects to.
func (t TLS) tlsConfig(addr string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if cfg.ServerName == "" && addr != "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
