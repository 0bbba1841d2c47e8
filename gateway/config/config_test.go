package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/spool"
)

func noEnv(string) string { return "" }

func TestZeroConfigIsDevMode(t *testing.T) {
	c, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.AdminListen != "127.0.0.1:8081" || !c.DevMode() || len(c.Routes) != 0 {
		t.Errorf("zero config = %+v, want loopback dev mode with no routes", c)
	}
	if c.Limits.InspectTimeout.D() != 50*time.Millisecond || c.Limits.MaxBodyBytes != 64<<10 {
		t.Errorf("defaults not applied: %+v", c.Limits)
	}
}

func TestLoadFile(t *testing.T) {
	c, err := Load("testdata/full.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.DevMode() || c.Auth.APIKeys[0].Tenant != "acme" || c.Tenants["acme"].FailMode != FailOpen {
		t.Errorf("auth/tenants not read: %+v %+v", c.Auth, c.Tenants)
	}
	r := c.Routes[0]
	if r.Method != "POST" || r.Name != "POST /api/messages" || r.Timeout.D() != 5*time.Second || r.Text != "/message/text" {
		t.Errorf("route = %+v", r)
	}
	if c.Limits.InspectTimeout.D() != 20*time.Millisecond || c.Limits.AgentBurst != 10 {
		t.Errorf("limits = %+v", c.Limits)
	}
	if c.Auth.JWT.TenantClaim != "tenant" || c.Auth.JWT.AgentClaim != "sub" {
		t.Errorf("jwt defaults = %+v", c.Auth.JWT)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{"XUNJIAN_LISTEN": "127.0.0.1:18080", "XUNJIAN_POLICY": "/tmp/b.tar.gz"}
	c, err := Load("testdata/full.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:18080" || c.Policy != "/tmp/b.tar.gz" || c.AdminListen != "127.0.0.1:9091" {
		t.Errorf("env not applied over the file: %s %s %s", c.Listen, c.Policy, c.AdminListen)
	}
}

func TestInvalidConfigNamesFieldAndReason(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"public without auth", "listen: 0.0.0.0:8080\n", "listen: 0.0.0.0:8080 is not a loopback address"},
		{"admin public without keys", "admin_listen: :8081\n", "admin_listen"},
		{"bad addr", "listen: nonsense\n", `listen: "nonsense" is not host:port`},
		{"unknown field", "lisen: 127.0.0.1:1\n", "field lisen not found"},
		{"bad duration", "limits:\n  inspect_timeout: soon\n", `"soon" is not a duration`},
		{"bad hash", "auth:\n  api_keys:\n    - tenant: a\n      hash: md5:abc\n", "auth.api_keys[0].hash"},
		{"key without tenant", "auth:\n  api_keys:\n    - hash: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\n", "auth.api_keys[0].tenant: missing"},
		{"fail mode", "tenants:\n  acme:\n    fail_mode: sometimes\n", "tenants.acme.fail_mode"},
		{"route text", "routes:\n  - method: POST\n    path: /send\n    upstream: http://127.0.0.1:1\n", "routes[0].text: missing"},
		{"route pointer", "routes:\n  - method: POST\n    path: /send\n    upstream: http://127.0.0.1:1\n    text: message.text\n", "routes[0].text"},
		{"jwt without keys", "auth:\n  jwt:\n    issuer: me\n", "auth.jwt: set hs256_secret_env or jwks_file"},
		{"broker addr", "stream:\n  brokers: [kafka]\n", `stream.brokers[0]: "kafka" is not host:port`},
		{"public embedded broker", "stream:\n  embedded_broker: 0.0.0.0:9092\n", "stream.embedded_broker"},
		{"topic name", "stream:\n  topics:\n    alerts: 告警\n", "stream.topics.alerts"},
		{"same topics", "stream:\n  topics:\n    alerts: xunjian.findings\n", "the three topics must differ"},
		{"fsync", "stream:\n  spool:\n    fsync: sometimes\n", "stream.spool.fsync"},
		{"on full", "stream:\n  spool:\n    on_full: panic\n", "stream.spool.on_full"},
		{"sampling rate", "stream:\n  sampling:\n    rate: 1.5\n", "stream.sampling.rate"},
		{"opinion without url", "second_opinion:\n  enabled: true\n  model: m\n", "second_opinion.base_url"},
		{"opinion enforced for all", "second_opinion:\n  mode: enforce\n", "second_opinion.mode"},
		{"high risk", "stream:\n  sampling:\n    high_risk_at: -1\n", "stream.sampling.high_risk_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, noEnv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), noEnv); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(path, nil, 0o600)
	if _, err := Load(path, noEnv); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

// TestExampleConfig keeps docs/gateway.example.yaml loadable and checks
// the stream section and its environment overrides.
func TestExampleConfig(t *testing.T) {
	env := map[string]string{"XUNJIAN_KAFKA_BROKERS": " k1:9092, k2:9092 ,", "XUNJIAN_SPOOL_DIR": "/var/spool/xj"}
	c, err := Load("../../docs/gateway.example.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stream
	if strings.Join(st.Brokers, ",") != "k1:9092,k2:9092" || st.Spool.Dir != "/var/spool/xj" {
		t.Errorf("env overrides: brokers %q spool %q", st.Brokers, st.Spool.Dir)
	}
	if st.Topics.Alerts != "xunjian.alerts" || st.Spool.Fsync != spool.FsyncInterval || st.Spool.OnFull != stream.OnFullServe ||
		st.Sampling.Rate != 0.05 || st.Sampling.AgentDailyMin != 2 || st.Alerts.Window.D() != 5*time.Minute {
		t.Errorf("stream = %+v", st)
	}
	if so := c.SecondOpinion; so.Enabled || so.ModeFor("acme") != "off" || so.Timeout.D() != 300*time.Millisecond || so.GreyZone.From != 0.35 {
		t.Errorf("second_opinion = %+v", so)
	}
	if ss := c.SharedState; ss.Enabled() || ss.Mode != "degrade" || ss.Timeout.D() != 20*time.Millisecond || ss.KeyPrefix != "xunjian:" || ss.BreakerOpen.D() != time.Second {
		t.Errorf("shared_state = %+v", ss)
	}
	z, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if zs := z.Stream; len(zs.Brokers) != 0 || zs.EmbeddedBroker != "127.0.0.1:9092" || !strings.HasSuffix(zs.Spool.Dir, "/xunjian/spool") ||
		zs.Spool.MaxBytes != 1<<30 || zs.BatchSize != 500 || zs.Sampling.HighRiskAt != 0.8 {
		t.Errorf("stream defaults = %+v", zs)
	}
}

// TestExampleSecuritySections: the example's tls, stream.tls and
// stream.sasl sections load, and as written turn nothing on (the example
// starts as it is: plain HTTP, the built-in broker).
func TestExampleSecuritySections(t *testing.T) {
	c, err := Load("../../docs/gateway.example.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Agent.Enabled() || c.TLS.Admin.Enabled() || c.TLS.Agent.MinVersion != "1.2" || c.Stream.Security.Enabled() {
		t.Errorf("tls %+v, stream security %+v: want all off", c.TLS, c.Stream.Security)
	}
}

// TestSecurityConfig reads every field of the listeners' and Kafka's
// security sections, and names what is wrong with them.
func TestSecurityConfig(t *testing.T) {
	c, err := Load("testdata/secure.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.TLS.Agent; a.CertFile != "/etc/xunjian/tls/gateway.crt" || a.KeyFile != "/etc/xunjian/tls/gateway.key" || a.MinVersion != "1.2" || a.ClientCAFile != "" {
		t.Errorf("tls.agent = %+v", a)
	}
	if a := c.TLS.Admin; a.ClientCAFile != "/etc/xunjian/tls/ops-ca.pem" || a.MinVersion != "1.3" {
		t.Errorf("tls.admin = %+v", a)
	}
	sec := c.Stream.Security
	if !sec.TLS.Enabled || sec.TLS.CAFile != "/etc/xunjian/kafka-ca.pem" || sec.TLS.ServerName != "kafka.internal" ||
		sec.SASL.Mechanism != "SCRAM-SHA-512" || sec.SASL.Username != "xunjian-gateway" || sec.SASL.PasswordEnv != "XUNJIAN_KAFKA_PASSWORD" {
		t.Errorf("stream security = %+v", sec)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"cert without key", "tls:\n  agent:\n    cert_file: /a.crt\n", "tls.agent.key_file: missing"},
		{"client CA without cert", "tls:\n  admin:\n    client_ca_file: /ca.pem\n", "tls.admin.client_ca_file"},
		{"TLS 1.1", "tls:\n  admin:\n    cert_file: a\n    key_file: b\n    min_version: \"1.1\"\n", "tls.admin.min_version"},
		{"skip verify", "stream:\n  brokers: [k:9092]\n  tls:\n    enabled: true\n    insecure_skip_verify: true\n", "stream.tls.insecure_skip_verify: not allowed"},
		{"sasl on the built-in broker", "stream:\n  sasl:\n    mechanism: SCRAM-SHA-512\n    username: u\n    password_env: PW\n", "stream.brokers: none"},
		{"plain in clear", "stream:\n  brokers: [k:9092]\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password_env: PW\n", "stream.sasl.mechanism: PLAIN sends the password in clear"},
		{"password in the file", "stream:\n  brokers: [k:9092]\n  sasl:\n    mechanism: SCRAM-SHA-256\n    username: u\n    password: hunter2\n", "field password not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path, noEnv); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestSharedStateConfig: the shared_state section loads, and its timeout
// must end within the inspection's deadline.
func TestSharedStateConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string // want: "" loads, else a substring of the error
	}{
		{"off", "shared_state: {}\n", ""},
		{"on", "shared_state: {addrs: [127.0.0.1:6379], mode: fail_closed, timeout: 10ms}\n", ""},
		{"past the deadline", "limits: {inspect_timeout: 50ms}\nshared_state: {addrs: [127.0.0.1:6379], timeout: 60ms}\n", "shared_state.timeout: 60ms is past limits.inspect_timeout"},
		{"bad mode", "shared_state: {addrs: [127.0.0.1:6379], mode: open}\n", "shared_state.mode"},
		{"cluster", "shared_state: {addrs: [10.0.0.1:6379, 10.0.0.2:6379, 10.0.0.3:6379], cluster: true}\n", ""},
		{"several servers, no cluster", "shared_state: {addrs: [10.0.0.1:6379, 10.0.0.2:6379]}\n", "shared_state.addrs: 2 addresses"},
		{"cluster and sentinels", "shared_state: {addrs: [10.0.0.1:26379], cluster: true, sentinel_master: m}\n", "shared_state.cluster: not with sentinel_master"},
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		_, err := Load(path, noEnv)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
