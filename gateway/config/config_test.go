package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
