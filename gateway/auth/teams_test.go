package auth

import (
	"slices"
	"strings"
	"testing"
)

// TestParseTeams: names are sorted and merged; what a console could not
// show or match safely is refused.
func TestParseTeams(t *testing.T) {
	got, err := ParseTeams([]string{"night", "day", "night", "客服一组"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"day", "night", "客服一组"}; !slices.Equal(got.Names(), want) || got.Len() != 3 {
		t.Errorf("Names() = %q (Len %d), want %q", got.Names(), got.Len(), want)
	}
	if !got.Has("night") || got.Has("nigh") || got.Has("") {
		t.Errorf("Has: night %v, nigh %v, empty %v", got.Has("night"), got.Has("nigh"), got.Has(""))
	}
	if got.String() != "day,night,客服一组" {
		t.Errorf("String() = %q", got.String())
	}
	a, _ := ParseTeams([]string{"b", "a"})
	b, _ := ParseTeams([]string{"a", "b", "a"})
	if a != b {
		t.Errorf("same set, different values: %q, %q", a, b)
	}
	none, err := ParseTeams(nil)
	if err != nil || none.Len() != 0 || none.Names() == nil || len(none.Names()) != 0 || none != (Teams{}) {
		t.Errorf("ParseTeams(nil) = %q (%d), %v", none.Names(), none.Len(), err)
	}
	many := make([]string, MaxTeams+1)
	for i := range many {
		many[i] = strings.Repeat("t", i+1)
	}
	for name, names := range map[string][]string{
		"empty":     {"a", ""},
		"control":   {"a\nb"},
		"bad utf-8": {"a\xffb"},
		"too long":  {strings.Repeat("x", MaxTeamLen+1)},
		"too many":  many,
	} {
		if _, err := ParseTeams(names); err == nil {
			t.Errorf("%s: ParseTeams accepted %q", name, names)
		}
	}
}

// TestConsoleFields: an API key's role and teams, and a JWT's role and
// teams claims, reach the Principal; malformed claims are refused, and a
// key's bad team is a configuration error.
func TestConsoleFields(t *testing.T) {
	a := mustNew(t, Config{APIKeys: []APIKey{{Name: "sup", Tenant: "t1", Role: "supervisor", Teams: []string{"b", "a"}, Hash: HashKey(testKeyA)}}})
	p, err := a.Authenticate(headers(map[string]string{"X-API-Key": testKeyA}), testNow)
	if err != nil || p.Role != "supervisor" || !slices.Equal(p.Teams.Names(), []string{"a", "b"}) {
		t.Errorf("key: %+v, %v", p, err)
	}
	if _, err := New(Config{APIKeys: []APIKey{{Tenant: "t1", Teams: []string{""}, Hash: HashKey(testKeyA)}}}); err == nil || !strings.Contains(err.Error(), "auth.api_keys[0].teams") {
		t.Errorf("New with an empty team: %v", err)
	}
	if err := (Config{APIKeys: []APIKey{{Tenant: "t1", Teams: []string{"a\x00"}, Hash: HashKey(testKeyA)}}}).Validate("auth"); err == nil || !strings.Contains(err.Error(), "auth.api_keys[0].teams") {
		t.Errorf("Validate with a bad team: %v", err)
	}

	c := JWTConfig{HS256Secret: []byte(testSecret)}
	c.Defaults()
	if c.RoleClaim != DefaultRoleClaim || c.TeamsClaim != DefaultTeamsClaim {
		t.Errorf("Defaults: role claim %q, teams claim %q", c.RoleClaim, c.TeamsClaim)
	}
	j := mustNew(t, Config{JWT: &JWTConfig{HS256Secret: []byte(testSecret), TeamsClaim: "groups"}})
	sec := []byte(testSecret)
	for _, tt := range []struct {
		name      string
		claims    map[string]any
		wantRole  string
		wantTeams []string
		wantErr   string
	}{
		{"none", claims(), "", []string{}, ""},
		{"array", claims(set("xunjian_role", "admin"), set("groups", []string{"x", "y"})), "admin", []string{"x", "y"}, ""},
		{"string", claims(set("xunjian_role", "auditor"), set("groups", "y  x")), "auditor", []string{"x", "y"}, ""},
		{"default teams claim ignored", claims(set("xunjian_teams", []string{"x"})), "", []string{}, ""},
		{"role not a string", claims(set("xunjian_role", 3)), "", nil, reasonRoleClaim},
		{"teams not strings", claims(set("groups", []any{"x", 1})), "", nil, reasonTeamsClaim},
		{"teams an object", claims(set("groups", map[string]any{"x": 1})), "", nil, reasonTeamsClaim},
		{"empty team", claims(set("groups", []string{"x", ""})), "", nil, reasonTeamsClaim},
	} {
		p, err := j.Authenticate(headers(map[string]string{"Authorization": "Bearer " + signHS(t, hsHdr, tt.claims, sec)}), testNow)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: %+v, %v; want %q", tt.name, p, err, tt.wantErr)
			}
			continue
		}
		if err != nil || p.Role != tt.wantRole || !slices.Equal(p.Teams.Names(), tt.wantTeams) {
			t.Errorf("%s: %+v (teams %q), %v", tt.name, p, p.Teams.Names(), err)
		}
	}
}
