package auth

import (
	"strings"
	"testing"
	"time"
)

// TestConfigDefaultsAndValidate: Defaults fills the JWT claim names and
// leeway; Validate checks the file's fields by their YAML path and reads
// no secret.
func TestConfigDefaultsAndValidate(t *testing.T) {
	c := Config{JWT: &JWTConfig{HS256SecretEnv: "XJ_SECRET"}}
	c.Defaults()
	if j := c.JWT; j.TenantClaim != DefaultTenantClaim || j.AgentClaim != DefaultAgentClaim || j.ScopesClaim != DefaultScopesClaim || j.Leeway != DefaultLeeway {
		t.Errorf("JWT defaults = %+v", j)
	}
	if err := c.Validate("auth"); err != nil {
		t.Errorf("Validate = %v", err)
	}
	none := JWTConfig{Leeway: -time.Second}
	none.Defaults()
	if none.Leeway != -time.Second {
		t.Errorf("Defaults replaced a negative leeway (none) with %s", none.Leeway)
	}
	bad := Config{APIKeys: []APIKey{{Hash: HashKey("k")}, {Tenant: "t", Hash: "sha256:ABC"}}, JWT: &JWTConfig{Issuer: "me"}}
	err := bad.Validate("auth")
	for _, want := range []string{"auth.api_keys[0].tenant: missing", "auth.api_keys[1].hash: want sha256:", "auth.jwt: set hs256_secret_env or jwks_file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to contain %q", err, want)
		}
	}
	if err := (APIKey{Hash: HashKey("k")}).Validate("admin.api_keys[0]"); err != nil {
		t.Errorf("APIKey.Validate = %v", err)
	}
}
