// Package config is the gateway's configuration: a YAML file, environment
// variables that override it, defaults for everything left out, and
// validation that names the field and the reason before anything starts.
//
// Each component owns the struct its section of the file is decoded into,
// with the defaults of its fields (a Defaults method and Default…
// constants) and the checks of its fields (a Validate method naming the
// YAML path); Config holds those structs beside the gateway's own
// settings:
//
//	routes         []proxy.Route
//	auth           auth.Config (admin keys: admin.api_keys, Admin)
//	conversations  convstore.Config (gateway/internal/convstore)
//	ack            ack.Config (gateway/internal/ack)
//	limits         Limits, with ratelimit.Rates inline (gateway/internal/ratelimit)
//	stream         stream.Config, with stream.Topics, stream.SpoolConfig
//	               (spool.Options inline), alerting.Config, sampling.Config,
//	               kafkasec.Config inline (stream.tls, stream.sasl)
//	tls            TLS: servertls.Config per listener (internal/servertls)
//	shared_state   redisstate.Config (gateway/internal/redisstate)
//
// Durations are written "50ms", "2s", "5m" (duration.Duration).
//
// The zero Config is valid: it is the development mode the gateway runs in
// without a file (loopback only, no credentials, check-only, the built-in
// policy).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/internal/ack"
	"github.com/xunjian/xunjian/gateway/internal/convstore"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/internal/redisstate"
	"github.com/xunjian/xunjian/gateway/opinion"
	"github.com/xunjian/xunjian/gateway/proxy"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/internal/loopback"
	"github.com/xunjian/xunjian/internal/servertls"
	"github.com/xunjian/xunjian/rules"
)

// Config is the whole gateway configuration. The sections a component
// is configured with are that component's own struct, which documents its
// fields' defaults and checks them (Defaults, Validate); the rest are the
// gateway's own, documented here. Load and Defaults fill in every default.
type Config struct {
	// Listen is the agent port's address; default 127.0.0.1:8080.
	// Env XUNJIAN_LISTEN overrides it.
	Listen string `yaml:"listen"`
	// AdminListen is the admin port's address; default 127.0.0.1:8081.
	// Env XUNJIAN_ADMIN_LISTEN overrides it.
	AdminListen string `yaml:"admin_listen"`
	// TLS turns on TLS for the agent port (tls.agent) and the admin port
	// (tls.admin), each with its own certificate and key files, reloaded
	// when they change; tls.admin.client_ca_file makes the admin port
	// require client certificates. A listener without cert_file serves
	// plain HTTP (TLS may end at a load balancer in front).
	TLS TLS `yaml:"tls"`
	// Policy is the policy bundle: a directory, a .tar.gz, or an http(s)
	// URL of a bundle (polled with ETag, as OPA's bundle service is); empty
	// means the built-in bundle. Env XUNJIAN_POLICY overrides it.
	Policy string `yaml:"policy"`
	// PolicyPoll is how often the bundle is checked for a new version,
	// which is compiled and tested before it is swapped in; default
	// rules.DefaultPollInterval (2s).
	PolicyPoll duration.Duration `yaml:"policy_poll"`
	// Limits bound requests and inspection.
	Limits Limits `yaml:"limits"`
	// Auth configures agent clients' credentials (its AdminKeys are not
	// read from here: see Admin). With none configured the gateway accepts
	// requests without a credential (dev mode), and only on loopback.
	Auth auth.Config `yaml:"auth"`
	// Admin configures the admin port's own credentials.
	Admin Admin `yaml:"admin"`
	// Tenants holds per-tenant settings by tenant id. A tenant without an
	// entry gets the zero Tenant (fail closed).
	Tenants map[string]Tenant `yaml:"tenants"`
	// Routes are the proxy routes. None means check-only.
	Routes []proxy.Route `yaml:"routes"`
	// TrustedProxies are the networks (CIDR, e.g. 10.0.0.0/8) of load
	// balancers in front of the gateway. Forwarding headers
	// (X-Forwarded-For, Forwarded, X-Real-IP) from a client outside them
	// are dropped, not passed to the chat backend; default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Conversations bounds the conversation context store.
	Conversations convstore.Config `yaml:"conversations"`
	// Cache bounds the caches of detector findings and policy decisions.
	Cache Cache `yaml:"cache"`
	// Ack configures the tokens that release a held (confirm) draft.
	Ack ack.Config `yaml:"ack"`
	// Stream configures the event stream to Kafka: the on-disk spool every
	// event is appended to before its verdict is returned, the shipper
	// that drains it, and the topics, alert deduplication and QA sampling;
	// stream.tls and stream.sasl say how the brokers are reached
	// (internal/kafkasec: TLS, SCRAM, the password from the environment).
	// Env XUNJIAN_KAFKA_BROKERS (comma-separated) overrides stream.brokers,
	// XUNJIAN_SPOOL_DIR stream.spool.dir and XUNJIAN_EMBEDDED_BROKER
	// stream.embedded_broker.
	Stream stream.Config `yaml:"stream"`
	// SecondOpinion configures the optional second opinion on drafts the
	// learned model scored in a grey zone: an OpenAI-compatible
	// chat-completions endpoint, off by default, shadow by default once
	// enabled (recorded in the event, never the action) until a tenant
	// enforces it.
	SecondOpinion opinion.Config `yaml:"second_opinion"`
	// SharedState puts the state gateways behind one load balancer must
	// share on Redis (or Valkey): conversation context, alert
	// deduplication, per-agent sampling counts, rate limits and used ack
	// tokens. Without addrs (the default) each gateway keeps them in its
	// own memory. mode says what a request does while the server is away:
	// degrade (serve on this gateway's own state, flagged) or fail_closed
	// (503 state_unavailable).
	SharedState redisstate.Config `yaml:"shared_state"`
}

// Limits bound requests and inspection.
type Limits struct {
	// Rates are the per-agent and per-credential rate limits
	// (agent_rate, agent_burst, credential_rate, credential_burst; see
	// ratelimit.Rates): zero rates mean no limit, zero bursts twice the
	// rate, and credential limits zero mean the agent's.
	ratelimit.Rates `yaml:",inline"`
	// MaxBodyBytes bounds request bodies; default 64 KiB. Larger get 413.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// ReadTimeout and WriteTimeout bound a client connection's reads and
	// writes; default 10s each.
	ReadTimeout  duration.Duration `yaml:"read_timeout"`
	WriteTimeout duration.Duration `yaml:"write_timeout"`
	// IdleTimeout closes idle keep-alive connections; default 60s.
	IdleTimeout duration.Duration `yaml:"idle_timeout"`
	// InspectTimeout bounds one inspection; past it the tenant's fail mode
	// applies. Default 50ms.
	InspectTimeout duration.Duration `yaml:"inspect_timeout"`
	// MaxInflight bounds the inspections running at once; default 16 per
	// CPU. A draft that finds no free slot within QueueTimeout (default
	// 10ms) is answered 503 overloaded with Retry-After before any
	// inspection, so that overload sheds load instead of running
	// inspections past their deadline into the fail mode.
	MaxInflight  int               `yaml:"max_inflight"`
	QueueTimeout duration.Duration `yaml:"queue_timeout"`
	// MaxContextTurns and MaxContextBytes bound the inline context of a
	// /v1/check request (turns, and their text bytes in all); default 20
	// turns and 16 KiB. Beyond them the request is answered 413
	// context_too_large.
	MaxContextTurns int `yaml:"max_context_turns"`
	MaxContextBytes int `yaml:"max_context_bytes"`
	// MaxHeaderBytes bounds a request's header block; default 16 KiB, so
	// that a JWT of the 8 KiB the gateway accepts fits with room for the
	// other headers. Larger get 431.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ShutdownTimeout bounds the graceful drain on shutdown; default 10s.
	ShutdownTimeout duration.Duration `yaml:"shutdown_timeout"`
}

// TLS is TLS on the gateway's two listeners, one section each (see
// servertls.Config: cert_file, key_file, client_ca_file, min_version).
type TLS struct {
	// Agent is the agent port's; client_ca_file there makes every agent
	// client present a certificate as well as its credential.
	Agent servertls.Config `yaml:"agent"`
	// Admin is the admin port's; with client_ca_file only clients with a
	// certificate that CA signed reach /metrics, /readyz and /v1/policy
	// (mutual TLS), besides admin.api_keys.
	Admin servertls.Config `yaml:"admin"`
}

// Admin configures the admin port's credentials.
type Admin struct {
	// APIKeys are the admin keys (their tenant, agent and scopes are not
	// used). With none, the admin port must listen on loopback.
	APIKeys []auth.APIKey `yaml:"api_keys"`
}

// Fail modes: what happens to a draft when inspection errors or runs past
// its deadline.
const (
	// FailClosed holds the draft with a clear error (the default).
	FailClosed = "fail_closed"
	// FailOpen releases the draft and flags the event.
	FailOpen = "fail_open"
)

// Tenant holds one tenant's settings.
type Tenant struct {
	// FailMode is fail_closed (default) or fail_open.
	FailMode string `yaml:"fail_mode"`
}

// DefaultCacheBytes is the default of Cache.MaxBytes.
const DefaultCacheBytes = 32 << 20

// Cache bounds the caches: detector findings (context-free, in
// gateway/inspect) and policy decisions (per policy version, in rules).
// It is the gateway's setting, as it spans both.
type Cache struct {
	// MaxBytes bounds each of the two caches: the detector findings, and
	// the decisions of each policy version kept (the one served and those
	// kept for rollback); default DefaultCacheBytes (32 MiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// Disabled turns off both caches: detector findings and policy
	// decisions (every draft is evaluated in full).
	Disabled bool `yaml:"disabled"`
}

// Load reads the YAML file at path (none when path is empty), applies the
// environment overrides from getenv (os.Getenv when nil), fills in the
// defaults and validates the result. Unknown fields are errors.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	for name, dst := range map[string]*string{
		"XUNJIAN_LISTEN":          &c.Listen,
		"XUNJIAN_ADMIN_LISTEN":    &c.AdminListen,
		"XUNJIAN_POLICY":          &c.Policy,
		"XUNJIAN_SPOOL_DIR":       &c.Stream.Spool.Dir,
		"XUNJIAN_EMBEDDED_BROKER": &c.Stream.EmbeddedBroker,
	} {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	if v := getenv("XUNJIAN_KAFKA_BROKERS"); v != "" {
		c.Stream.Brokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Stream.Brokers = append(c.Stream.Brokers, b)
			}
		}
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Defaults fills in every field left at its zero value: the gateway's own
// here, each component's section by its own Defaults.
func (c *Config) Defaults() {
	setStr := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setDur := func(p *duration.Duration, v time.Duration) {
		if *p == 0 {
			*p = duration.Duration(v)
		}
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setStr(&c.Listen, "127.0.0.1:8080")
	setStr(&c.AdminListen, "127.0.0.1:8081")
	c.TLS.Agent.Defaults()
	c.TLS.Admin.Defaults()
	setDur(&c.PolicyPoll, rules.DefaultPollInterval)
	l := &c.Limits
	setInt(&l.MaxBodyBytes, 64<<10)
	setDur(&l.ReadTimeout, 10*time.Second)
	setDur(&l.WriteTimeout, 10*time.Second)
	setDur(&l.IdleTimeout, 60*time.Second)
	setDur(&l.InspectTimeout, 50*time.Millisecond)
	setDur(&l.ShutdownTimeout, 10*time.Second)
	l.Rates.Defaults()
	setInt(&l.MaxInflight, 16*runtime.GOMAXPROCS(0))
	setDur(&l.QueueTimeout, 10*time.Millisecond)
	setInt(&l.MaxContextTurns, 20)
	setInt(&l.MaxContextBytes, 16<<10)
	setInt(&l.MaxHeaderBytes, 16<<10)
	c.Auth.Defaults()
	for i := range c.Routes {
		c.Routes[i].Defaults()
	}
	c.Conversations.Defaults()
	if c.Cache.MaxBytes == 0 {
		c.Cache.MaxBytes = DefaultCacheBytes
	}
	c.Ack.Defaults()
	c.Stream.Defaults()
	c.SecondOpinion.Defaults()
	c.SharedState.Defaults()
}

// DevMode reports whether agent clients need no credential.
func (c *Config) DevMode() bool { return len(c.Auth.APIKeys) == 0 && c.Auth.JWT == nil }

// Validate checks the configuration and returns every problem, each naming
// the field and the reason. Call Defaults first. Each component's section
// is checked by its own Validate; what is checked here is the gateway's
// own fields and what needs the whole picture (no listening beyond
// loopback without credentials, routes that would shadow the gateway's
// endpoints).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	for _, l := range []struct{ field, addr string }{{"listen", c.Listen}, {"admin_listen", c.AdminListen}} {
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			bad(l.field, "%q is not host:port", l.addr)
		}
	}
	if !loopback.Addr(c.Listen) && c.DevMode() {
		bad("listen", "%s is not a loopback address: configure auth.api_keys or auth.jwt before listening beyond this machine", c.Listen)
	}
	if !loopback.Addr(c.AdminListen) && len(c.Admin.APIKeys) == 0 {
		bad("admin_listen", "%s is not a loopback address: configure admin.api_keys before listening beyond this machine", c.AdminListen)
	}
	errs = append(errs, c.TLS.Agent.Validate("tls.agent"), c.TLS.Admin.Validate("tls.admin"))
	if c.Limits.MaxBodyBytes < 0 {
		bad("limits.max_body_bytes", "must not be negative")
	}
	errs = append(errs, c.Limits.Rates.Validate("limits"))
	for field, n := range map[string]int{
		"limits.max_inflight": c.Limits.MaxInflight, "limits.max_context_turns": c.Limits.MaxContextTurns,
		"limits.max_context_bytes": c.Limits.MaxContextBytes, "limits.max_header_bytes": c.Limits.MaxHeaderBytes,
	} {
		if n < 0 {
			bad(field, "must not be negative")
		}
	}
	if h := c.Limits.MaxHeaderBytes; h > 0 && h < 9<<10 {
		bad("limits.max_header_bytes", "%d: want at least 9216, so that the 8 KiB JWTs the gateway accepts fit", h)
	}
	for field, d := range map[string]duration.Duration{
		"limits.read_timeout": c.Limits.ReadTimeout, "limits.write_timeout": c.Limits.WriteTimeout,
		"limits.idle_timeout": c.Limits.IdleTimeout, "limits.inspect_timeout": c.Limits.InspectTimeout,
		"limits.queue_timeout": c.Limits.QueueTimeout, "limits.shutdown_timeout": c.Limits.ShutdownTimeout,
		"policy_poll": c.PolicyPoll,
	} {
		if d < 0 {
			bad(field, "must not be negative")
		}
	}
	errs = append(errs, c.Auth.Validate("auth"))
	for i, k := range c.Admin.APIKeys {
		errs = append(errs, k.Validate(fmt.Sprintf("admin.api_keys[%d]", i)))
	}
	for id, t := range c.Tenants {
		switch t.FailMode {
		case "", FailClosed, FailOpen:
		default:
			bad("tenants."+id+".fail_mode", "%q: want fail_closed or fail_open", t.FailMode)
		}
	}
	for i, r := range c.Routes {
		f := "routes[" + strconv.Itoa(i) + "]"
		errs = append(errs, r.Validate(f))
		if r.Path == "/v1/check" || r.Path == "/v1/events" {
			bad(f+".path", "%s is the gateway's own endpoint", r.Path)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("trusted_proxies["+strconv.Itoa(i)+"]", "%q: want a network in CIDR form, e.g. 10.0.0.0/8 or 192.0.2.7/32", p)
		}
	}
	errs = append(errs, c.Conversations.Validate("conversations"), c.Ack.Validate("ack"), c.Stream.Validate("stream"), c.SecondOpinion.Validate("second_opinion"),
		c.SharedState.Validate("shared_state"))
	if c.SharedState.Enabled() && c.SharedState.Timeout > c.Limits.InspectTimeout {
		bad("shared_state.timeout", "%s is past limits.inspect_timeout (%s): a call to the shared state must end within the inspection's deadline", c.SharedState.Timeout.D(), c.Limits.InspectTimeout.D())
	}
	return errors.Join(errs...)
}
