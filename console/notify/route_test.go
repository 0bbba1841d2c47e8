package notify

import (
	"slices"
	"testing"
)

func TestRouter(t *testing.T) {
	ch := func(name string) ChannelConfig {
		return ChannelConfig{Name: name, Type: TypeWebhook, URL: "https://hooks.example.com/" + name, SecretEnv: "XJ_SECRET"}
	}
	cfg := Config{
		Channels: []ChannelConfig{ch("pager"), ch("ding-acme"), ch("wecom-globex"), ch("ops")},
		Routes: []RouteConfig{
			{Name: "vip critical", Tenants: []string{"acme"}, Teams: []string{"vip"}, MinLevel: "critical", Channels: []string{"pager", "ops"}, Continue: true},
			{Name: "acme complaints", Tenants: []string{"acme"}, Kinds: []string{"complaint", "risk"}, MinLevel: "medium", Channels: []string{"ding-acme", "ops"}, Lang: "en"},
			{Name: "globex", Tenants: []string{"globex"}, Channels: []string{"wecom-globex"}},
		},
		DefaultRoute: DefaultRoute{MinLevel: "high", Channels: []string{"ops"}, Lang: "zh"},
	}
	r, err := NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name               string
		tenant, team, kind string
		level              Level
		want               []Target
	}{
		{"vip critical goes on to the complaints route", "acme", "vip", "complaint", LevelCritical,
			[]Target{{"pager", ""}, {"ops", ""}, {"ding-acme", "en"}}},
		{"vip high: the complaints route only", "acme", "vip", "complaint", LevelHigh, []Target{{"ding-acme", "en"}, {"ops", "en"}}},
		{"below the route's level, below the default's", "acme", "vip", "complaint", LevelLow, nil},
		{"unknown team: no vip route", "acme", "", "risk", LevelCritical, []Target{{"ding-acme", "en"}, {"ops", "en"}}},
		{"another team", "acme", "retail", "complaint", LevelMedium, []Target{{"ding-acme", "en"}, {"ops", "en"}}},
		{"a kind no route names: the default", "acme", "retail", "wait", LevelHigh, []Target{{"ops", "zh"}}},
		{"a kind no route names, below the default", "acme", "retail", "wait", LevelMedium, nil},
		{"vip critical of another kind: vip route, then default not used", "acme", "vip", "wait", LevelCritical, []Target{{"pager", ""}, {"ops", ""}}},
		{"another tenant's route, any level", "globex", "", "wait", LevelLow, []Target{{"wecom-globex", ""}}},
		{"a tenant without routes", "initech", "vip", "complaint", LevelCritical, []Target{{"ops", "zh"}}},
	}
	for _, c := range cases {
		n := Notification{EventID: "e", Tenant: c.tenant, Team: c.team, Kind: c.kind, Level: c.level}
		if got := r.Route(&n); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// No default route: what no route matches goes nowhere.
	cfg.DefaultRoute = DefaultRoute{}
	r, err = NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Route(&Notification{Tenant: "initech", Kind: "wait", Level: LevelCritical}); got != nil {
		t.Errorf("without a default route: %v", got)
	}
}
