package notify

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// The configuration file's section decodes strictly and the defaults fill
// what it leaves out, per channel type.
func TestConfigYAML(t *testing.T) {
	const file = `
console_url: https://console.example.com
lang: zh
time_zone: Asia/Shanghai
retry: {max_attempts: 4, backoff: 2s}
channels:
  - name: ops-ding
    type: dingtalk
    token_env: DING_TOKEN
    secret_env: DING_SECRET
  - name: ops-wecom
    type: wecom
    token_env: WECOM_KEY
    lang: en
  - name: lark
    type: feishu
    base_url: https://open.larksuite.com/open-apis/bot/v2/hook/
    token_env: LARK_HOOK
  - name: slack
    type: slack
    url_env: SLACK_WEBHOOK_URL
    throttle: {limit: 10, window: 30s}
  - name: siem
    type: webhook
    url: https://siem.example.com/xunjian
    secret_env: SIEM_SECRET
routes:
  - tenants: [acme]
    kinds: [complaint]
    min_level: high
    channels: [ops-ding, slack]
default_route:
  min_level: critical
  channels: [siem]
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(file))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.Defaults()
	if err := c.Validate("notify"); err != nil {
		t.Fatal(err)
	}
	ding, wecom, lark, sl, siem := c.Channels[0], c.Channels[1], c.Channels[2], c.Channels[3], c.Channels[4]
	switch {
	case c.Workers != DefaultWorkers || c.QueueSize != DefaultQueueSize:
		t.Errorf("workers, queue %d, %d", c.Workers, c.QueueSize)
	case c.Retry.MaxAttempts != 4 || c.Retry.Backoff.D() != 2*time.Second || c.Retry.MaxBackoff.D() != DefaultMaxBackoff:
		t.Errorf("retry %+v", c.Retry)
	case ding.BaseURL != DefaultDingTalkURL || wecom.BaseURL != DefaultWeComURL || lark.BaseURL != "https://open.larksuite.com/open-apis/bot/v2/hook/":
		t.Errorf("base URLs %q %q %q", ding.BaseURL, wecom.BaseURL, lark.BaseURL)
	case ding.Throttle.Limit != 18 || ding.Throttle.Window.D() != time.Minute || ding.Timeout.D() != DefaultAttemptTimeout:
		t.Errorf("dingtalk throttle %+v, timeout %v", ding.Throttle, ding.Timeout)
	case lark.Throttle.Limit != 90 || lark.Throttle.MinInterval.D() != 250*time.Millisecond:
		t.Errorf("feishu throttle %+v", lark.Throttle)
	case sl.Throttle.Limit != 10 || sl.Throttle.Window.D() != 30*time.Second || sl.Throttle.MinInterval.D() != time.Second:
		t.Errorf("slack throttle %+v", sl.Throttle)
	case siem.Throttle.Limit != -1 || ding.MaxTurns != DefaultMaxTurns:
		t.Errorf("webhook throttle %+v, max turns %d", siem.Throttle, ding.MaxTurns)
	}
	// What is set stays.
	c2 := Config{Workers: 1, Lang: "en", Channels: []ChannelConfig{{Type: TypeDingTalk, BaseURL: "https://x.example/send", Throttle: ThrottleConfig{Limit: -1}}}}
	c2.Defaults()
	if c2.Workers != 1 || c2.Lang != "en" || c2.Channels[0].BaseURL != "https://x.example/send" || c2.Channels[0].Throttle.Limit != -1 {
		t.Errorf("Defaults changed set fields: %+v", c2)
	}
}

// Each fault is named by its path, and a secret pasted in place of an
// environment variable's name is never quoted.
func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		return Config{
			Channels: []ChannelConfig{
				{Name: "ding", Type: TypeDingTalk, TokenEnv: "DING_TOKEN"},
				{Name: "hook", Type: TypeWebhook, URL: "https://h.example/x", SecretEnv: "HOOK_SECRET"},
			},
			Routes:       []RouteConfig{{Channels: []string{"ding"}}},
			DefaultRoute: DefaultRoute{Channels: []string{"hook"}},
		}
	}
	if err := ok().Validate("notify"); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	const pasted = "9f3c2a7b1d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a"
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"unknown type", func(c *Config) { c.Channels[0].Type = "teams" }, `notify.channels[0].type: "teams": want webhook, dingtalk, wecom, feishu or slack`},
		{"no name", func(c *Config) { c.Channels[0].Name = "" }, "notify.channels[0].name: required"},
		{"bad name", func(c *Config) { c.Channels[0].Name = "ops ding" }, `notify.channels[0].name: "ops ding": want letters`},
		{"twice", func(c *Config) { c.Channels[1].Name = "ding" }, `notify.channels[1].name: "ding" is used twice`},
		{"no token", func(c *Config) { c.Channels[0].TokenEnv = "" }, "notify.channels[0].token_env: required for dingtalk"},
		{"token pasted", func(c *Config) { c.Channels[0].TokenEnv = pasted }, "notify.channels[0].token_env: want the name of an environment variable"},
		{"slack URL pasted", func(c *Config) {
			c.Channels[0] = ChannelConfig{Name: "sl", Type: TypeSlack, URLEnv: "https://hooks.slack.com/services/T0/B0/" + pasted}
			c.Routes[0].Channels = []string{"sl"}
		}, "notify.channels[0].url_env: want the name of an environment variable"},
		{"webhook without secret", func(c *Config) { c.Channels[1].SecretEnv = "" }, "notify.channels[1].secret_env: required for webhook"},
		{"webhook over http", func(c *Config) { c.Channels[1].URL = "http://h.example/x" }, "the secret would travel in clear"},
		{"webhook over http to loopback", func(c *Config) { c.Channels[1].URL = "http://127.0.0.1:9000/x" }, ""},
		{"token in the base URL", func(c *Config) { c.Channels[0].BaseURL = "https://oapi.dingtalk.com/robot/send?access_token=" + pasted }, "must not hold a query (the token goes in token_env)"},
		{"wecom with a secret", func(c *Config) { c.Channels[0].Type, c.Channels[0].SecretEnv = TypeWeCom, "X" }, "notify.channels[0].secret_env: not used by wecom"},
		{"route to nowhere", func(c *Config) { c.Routes[0].Channels = []string{"pager"} }, `notify.routes[0].channels[0]: no channel named "pager"`},
		{"route without channels", func(c *Config) { c.Routes[0].Channels = nil }, "notify.routes[0].channels: required"},
		{"named route's level", func(c *Config) { c.Routes[0].Name, c.Routes[0].MinLevel = "vip", "urgent" }, `notify.routes[0] (vip).min_level: "urgent": want low, medium, high or critical`},
		{"default route's lang", func(c *Config) { c.DefaultRoute.Lang = "fr" }, `notify.default_route.lang: "fr": want zh or en`},
		{"default route to nowhere", func(c *Config) { c.DefaultRoute.Channels = []string{"hook", "hook"} }, `notify.default_route.channels[1]: "hook" is listed twice`},
		{"time zone", func(c *Config) { c.TimeZone = "Mars/Olympus" }, `notify.time_zone: "Mars/Olympus" is not a known IANA zone`},
		{"console URL", func(c *Config) { c.ConsoleURL = "console.example.com" }, "notify.console_url:"},
		{"console URL with a query", func(c *Config) { c.ConsoleURL = "https://console.example.com/?tenant=acme" }, "notify.console_url: \"https://console.example.com/\": must not hold a query"},
		{"throttle", func(c *Config) { c.Channels[0].Throttle.Limit = -2 }, "notify.channels[0].throttle.limit: -2"},
		{"retry", func(c *Config) {
			c.Retry.Backoff, c.Retry.MaxBackoff = duration.Duration(time.Minute), duration.Duration(time.Second)
		}, "notify.retry.max_backoff: 1s is less than backoff 1m0s"},
	}
	for _, c := range cases {
		cfg := ok()
		c.change(&cfg)
		err := cfg.Validate("notify")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want it to hold %q", c.name, err, c.want)
		case err != nil && strings.Contains(err.Error(), pasted):
			t.Errorf("%s: the error quotes the secret: %v", c.name, err)
		}
	}
}

// New reads the secrets from the environment and refuses a missing one,
// naming the variable, never quoting a value.
func TestNewSecrets(t *testing.T) {
	cfg := Config{Channels: []ChannelConfig{
		{Name: "ding", Type: TypeDingTalk, TokenEnv: "DING_TOKEN", SecretEnv: "DING_SECRET"},
		{Name: "sl", Type: TypeSlack, URLEnv: "SLACK_URL"},
	}}
	for _, c := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"DING_TOKEN": testToken, "SLACK_URL": "https://hooks.slack.com/services/T/B/" + testSecret},
			[]string{"channels[0] (ding): secret_env: the environment variable DING_SECRET is empty"}},
		{map[string]string{"DING_TOKEN": testToken + " x", "DING_SECRET": testSecret, "SLACK_URL": "http://hooks.slack.com/services/" + testSecret},
			[]string{"token_env: the value of DING_TOKEN holds spaces", "url_env: the value of SLACK_URL is not a usable webhook URL"}},
		{map[string]string{"DING_SECRET": testSecret},
			[]string{"token_env: the environment variable DING_TOKEN is empty", "url_env: the environment variable SLACK_URL is empty"}},
	} {
		_, err := New(cfg, Options{Getenv: env(c.env)})
		if err == nil {
			t.Errorf("%v: New succeeded", c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("err = %v, want it to hold %q", err, w)
			}
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testSecret) {
			t.Errorf("the error quotes a secret: %v", err)
		}
	}
	d, err := New(cfg, Options{Getenv: env(map[string]string{"DING_TOKEN": testToken, "DING_SECRET": testSecret, "SLACK_URL": "https://hooks.slack.com/services/T/B/x"})})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close(t.Context())
}
