package opinion

import (
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.Defaults()
	switch {
	case c.Enabled:
		t.Error("Defaults enabled the second opinion")
	case c.Timeout.D() != DefaultTimeout || c.Timeout.D() != 300*time.Millisecond:
		t.Errorf("Timeout = %v", c.Timeout)
	case !slices.Equal(c.Kinds, []string{"tone.rude", "tone.dismissive", "tone.impatient", "tone.profanity"}):
		t.Errorf("Kinds = %q", c.Kinds)
	case c.GreyZone != (GreyZone{From: 0.35, To: 0.8}):
		t.Errorf("GreyZone = %+v", c.GreyZone)
	case c.MaxConcurrent != 8 || c.MaxTokens != DefaultMaxTokens:
		t.Errorf("MaxConcurrent, MaxTokens = %d, %d", c.MaxConcurrent, c.MaxTokens)
	case c.ResponseFormat != ResponseFormatJSON || c.Mode != ModeShadow:
		t.Errorf("ResponseFormat, Mode = %q, %q", c.ResponseFormat, c.Mode)
	}
	if err := c.Validate("second_opinion"); err != nil {
		t.Errorf("the defaults of a config that is off: %v", err)
	}
	// What is set stays.
	c = Config{Timeout: 1, Kinds: []string{"tone.rude"}, GreyZone: GreyZone{To: 0.5}, MaxConcurrent: 2, Mode: ModeOff}
	c.Defaults()
	if c.Timeout != 1 || len(c.Kinds) != 1 || c.GreyZone != (GreyZone{To: 0.5}) || c.MaxConcurrent != 2 || c.Mode != ModeOff {
		t.Errorf("Defaults changed set fields: %+v", c)
	}
}

// The configuration file's section decodes with the house's strict
// decoder, and the defaults fill what it leaves out.
func TestConfigYAML(t *testing.T) {
	const file = `
enabled: true
base_url: https://dashscope.aliyuncs.com/compatible-mode/v1
model: qwen-plus
api_key_env: DASHSCOPE_API_KEY
timeout: 250ms
grey_zone: {from: 0.4, to: 0.75}
tenants:
  acme: enforce
  globex: off
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(file))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.Defaults()
	if err := c.Validate("second_opinion"); err != nil {
		t.Fatal(err)
	}
	if c.Timeout.D() != 250*time.Millisecond || c.GreyZone != (GreyZone{0.4, 0.75}) || c.MaxConcurrent != DefaultMaxConcurrent {
		t.Errorf("decoded %+v", c)
	}
	for tenant, want := range map[string]Mode{"acme": ModeEnforce, "globex": ModeOff, "initech": ModeShadow} {
		if got := c.ModeFor(tenant); got != want {
			t.Errorf("ModeFor(%s) = %s, want %s", tenant, got, want)
		}
	}
	c.Enabled = false
	if got := c.ModeFor("acme"); got != ModeOff {
		t.Errorf("disabled: ModeFor(acme) = %s, want off", got)
	}
	if err := yaml.Unmarshal([]byte("timeout: 300\n"), &c); err == nil {
		t.Error("a timeout without its unit decoded")
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{Enabled: true, BaseURL: "https://api.deepseek.com/v1", Model: "deepseek-chat", APIKeyEnv: "DEEPSEEK_API_KEY"}
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string // each in the error; none: valid
	}{
		{"valid", func(*Config) {}, nil},
		{"local vLLM without a key", func(c *Config) { c.BaseURL, c.APIKeyEnv = "http://10.0.0.5:8000/v1", "" }, nil},
		{"local Ollama with a key on loopback", func(c *Config) { c.BaseURL = "http://127.0.0.1:11434/v1" }, nil},
		{"off needs no endpoint", func(c *Config) { *c = Config{} }, nil},
		{"enabled without base_url and model", func(c *Config) { c.BaseURL, c.Model = "", "" },
			[]string{"second_opinion.base_url: required when enabled", "second_opinion.model: required when enabled"}},
		{"scheme", func(c *Config) { c.BaseURL = "ftp://example.com/v1" }, []string{"second_opinion.base_url:", "want an http or https URL"}},
		{"no host", func(c *Config) { c.BaseURL = "https:///v1" }, []string{"second_opinion.base_url:", "no host"}},
		{"a password in the URL", func(c *Config) { c.BaseURL = "https://user:sk-secret@example.com/v1" },
			[]string{"second_opinion.base_url: must not hold a user or password"}},
		{"a query", func(c *Config) { c.BaseURL = "https://example.com/v1?key=sk-secret" }, []string{"must not hold a query"}},
		{"a key in clear", func(c *Config) { c.BaseURL = "http://example.com/v1" }, []string{"the API key would travel in clear"}},
		{"the key in api_key_env", func(c *Config) { c.APIKeyEnv = "sk-0123456789abcdef" },
			[]string{"second_opinion.api_key_env: want the name of an environment variable"}},
		{"negatives", func(c *Config) { c.Timeout, c.MaxConcurrent, c.MaxTokens = -1, -1, -1 },
			[]string{"second_opinion.timeout: must not be negative", "second_opinion.max_concurrent: must not be negative", "second_opinion.max_tokens: must not be negative"}},
		{"kinds", func(c *Config) { c.Kinds = []string{"tone.rude", "tone.sarcastic", "tone.rude", "rude"} },
			[]string{`second_opinion.kinds[1]: "tone.sarcastic" is not a taxonomy kind`, `second_opinion.kinds[2]: "tone.rude" is listed twice`, `second_opinion.kinds[3]: "rude"`}},
		{"grey zone upside down", func(c *Config) { c.GreyZone = GreyZone{From: 0.8, To: 0.35} }, []string{"second_opinion.grey_zone: from 0.8 to 0.35"}},
		{"grey zone beyond 1", func(c *Config) { c.GreyZone = GreyZone{From: 0.5, To: 1.5} }, []string{"second_opinion.grey_zone:"}},
		{"response format", func(c *Config) { c.ResponseFormat = "json_schema" }, []string{`second_opinion.response_format: "json_schema"`}},
		{"enforce for all", func(c *Config) { c.Mode = ModeEnforce }, []string{"second_opinion.mode: enforce: only a tenant's own entry"}},
		{"mode", func(c *Config) { c.Mode = "on" }, []string{`second_opinion.mode: "on"`}},
		{"tenant mode", func(c *Config) { c.Tenants = map[string]Mode{"acme": "enforced", "globex": ModeEnforce} },
			[]string{`second_opinion.tenants.acme: "enforced"`}},
		{"a disabled config is checked too", func(c *Config) { c.Enabled, c.Mode = false, "sometimes" }, []string{"second_opinion.mode:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate("second_opinion")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v\nwant it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sk-") {
				t.Errorf("Validate quotes a key: %v", err)
			}
		})
	}
}

func TestTaxonomy(t *testing.T) {
	kinds := Taxonomy()
	for _, k := range append(DefaultKinds(), "complaint.escalation", "privacy.phone", "link.external") {
		if !slices.Contains(kinds, k) {
			t.Errorf("Taxonomy lacks %s: %q", k, kinds)
		}
	}
}
