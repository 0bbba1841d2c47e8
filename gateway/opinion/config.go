package opinion

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/xunjian/xunjian/detectors/registry"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/internal/envvar"
	"github.com/xunjian/xunjian/internal/loopback"
)

// Defaults of zero Config fields.
const (
	// DefaultTimeout is the hard deadline of one call.
	DefaultTimeout = 300 * time.Millisecond
	// DefaultMaxConcurrent bounds the calls in flight.
	DefaultMaxConcurrent = 8
	// DefaultGreyFrom and DefaultGreyTo bound the default grey zone.
	DefaultGreyFrom = 0.35
	DefaultGreyTo   = 0.8
	// DefaultMaxTokens bounds the answer's length, in the server's
	// tokens: enough for the JSON object and a one-sentence reason.
	DefaultMaxTokens = 200
)

// DefaultKinds returns the kinds a second opinion is asked about when the
// configuration names none: the tone kinds the model judges on agent
// drafts. Each call returns a new slice.
func DefaultKinds() []string {
	return []string{"tone.rude", "tone.dismissive", "tone.impatient", "tone.profanity"}
}

// Mode is what a tenant does with second opinions.
type Mode string

// The modes.
const (
	// ModeOff never asks: the tenant's text is never sent.
	ModeOff Mode = "off"
	// ModeShadow asks and records the opinion (event, replay) but never
	// lets it change the action: the default for every tenant once the
	// second opinion is enabled.
	ModeShadow Mode = "shadow"
	// ModeEnforce asks and lets the opinion take part in the action. Only
	// a tenant's own entry can enforce (Config.Tenants).
	ModeEnforce Mode = "enforce"
)

// Response formats (Config.ResponseFormat).
const (
	// ResponseFormatJSON sends response_format {"type": "json_object"},
	// which Qwen (DashScope compatible mode), DeepSeek, vLLM and Ollama
	// support: the server then returns a JSON object only.
	ResponseFormatJSON = "json_object"
	// ResponseFormatNone sends no response_format, for a server or model
	// that refuses it; the answer is then parsed leniently from the text.
	ResponseFormatNone = "none"
)

// GreyZone is a range of scores, From included and To excluded: the
// scores of the learned model's findings it is unsure about.
type GreyZone struct {
	// From is the lowest score in the zone (included).
	From float64 `yaml:"from"`
	// To is the score from which the model is trusted (excluded).
	To float64 `yaml:"to"`
}

// Contains reports whether score is in g: From <= score < To.
func (g GreyZone) Contains(score float64) bool { return score >= g.From && score < g.To }

// Config configures a Client; it is meant to be the `second_opinion`
// section of the gateway's configuration file. The zero value is valid and
// off: no tenant's text is ever sent.
//
// Privacy: the Client sends exactly the text it is given. The caller must
// hand it text already masked by the pipeline (the verdict's masked
// text); private data must never leave the gateway in clear.
type Config struct {
	// Enabled turns second opinions on; default false (off for every
	// tenant, whatever Mode and Tenants say).
	Enabled bool `yaml:"enabled"`
	// BaseURL is the OpenAI-compatible API's base, to which
	// /chat/completions is appended: e.g.
	// https://dashscope.aliyuncs.com/compatible-mode/v1,
	// https://api.deepseek.com/v1, http://127.0.0.1:8000/v1 (vLLM),
	// http://127.0.0.1:11434/v1 (Ollama). Required when enabled; http or
	// https, with no user, password, query or fragment (the key goes in
	// APIKeyEnv). An API key is only sent over https, or plain http to a
	// loopback address.
	BaseURL string `yaml:"base_url"`
	// Model is the model name sent with every call (qwen-plus,
	// deepseek-chat, the name vLLM serves, an Ollama tag). Required when
	// enabled.
	Model string `yaml:"model"`
	// APIKeyEnv names the environment variable holding the API key, sent
	// as Authorization: Bearer. The key itself is never in this file, in
	// logs or in errors. Empty (the default) sends no Authorization
	// header, as a local vLLM or Ollama needs none.
	APIKeyEnv string `yaml:"api_key_env"`
	// Timeout is the hard deadline of one call, dial and TLS included
	// (the caller's own deadline applies too, when earlier); past it the
	// call returns ErrTimeout and the draft goes on without an opinion.
	// Zero means DefaultTimeout (300ms).
	Timeout duration.Duration `yaml:"timeout"`
	// Kinds are the taxonomy kinds ("tone.rude") a second opinion is asked
	// about, and the only kinds its answer may name. Only kinds the
	// learned model judges (tone.*, complaint.escalation) ever qualify a
	// draft. Empty means DefaultKinds (tone.rude, tone.dismissive,
	// tone.impatient, tone.profanity).
	Kinds []string `yaml:"kinds"`
	// GreyZone is the range of the model's scores for which a second
	// opinion is asked. Both zero means DefaultGreyFrom to DefaultGreyTo
	// (0.35 to 0.8); otherwise 0 <= from < to <= 1.
	GreyZone GreyZone `yaml:"grey_zone"`
	// MaxConcurrent bounds the calls in flight; a call over it is skipped
	// (ErrBusy) rather than queued. Zero means DefaultMaxConcurrent (8).
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxTokens bounds the answer (max_tokens). Zero means
	// DefaultMaxTokens (200).
	MaxTokens int `yaml:"max_tokens"`
	// ResponseFormat is json_object (the default, also what empty means:
	// ask the server for a JSON object) or none (for a server or model
	// that refuses response_format).
	ResponseFormat string `yaml:"response_format"`
	// Mode is the mode of every tenant without an entry in Tenants: shadow
	// (the default, also what empty means) or off (only the tenants listed
	// are asked). It cannot be enforce: each tenant enables enforcement
	// for itself.
	Mode Mode `yaml:"mode"`
	// Tenants gives tenants a mode of their own by tenant id: off, shadow
	// or enforce. Empty means Mode.
	Tenants map[string]Mode `yaml:"tenants"`
}

// Defaults fills the zero fields of c that have a default.
func (c *Config) Defaults() {
	if c.Timeout == 0 {
		c.Timeout = duration.Duration(DefaultTimeout)
	}
	if len(c.Kinds) == 0 {
		c.Kinds = DefaultKinds()
	}
	if c.GreyZone == (GreyZone{}) {
		c.GreyZone = GreyZone{From: DefaultGreyFrom, To: DefaultGreyTo}
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.ResponseFormat == "" {
		c.ResponseFormat = ResponseFormatJSON
	}
	if c.Mode == "" {
		c.Mode = ModeShadow
	}
}

// ModeFor returns tenant's mode: off when c is not enabled, else its entry
// in Tenants, else Mode, else shadow.
func (c Config) ModeFor(tenant string) Mode {
	if !c.Enabled {
		return ModeOff
	}
	if m := c.Tenants[tenant]; m != "" {
		return m
	}
	if c.Mode != "" {
		return c.Mode
	}
	return ModeShadow
}

// Validate checks c as a configuration file gives it, naming each fault by
// its YAML path under path (e.g. "second_opinion.base_url: required when
// enabled"), all of them joined. BaseURL and Model are required only when
// c is enabled; the other fields are checked either way. Errors never
// quote APIKeyEnv when it looks like a key rather than a variable's name.
func (c Config) Validate(path string) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		f := name
		if path != "" {
			f = path + "." + name
		}
		errs = append(errs, fmt.Errorf("%s: %s", f, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.BaseURL == "" && c.Enabled:
		bad("base_url", "required when enabled")
	case c.BaseURL != "":
		if err := checkBaseURL(c.BaseURL, c.APIKeyEnv != ""); err != "" {
			bad("base_url", "%s", err)
		}
	}
	if c.Model == "" && c.Enabled {
		bad("model", "required when enabled")
	}
	if c.APIKeyEnv != "" && !envvar.Name(c.APIKeyEnv) {
		// Not quoted: what is here may be the key itself.
		bad("api_key_env", "want the name of an environment variable (letters, digits, _), not the key itself")
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	taxonomy := Taxonomy()
	for i, k := range c.Kinds {
		switch {
		case !slices.Contains(taxonomy, k):
			bad(fmt.Sprintf("kinds[%d]", i), "%q is not a taxonomy kind (family.kind, e.g. tone.rude)", k)
		case slices.Contains(c.Kinds[:i], k):
			bad(fmt.Sprintf("kinds[%d]", i), "%q is listed twice", k)
		}
	}
	if g := c.GreyZone; g != (GreyZone{}) && !(g.From >= 0 && g.From < g.To && g.To <= 1) {
		bad("grey_zone", "from %v to %v: want 0 <= from < to <= 1", g.From, g.To)
	}
	if c.MaxConcurrent < 0 {
		bad("max_concurrent", "must not be negative")
	}
	if c.MaxTokens < 0 {
		bad("max_tokens", "must not be negative")
	}
	switch c.ResponseFormat {
	case "", ResponseFormatJSON, ResponseFormatNone:
	default:
		bad("response_format", "%q: want json_object or none", c.ResponseFormat)
	}
	switch c.Mode {
	case "", ModeOff, ModeShadow:
	case ModeEnforce:
		bad("mode", "enforce: only a tenant's own entry (tenants.<id>) can enforce; want off or shadow")
	default:
		bad("mode", "%q: want off or shadow", c.Mode)
	}
	for _, id := range sortedKeys(c.Tenants) {
		switch m := c.Tenants[id]; m {
		case "", ModeOff, ModeShadow, ModeEnforce:
		default:
			bad("tenants."+id, "%q: want off, shadow or enforce", m)
		}
	}
	return errors.Join(errs...)
}

// checkBaseURL returns what is wrong with u as a base URL, or "". withKey
// says an API key will be sent to it.
func checkBaseURL(u string, withKey bool) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "not a URL"
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Sprintf("%q: want an http or https URL", p.Redacted())
	case p.Host == "":
		return fmt.Sprintf("%q: no host", p.Redacted())
	case p.User != nil:
		return "must not hold a user or password: name the key's environment variable in api_key_env"
	case p.RawQuery != "" || p.ForceQuery || p.Fragment != "":
		return fmt.Sprintf("%q: must not hold a query or fragment", p.Scheme+"://"+p.Host+p.Path)
	case withKey && p.Scheme == "http" && !loopback.Host(p.Hostname()):
		return fmt.Sprintf("%q: the API key would travel in clear; use https, or http to a loopback address", u)
	}
	return ""
}

// Taxonomy returns every taxonomy kind ("family.kind"), from the one table
// of detector families. Each call returns a new slice.
func Taxonomy() []string {
	var kinds []string
	for _, f := range registry.Families() {
		for _, k := range f.Kinds {
			kinds = append(kinds, f.Name+"."+k)
		}
	}
	return kinds
}

// sortedKeys returns m's keys in order, so that errors come in a stable
// order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
