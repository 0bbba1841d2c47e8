package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

// TestExampleConfig keeps docs/console.example.yaml loadable, its values
// where the file says.
func TestExampleConfig(t *testing.T) {
	env := map[string]string{"XUNJIAN_KAFKA_BROKERS": "k9:9092, k10:9092"}
	c, err := Load("../../docs/console.example.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Kafka.Brokers, ",") != "k9:9092,k10:9092" || c.Kafka.Group != "xunjian-console" || c.Auth.DevMode() ||
		len(c.Notify.Channels) != 3 || c.Teams["acme"]["agent-17"] != "red" || c.RecoveryWindow.D().Hours() != 24 {
		t.Errorf("config %+v", c)
	}
	if q := c.QA; len(q.Auditors["acme"]) != 3 || len(q.Assignment["acme"]) != 2 || q.Calibration.Rate != 0.05 ||
		len(q.Scorecard("acme").Categories) != 3 || q.DisputeWindow.D().Hours() != 168 || q.AgentDailyMin != 2 ||
		q.TextKeyEnv != "XJ_TEXT_KEY" || q.TextKeyID == "" || q.Sampling.SeedEnv != "XJ_SAMPLING_SEED" {
		t.Errorf("qa %+v", q)
	}
	if k := c.Auth.APIKeys[3]; k.Role != "agent" || k.Agent != "agent-17" || c.Auth.APIKeys[2].Permissions[0] != "decrypt" {
		t.Errorf("the auditor's and the agent's keys: %+v", c.Auth.APIKeys)
	}
}

// TestDefaults: with no file and no credential the console is in dev
// mode on loopback, reading the built-in broker of `xunjian serve`, its
// database in the state directory.
func TestDefaults(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	c, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Database != "sqlite:///state/xunjian/console.db" || strings.Join(c.Kafka.Brokers, ",") != DefaultDevBroker ||
		!c.Auth.DevMode() {
		t.Errorf("defaults %+v", c)
	}
}

// TestInvalid: each mistake is refused at start, naming its field, and
// never echoing a database password.
func TestInvalid(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"public without auth", "listen: 0.0.0.0:8082\n", "0.0.0.0:8082"},
		{"unknown field", "lisen: x\n", "field lisen not found"},
		{"database scheme", "database: mysql://u:hunter2@db/x\n", "database"},
		{"no brokers with auth", "auth:\n  api_keys:\n    - {name: k, tenant: t, role: admin, hash: 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'}\n", "kafka.brokers"},
		{"unknown role", "auth:\n  api_keys:\n    - {name: k, tenant: t, role: boss, hash: 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'}\n", "boss"},
		{"same topics", "kafka:\n  topics: {alerts: a, findings: a, samples: s}\n", "kafka.topics"},
		{"team without agent", "teams:\n  acme: {'': red}\n", "teams.acme"},
		{"channel type", "notify:\n  channels:\n    - {name: x, type: telegram}\n", "notify.channels"},
		{"session timeout", "kafka:\n  session_timeout: 10ms\n", "kafka.session_timeout"},
		{"qa due", "qa:\n  due: -1h\n", "qa.due"},
		{"qa scorecard", "qa:\n  scorecards: {acme: {categories: []}}\n", "qa.scorecards.acme"},
		{"qa unknown field", "qa:\n  auditor: {acme: [li]}\n", "field auditor not found"},
		{"agent without agent", "auth:\n  api_keys:\n    - {name: k, tenant: t, role: agent, hash: 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'}\n", "auth.api_keys[0].agent"},
		{"unknown permission", "auth:\n  api_keys:\n    - {name: k, tenant: t, role: admin, permissions: [sudo], hash: 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'}\n", "sudo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "console.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error holds the password: %v", err)
			}
		})
	}
}

// TestExampleSecurity: the example's tls and kafka.tls/kafka.sasl
// sections load as written; with tls the session cookie is Secure.
func TestExampleSecurity(t *testing.T) {
	c, err := Load("../../docs/console.example.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.CertFile != "/etc/xunjian/tls/console.crt" || c.TLS.MinVersion != "1.2" || !c.Auth.SecureCookie {
		t.Errorf("tls %+v, secure_cookie %v", c.TLS, c.Auth.SecureCookie)
	}
	sec := c.Kafka.Security
	if !sec.TLS.Enabled || sec.TLS.CAFile != "/etc/xunjian/kafka-ca.pem" || sec.SASL.Mechanism != "SCRAM-SHA-512" ||
		sec.SASL.Username != "xunjian-console" || sec.SASL.PasswordEnv != "XJ_KAFKA_PASSWORD" || sec.Protocol() != "SASL_SSL" {
		t.Errorf("kafka security %+v", sec)
	}
}

// TestSecurityInvalid: each mistake in tls and kafka.tls/kafka.sasl is
// refused at start, naming its field.
func TestSecurityInvalid(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"key without cert", "tls:\n  key_file: /k.pem\n", "tls.cert_file: missing"},
		{"TLS 1.0", "tls:\n  cert_file: c\n  key_file: k\n  min_version: \"1.0\"\n", "tls.min_version"},
		{"skip verify", "kafka:\n  tls: {enabled: true, insecure_skip_verify: true}\n", "kafka.tls.insecure_skip_verify: not allowed"},
		{"no user", "kafka:\n  sasl: {mechanism: SCRAM-SHA-256, password_env: PW}\n", "kafka.sasl.username: missing"},
		{"password itself", "kafka:\n  sasl: {mechanism: SCRAM-SHA-256, username: u, password_env: 'hunter2 x'}\n", "kafka.sasl.password_env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "console.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error holds the value: %v", err)
			}
		})
	}
}
