package auth

import (
	"slices"
	"strings"
	"testing"
)

// TestParsePermissions: names are sorted and merged; what a console could
// not keep in a session, or could confuse with another name, is refused.
func TestParsePermissions(t *testing.T) {
	got, err := ParsePermissions([]string{"decrypt", "export", "decrypt"})
	if err != nil || !slices.Equal(got.Names(), []string{"decrypt", "export"}) || got.String() != "decrypt,export" ||
		!got.Has("decrypt") || got.Has("") || got.Has("admin") {
		t.Errorf("ParsePermissions = %q, %v", got.Names(), err)
	}
	none, err := ParsePermissions(nil)
	if err != nil || none != (Permissions{}) || none.Names() == nil || len(none.Names()) != 0 || none.Has("decrypt") {
		t.Errorf("ParsePermissions(nil) = %q, %v", none.Names(), err)
	}
	many := make([]string, MaxPermissions+1)
	for i := range many {
		many[i] = "p" + strings.Repeat("x", i)
	}
	for name, names := range map[string][]string{
		"empty":      {""},
		"upper case": {"Decrypt"},
		"comma":      {"a,b"},
		"space":      {"a b"},
		"long":       {strings.Repeat("a", MaxPermissionLen+1)},
		"too many":   many,
	} {
		if _, err := ParsePermissions(names); err == nil {
			t.Errorf("%s: ParsePermissions accepted %q", name, names)
		}
	}
}

// TestPermissionFields: an API key's permissions and a JWT's permissions
// claim reach the Principal; a malformed claim is refused, and a key's bad
// permission is a configuration error.
func TestPermissionFields(t *testing.T) {
	a := mustNew(t, Config{APIKeys: []APIKey{{Name: "aud", Tenant: "t1", Role: "auditor", Permissions: []string{"decrypt"}, Hash: HashKey(testKeyA)}}})
	p, err := a.Authenticate(headers(map[string]string{"X-API-Key": testKeyA}), testNow)
	if err != nil || !p.Permissions.Has("decrypt") {
		t.Errorf("key: %+v, %v", p, err)
	}
	bad := Config{APIKeys: []APIKey{{Tenant: "t1", Permissions: []string{"De Crypt"}, Hash: HashKey(testKeyA)}}}
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), "auth.api_keys[0].permissions") {
		t.Errorf("New with a bad permission: %v", err)
	}
	if err := bad.Validate("auth"); err == nil || !strings.Contains(err.Error(), "auth.api_keys[0].permissions") {
		t.Errorf("Validate with a bad permission: %v", err)
	}

	c := JWTConfig{HS256Secret: []byte(testSecret)}
	c.Defaults()
	if c.PermissionsClaim != DefaultPermissionsClaim {
		t.Errorf("Defaults: permissions claim %q", c.PermissionsClaim)
	}
	j := mustNew(t, Config{JWT: &JWTConfig{HS256Secret: []byte(testSecret)}})
	for _, tt := range []struct {
		name    string
		claims  map[string]any
		want    []string
		wantErr string
	}{
		{"none", claims(), []string{}, ""},
		{"array", claims(set("xunjian_permissions", []string{"decrypt"})), []string{"decrypt"}, ""},
		{"string", claims(set("xunjian_permissions", "export decrypt")), []string{"decrypt", "export"}, ""},
		{"not strings", claims(set("xunjian_permissions", []any{"decrypt", 1})), nil, reasonPermsClaim},
		{"bad name", claims(set("xunjian_permissions", []string{"DECRYPT"})), nil, reasonPermsClaim},
	} {
		p, err := j.Authenticate(headers(map[string]string{"Authorization": "Bearer " + signHS(t, hsHdr, tt.claims, []byte(testSecret))}), testNow)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: %+v, %v; want %q", tt.name, p, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(p.Permissions.Names(), tt.want) {
			t.Errorf("%s: %+v (permissions %q), %v", tt.name, p, p.Permissions.Names(), err)
		}
	}
}
