// Package config is the gateway's configuration: a YAML file, environment
// variables that override it, defaults for everything left out, and
// validation that names the field and the reason before anything starts.
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

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// Config is the whole gateway configuration. Every field documents its
// default; Load and Defaults fill them in.
type Config struct {
	// Listen is the agent port's address; default 127.0.0.1:8080.
	// Env XUNJIAN_LISTEN overrides it.
	Listen string `yaml:"listen"`
	// AdminListen is the admin port's address; default 127.0.0.1:8081.
	// Env XUNJIAN_ADMIN_LISTEN overrides it.
	AdminListen string `yaml:"admin_listen"`
	// Policy is the policy bundle: a directory, a .tar.gz, or an http(s)
	// URL of a bundle (polled with ETag, as OPA's bundle service is); empty
	// means the built-in bundle. Env XUNJIAN_POLICY overrides it.
	Policy string `yaml:"policy"`
	// PolicyPoll is how often the bundle is checked for a new version,
	// which is compiled and tested before it is swapped in; default 2s.
	PolicyPoll duration.Duration `yaml:"policy_poll"`
	// Limits bound requests and inspection.
	Limits Limits `yaml:"limits"`
	// Auth configures agent clients' credentials. With none configured the
	// gateway accepts requests without a credential (dev mode), and only
	// on loopback.
	Auth Auth `yaml:"auth"`
	// Admin configures the admin port's own credentials.
	Admin Admin `yaml:"admin"`
	// Tenants holds per-tenant settings by tenant id. A tenant without an
	// entry gets the zero Tenant (fail closed).
	Tenants map[string]Tenant `yaml:"tenants"`
	// Routes are the proxy routes. None means check-only.
	Routes []Route `yaml:"routes"`
	// TrustedProxies are the networks (CIDR, e.g. 10.0.0.0/8) of load
	// balancers in front of the gateway. Forwarding headers
	// (X-Forwarded-For, Forwarded, X-Real-IP) from a client outside them
	// are dropped, not passed to the chat backend; default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Conversations bounds the conversation context store.
	Conversations Conversations `yaml:"conversations"`
	// Cache bounds the caches of detector findings and policy decisions.
	Cache Cache `yaml:"cache"`
	// Ack configures the tokens that release a held (confirm) draft.
	Ack Ack `yaml:"ack"`
	// Stream configures the event stream to Kafka.
	Stream Stream `yaml:"stream"`
}

// Stream configures the event stream: the on-disk spool every event is
// appended to before its verdict is returned, the shipper that drains it
// to Kafka, and the topics, alert deduplication and QA sampling.
type Stream struct {
	// Disabled turns events off: nothing is spooled or sent.
	Disabled bool `yaml:"disabled"`
	// Brokers are the Kafka bootstrap brokers (host:port). None means the
	// built-in Kafka-protocol broker at EmbeddedBroker, in memory, for
	// development. Env XUNJIAN_KAFKA_BROKERS (comma-separated) overrides.
	Brokers []string `yaml:"brokers"`
	// EmbeddedBroker is where the built-in broker listens when Brokers is
	// empty; default 127.0.0.1:9092. It must be a loopback address.
	EmbeddedBroker string `yaml:"embedded_broker"`
	// Topics names the three topics.
	Topics Topics `yaml:"topics"`
	// Spool is the local spool.
	Spool Spool `yaml:"spool"`
	// BatchSize is how many events the shipper sends per batch; default
	// 500. BatchTimeout is Kafka's per-partition flush timeout; default
	// 10ms.
	BatchSize    int               `yaml:"batch_size"`
	BatchTimeout duration.Duration `yaml:"batch_timeout"`
	// Alerts configures supervisor alert deduplication.
	Alerts Alerts `yaml:"alerts"`
	// Sampling configures the QA audit sample.
	Sampling Sampling `yaml:"sampling"`
	// TextKeyEnv names the environment variable holding a base64 AES-256
	// key; with one, each event carries the raw text encrypted (text_enc)
	// for auditors. Empty means raw text is never kept. TextKeyID labels
	// the key in events (for rotation); default "default".
	TextKeyEnv string `yaml:"text_key_env"`
	TextKeyID  string `yaml:"text_key_id"`
}

// Topics names the event topics.
type Topics struct {
	// Findings gets every message with a finding and every non-allow;
	// default xunjian.findings.
	Findings string `yaml:"findings"`
	// Alerts gets supervisor alerts, deduplicated; default xunjian.alerts.
	Alerts string `yaml:"alerts"`
	// Samples gets the messages of sampled conversations; default
	// xunjian.samples.
	Samples string `yaml:"samples"`
}

// Spool configures the on-disk spool.
type Spool struct {
	// Dir is the spool directory; default $XDG_STATE_HOME/xunjian/spool
	// (~/.local/state/xunjian/spool). Env XUNJIAN_SPOOL_DIR overrides it.
	Dir string `yaml:"dir"`
	// MaxBytes bounds unshipped events on disk; default 1 GiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// Fsync is always (every event is on disk before its verdict), interval
	// (flushed every FsyncInterval; default) or never (left to the OS).
	Fsync string `yaml:"fsync"`
	// FsyncInterval is the flush period of fsync interval; default 100ms.
	FsyncInterval duration.Duration `yaml:"fsync_interval"`
	// OnFull is what happens when the spool is full: serve (release drafts
	// as usual and count the dropped events; default) or hold (answer
	// drafts 503 until there is room, so nothing goes unrecorded).
	OnFull string `yaml:"on_full"`
}

// Spool fsync policies and full-spool behaviours.
const (
	FsyncAlways   = "always"
	FsyncInterval = "interval"
	FsyncNever    = "never"
	OnFullServe   = "serve"
	OnFullHold    = "hold"
)

// Alerts configures alert deduplication.
type Alerts struct {
	// Window suppresses repeats of an alert of the same conversation and
	// kind at the same or a lower level for this long; default 5m.
	Window duration.Duration `yaml:"window"`
}

// Sampling configures the QA audit sample.
type Sampling struct {
	// Rate is the share of conversations sampled by hash, in [0, 1];
	// default 0 (only high-risk, policy-flagged and agent minimums).
	Rate float64 `yaml:"rate"`
	// SeedEnv names the environment variable with the sampling seed,
	// shared by all gateways so they agree; empty means a fixed seed,
	// which lets anyone who knows it predict the sample.
	SeedEnv string `yaml:"seed_env"`
	// HighRiskAt is the conversation risk from which a conversation is
	// always sampled; default 0.8.
	HighRiskAt float64 `yaml:"high_risk_at"`
	// AgentDailyMin is the minimum of sampled conversations per agent per
	// UTC day; default 0.
	AgentDailyMin int `yaml:"agent_daily_min"`
}

// Limits bound requests and inspection.
type Limits struct {
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
	// AgentRate is each agent's sustained request rate per second; zero
	// means no limit. AgentBurst is the burst; zero means twice the rate.
	AgentRate  float64 `yaml:"agent_rate"`
	AgentBurst int     `yaml:"agent_burst"`
	// CredentialRate and CredentialBurst limit a credential that does not
	// pin an agent (a shared integration key), whatever agent ids its
	// requests name, so new agent ids do not multiply its allowance.
	// Zero means the agent rate and burst: raise them for a key that
	// really carries many agents.
	CredentialRate  float64 `yaml:"credential_rate"`
	CredentialBurst int     `yaml:"credential_burst"`
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

// Auth configures agent clients' credentials.
type Auth struct {
	// APIKeys are the accepted keys, stored as hashes (xunjian hash-key).
	APIKeys []APIKey `yaml:"api_keys"`
	// JWT, when set, accepts bearer JWTs.
	JWT *JWT `yaml:"jwt"`
}

// APIKey is one accepted key. The key itself is never in the file.
type APIKey struct {
	// Name labels the key in logs and metrics.
	Name string `yaml:"name"`
	// Tenant is the tenant the key's requests belong to.
	Tenant string `yaml:"tenant"`
	// Agent optionally binds the key to one agent id; empty lets the
	// request name its agent.
	Agent string `yaml:"agent"`
	// Scopes lists what the key may do: agent (send agent drafts),
	// customer (send customer-side messages), lifecycle (post assigned,
	// transferred and closed events). Default [agent]: an agent client's
	// key can neither speak as the customer nor close a conversation.
	Scopes []string `yaml:"scopes"`
	// Hash is "sha256:<hex>" of the key.
	Hash string `yaml:"hash"`
}

// JWT configures bearer-token authentication.
type JWT struct {
	// HS256SecretEnv names the environment variable holding the HS256
	// secret; empty disables HS256.
	HS256SecretEnv string `yaml:"hs256_secret_env"`
	// JWKSFile is a JWKS file with the RS256 public keys; empty disables RS256.
	JWKSFile string `yaml:"jwks_file"`
	// Issuer and Audience are checked when set.
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// TenantClaim names the claim with the tenant; default "tenant".
	TenantClaim string `yaml:"tenant_claim"`
	// AgentClaim names the claim with the agent id; default "sub".
	AgentClaim string `yaml:"agent_claim"`
	// ScopesClaim names the claim with the token's scopes (agent,
	// customer, lifecycle; an array or a space-separated string); default
	// "xunjian_scopes". A token without it may send agent drafts only.
	ScopesClaim string `yaml:"scopes_claim"`
}

// Admin configures the admin port's credentials.
type Admin struct {
	// APIKeys are the admin keys (the tenant field is not used). With none,
	// the admin port must listen on loopback.
	APIKeys []APIKey `yaml:"api_keys"`
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

// Route is one proxy route (see gateway/proxy).
type Route struct {
	// Name labels the route in metrics; default "METHOD PATH".
	Name string `yaml:"name"`
	// Method and Path match requests. Path is exact, or a template whose
	// whole segments are parameters: /conversations/{conversation_id}/messages
	// takes the conversation id from the path ({agent_id} the agent id).
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	// Upstream is the chat backend's base URL.
	Upstream string `yaml:"upstream"`
	// Timeout bounds the upstream call; default 5s.
	Timeout duration.Duration `yaml:"timeout"`
	// Text, Conversation, Agent and Role are JSON pointers into the
	// request body; Text is required.
	Text         string `yaml:"text"`
	Conversation string `yaml:"conversation"`
	Agent        string `yaml:"agent"`
	Role         string `yaml:"role"`
	// ForwardAuth forwards the client's Authorization and X-API-Key
	// headers upstream; by default the gateway's credentials stay with it.
	ForwardAuth bool `yaml:"forward_auth"`
	// Texts are more JSON pointers to texts the backend shows the
	// customer (an HTML rendering, attachment captions), inspected and
	// masked with Text; "*" matches every array element or object member,
	// e.g. /attachments/*/caption.
	Texts []string `yaml:"texts"`
	// Roles are the sender roles the route carries: agent, customer;
	// default [agent]. A body role outside them is refused (403), and a
	// customer role needs a credential with the customer scope.
	Roles []string `yaml:"roles"`
	// ContentTypes are the media types the route accepts; default
	// [application/json]. Anything else is refused with 415, since the
	// gateway would forward bytes it did not inspect.
	ContentTypes []string `yaml:"content_types"`
	// Query names the query parameters the route accepts; their values are
	// inspected and masked as texts. A request with any other parameter is
	// refused; default none.
	Query []string `yaml:"query"`
}

// Conversations bounds the conversation context store.
type Conversations struct {
	// Max is how many conversations are kept; default 100,000.
	Max int64 `yaml:"max"`
	// TTL forgets a conversation idle this long; default 2h.
	TTL duration.Duration `yaml:"ttl"`
}

// Cache bounds the caches: detector findings (context-free) and policy
// decisions (per policy version).
type Cache struct {
	// MaxBytes bounds each of the two caches: the detector findings, and
	// the decisions of each policy version kept (the one served and those
	// kept for rollback); default 32 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// Disabled turns off both caches: detector findings and policy
	// decisions (every draft is evaluated in full).
	Disabled bool `yaml:"disabled"`
}

// Ack configures the tokens that release held drafts.
type Ack struct {
	// SecretEnv names the environment variable with the token key (at
	// least 32 bytes); empty means a random key per process, so tokens do
	// not survive a restart or work across gateways.
	SecretEnv string `yaml:"secret_env"`
	// TTL is how long a token stays valid; default 5m.
	TTL duration.Duration `yaml:"ttl"`
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
		"XUNJIAN_LISTEN":       &c.Listen,
		"XUNJIAN_ADMIN_LISTEN": &c.AdminListen,
		"XUNJIAN_POLICY":       &c.Policy,
		"XUNJIAN_SPOOL_DIR":    &c.Stream.Spool.Dir,
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

// Defaults fills in every field left at its zero value.
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
	setStr(&c.Listen, "127.0.0.1:8080")
	setStr(&c.AdminListen, "127.0.0.1:8081")
	setDur(&c.PolicyPoll, 2*time.Second)
	if c.Limits.MaxBodyBytes == 0 {
		c.Limits.MaxBodyBytes = 64 << 10
	}
	setDur(&c.Limits.ReadTimeout, 10*time.Second)
	setDur(&c.Limits.WriteTimeout, 10*time.Second)
	setDur(&c.Limits.IdleTimeout, 60*time.Second)
	setDur(&c.Limits.InspectTimeout, 50*time.Millisecond)
	setDur(&c.Limits.ShutdownTimeout, 10*time.Second)
	if c.Limits.AgentRate > 0 && c.Limits.AgentBurst == 0 {
		c.Limits.AgentBurst = int(2*c.Limits.AgentRate + 0.999)
	}
	if c.Limits.CredentialRate == 0 {
		c.Limits.CredentialRate = c.Limits.AgentRate
		if c.Limits.CredentialBurst == 0 {
			c.Limits.CredentialBurst = c.Limits.AgentBurst
		}
	}
	if c.Limits.CredentialRate > 0 && c.Limits.CredentialBurst == 0 {
		c.Limits.CredentialBurst = int(2*c.Limits.CredentialRate + 0.999)
	}
	if c.Limits.MaxInflight == 0 {
		c.Limits.MaxInflight = 16 * runtime.GOMAXPROCS(0)
	}
	setDur(&c.Limits.QueueTimeout, 10*time.Millisecond)
	if c.Limits.MaxContextTurns == 0 {
		c.Limits.MaxContextTurns = 20
	}
	if c.Limits.MaxContextBytes == 0 {
		c.Limits.MaxContextBytes = 16 << 10
	}
	if c.Limits.MaxHeaderBytes == 0 {
		c.Limits.MaxHeaderBytes = 16 << 10
	}
	if c.Auth.JWT != nil {
		setStr(&c.Auth.JWT.TenantClaim, "tenant")
		setStr(&c.Auth.JWT.AgentClaim, "sub")
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		r.Method = strings.ToUpper(r.Method)
		setStr(&r.Name, r.Method+" "+r.Path)
		setDur(&r.Timeout, 5*time.Second)
	}
	if c.Conversations.Max == 0 {
		c.Conversations.Max = 100_000
	}
	setDur(&c.Conversations.TTL, 2*time.Hour)
	if c.Cache.MaxBytes == 0 {
		c.Cache.MaxBytes = 32 << 20
	}
	setDur(&c.Ack.TTL, 5*time.Minute)
	st := &c.Stream
	setStr(&st.EmbeddedBroker, "127.0.0.1:9092")
	setStr(&st.Topics.Findings, "xunjian.findings")
	setStr(&st.Topics.Alerts, "xunjian.alerts")
	setStr(&st.Topics.Samples, "xunjian.samples")
	if st.Spool.Dir == "" {
		st.Spool.Dir = defaultSpoolDir()
	}
	if st.Spool.MaxBytes == 0 {
		st.Spool.MaxBytes = 1 << 30
	}
	setStr(&st.Spool.Fsync, FsyncInterval)
	setDur(&st.Spool.FsyncInterval, 100*time.Millisecond)
	setStr(&st.Spool.OnFull, OnFullServe)
	if st.BatchSize == 0 {
		st.BatchSize = 500
	}
	setDur(&st.BatchTimeout, 10*time.Millisecond)
	setDur(&st.Alerts.Window, 5*time.Minute)
	if st.Sampling.HighRiskAt == 0 {
		st.Sampling.HighRiskAt = 0.8
	}
	setStr(&st.TextKeyID, "default")
}

// defaultSpoolDir is $XDG_STATE_HOME/xunjian/spool, falling back to
// ~/.local/state and then to the temporary directory.
func defaultSpoolDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = home + "/.local/state"
		} else {
			base = os.TempDir()
		}
	}
	return base + "/xunjian/spool"
}

// DevMode reports whether agent clients need no credential.
func (c *Config) DevMode() bool { return len(c.Auth.APIKeys) == 0 && c.Auth.JWT == nil }

// Validate checks the configuration and returns every problem, each naming
// the field and the reason. Call Defaults first.
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
	if !loopback(c.Listen) && c.DevMode() {
		bad("listen", "%s is not a loopback address: configure auth.api_keys or auth.jwt before listening beyond this machine", c.Listen)
	}
	if !loopback(c.AdminListen) && len(c.Admin.APIKeys) == 0 {
		bad("admin_listen", "%s is not a loopback address: configure admin.api_keys before listening beyond this machine", c.AdminListen)
	}
	if c.Limits.MaxBodyBytes < 0 {
		bad("limits.max_body_bytes", "must not be negative")
	}
	if c.Limits.AgentRate < 0 {
		bad("limits.agent_rate", "must not be negative")
	}
	for field, n := range map[string]float64{
		"limits.credential_rate": c.Limits.CredentialRate, "limits.credential_burst": float64(c.Limits.CredentialBurst),
		"limits.max_inflight": float64(c.Limits.MaxInflight), "limits.max_context_turns": float64(c.Limits.MaxContextTurns),
		"limits.max_context_bytes": float64(c.Limits.MaxContextBytes), "limits.max_header_bytes": float64(c.Limits.MaxHeaderBytes),
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
		"limits.queue_timeout":    c.Limits.QueueTimeout,
		"limits.shutdown_timeout": c.Limits.ShutdownTimeout, "conversations.ttl": c.Conversations.TTL, "ack.ttl": c.Ack.TTL,
		"policy_poll": c.PolicyPoll,
	} {
		if d < 0 {
			bad(field, "must not be negative")
		}
	}
	keys := func(field string, list []APIKey, needTenant bool) {
		for i, k := range list {
			f := fmt.Sprintf("%s[%d]", field, i)
			if needTenant && k.Tenant == "" {
				bad(f+".tenant", "missing")
			}
			if h, ok := strings.CutPrefix(k.Hash, "sha256:"); !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
				bad(f+".hash", "want sha256:<64 lower-case hex digits> (xunjian hash-key prints it)")
			}
		}
	}
	keys("auth.api_keys", c.Auth.APIKeys, true)
	keys("admin.api_keys", c.Admin.APIKeys, false)
	if j := c.Auth.JWT; j != nil && j.HS256SecretEnv == "" && j.JWKSFile == "" {
		bad("auth.jwt", "set hs256_secret_env or jwks_file")
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
		if r.Method == "" {
			bad(f+".method", "missing")
		}
		if !strings.HasPrefix(r.Path, "/") {
			bad(f+".path", "%q: want a path starting with /", r.Path)
		}
		if r.Upstream == "" {
			bad(f+".upstream", "missing")
		}
		if r.Text == "" {
			bad(f+".text", "missing: the JSON pointer to the message text")
		}
		for _, p := range []struct{ field, ptr string }{{"text", r.Text}, {"conversation", r.Conversation}, {"agent", r.Agent}, {"role", r.Role}} {
			if p.ptr != "" && !strings.HasPrefix(p.ptr, "/") {
				bad(f+"."+p.field, "%q is not a JSON pointer (RFC 6901: starts with /)", p.ptr)
			}
		}
		for j, ptr := range r.Texts {
			if !strings.HasPrefix(ptr, "/") {
				bad(f+".texts["+strconv.Itoa(j)+"]", "%q is not a JSON pointer (RFC 6901: starts with /)", ptr)
			}
		}
		for j, role := range r.Roles {
			if role != "agent" && role != "customer" {
				bad(f+".roles["+strconv.Itoa(j)+"]", "%q: want agent or customer", role)
			}
		}
		if r.Path == "/v1/check" || r.Path == "/v1/events" {
			bad(f+".path", "%s is the gateway's own endpoint", r.Path)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("trusted_proxies["+strconv.Itoa(i)+"]", "%q: want a network in CIDR form, e.g. 10.0.0.0/8 or 192.0.2.7/32", p)
		}
	}
	if c.Conversations.Max < 0 {
		bad("conversations.max", "must not be negative")
	}
	c.Stream.validate(bad)
	return errors.Join(errs...)
}

func (st *Stream) validate(bad func(field, format string, args ...any)) {
	if st.Disabled {
		return
	}
	for i, b := range st.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad(fmt.Sprintf("stream.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if len(st.Brokers) == 0 && !loopback(st.EmbeddedBroker) {
		bad("stream.embedded_broker", "%q: the built-in broker listens on loopback only", st.EmbeddedBroker)
	}
	t := st.Topics
	for _, tp := range []struct{ field, name string }{{"findings", t.Findings}, {"alerts", t.Alerts}, {"samples", t.Samples}} {
		if !validTopic(tp.name) {
			bad("stream.topics."+tp.field, "%q: want 1-249 characters of a-z A-Z 0-9 . _ -", tp.name)
		}
	}
	if t.Findings == t.Alerts || t.Findings == t.Samples || t.Alerts == t.Samples {
		bad("stream.topics", "the three topics must differ")
	}
	if st.Spool.MaxBytes < 0 {
		bad("stream.spool.max_bytes", "must not be negative")
	}
	switch st.Spool.Fsync {
	case FsyncAlways, FsyncInterval, FsyncNever:
	default:
		bad("stream.spool.fsync", "%q: want always, interval or never", st.Spool.Fsync)
	}
	switch st.Spool.OnFull {
	case OnFullServe, OnFullHold:
	default:
		bad("stream.spool.on_full", "%q: want serve or hold", st.Spool.OnFull)
	}
	if st.BatchSize < 0 {
		bad("stream.batch_size", "must not be negative")
	}
	for field, d := range map[string]duration.Duration{
		"stream.batch_timeout": st.BatchTimeout, "stream.spool.fsync_interval": st.Spool.FsyncInterval, "stream.alerts.window": st.Alerts.Window,
	} {
		if d < 0 {
			bad(field, "must not be negative")
		}
	}
	if r := st.Sampling.Rate; !(r >= 0 && r <= 1) {
		bad("stream.sampling.rate", "%v: want a share in [0, 1]", r)
	}
	if r := st.Sampling.HighRiskAt; !(r > 0 && r <= 1) {
		bad("stream.sampling.high_risk_at", "%v: want a risk in (0, 1]", r)
	}
	if st.Sampling.AgentDailyMin < 0 {
		bad("stream.sampling.agent_daily_min", "must not be negative")
	}
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

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
