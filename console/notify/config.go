package notify

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/internal/envvar"
	"github.com/xunjian/xunjian/internal/loopback"
)

// The channel types (ChannelConfig.Type).
const (
	// TypeWebhook posts the notification as JSON to any URL, signed with
	// HMAC-SHA256 (see WebhookSignature).
	TypeWebhook = "webhook"
	// TypeDingTalk posts markdown to a DingTalk custom robot.
	TypeDingTalk = "dingtalk"
	// TypeWeCom posts markdown to a WeCom (企业微信) group robot.
	TypeWeCom = "wecom"
	// TypeFeishu posts rich text (post) to a Feishu or Lark custom bot.
	TypeFeishu = "feishu"
	// TypeSlack posts Block Kit to a Slack incoming webhook.
	TypeSlack = "slack"
)

// The platforms' endpoints, the defaults of ChannelConfig.BaseURL.
const (
	DefaultDingTalkURL = "https://oapi.dingtalk.com/robot/send"
	DefaultWeComURL    = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
	// DefaultFeishuURL is Feishu's; Lark's is
	// https://open.larksuite.com/open-apis/bot/v2/hook/.
	DefaultFeishuURL = "https://open.feishu.cn/open-apis/bot/v2/hook/"
)

// Defaults of zero Config fields.
const (
	DefaultWorkers        = 4
	DefaultQueueSize      = 1024
	DefaultLang           = "zh"
	DefaultMaxTurns       = 5
	DefaultMaxAttempts    = 5
	DefaultBackoff        = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultMaxRetryAfter  = 5 * time.Minute
	DefaultAttemptTimeout = 10 * time.Second
	DefaultWindow         = time.Minute
	DefaultDigestTop      = 5
)

// DefaultThrottle returns the throttle of a channel type when the
// configuration sets none, under each platform's documented limit:
// DingTalk and WeCom robots take 20 messages a minute (18, leaving room
// for a digest and a retry), a Feishu custom bot 100 a minute and 5 a
// second (90, spaced 250ms), a Slack incoming webhook about one a second
// (50, spaced 1s); the generic webhook is not throttled.
func DefaultThrottle(typ string) ThrottleConfig {
	t := ThrottleConfig{Window: duration.Duration(DefaultWindow), DigestTop: DefaultDigestTop}
	switch typ {
	case TypeDingTalk, TypeWeCom:
		t.Limit = 18
	case TypeFeishu:
		t.Limit, t.MinInterval = 90, duration.Duration(250*time.Millisecond)
	case TypeSlack:
		t.Limit, t.MinInterval = 50, duration.Duration(time.Second)
	default:
		t.Limit = -1
	}
	return t
}

// Config configures a Dispatcher: the `notify` section of the console's
// configuration file. Defaults fills its zero fields; Validate checks it.
// It holds no secret: tokens, keys and signing secrets are named by
// environment variable.
type Config struct {
	// ConsoleURL is the console's base URL (https://console.example.com),
	// to which the conversation view's path is appended in every message:
	// {console_url}/conversations/{conversation_id}. Empty sends no link.
	ConsoleURL string `yaml:"console_url"`
	// Lang is the messages' language when neither the route nor the
	// channel sets one: zh (the default) or en.
	Lang string `yaml:"lang"`
	// TimeZone is the IANA zone the messages' times are shown in, e.g.
	// Asia/Shanghai. Empty means the process's local zone.
	TimeZone string `yaml:"time_zone"`
	// Workers bounds the deliveries in flight. Zero means DefaultWorkers.
	Workers int `yaml:"workers"`
	// QueueSize bounds the deliveries waiting for a worker; Submit blocks
	// (under its context) while the queue is full. Zero means
	// DefaultQueueSize.
	QueueSize int `yaml:"queue_size"`
	// Retry is the retry policy of every channel.
	Retry RetryConfig `yaml:"retry"`
	// Channels are the channels, each by a unique name.
	Channels []ChannelConfig `yaml:"channels"`
	// Routes choose channels for a notification, in order; see Router.
	Routes []RouteConfig `yaml:"routes"`
	// DefaultRoute applies when no route matches. Its zero value sends
	// nowhere.
	DefaultRoute DefaultRoute `yaml:"default_route"`
}

// RetryConfig is the retry policy: a failed attempt that may succeed later
// (a timeout, a connection error, HTTP 408, 429 or 5xx, a platform's rate
// limit or busy code) is retried after Backoff·2^(n-1), at most
// MaxBackoff, with equal jitter (half fixed, half random), and never
// before the platform's Retry-After. Other failures are not retried. After
// the last attempt the delivery is a dead letter.
type RetryConfig struct {
	// MaxAttempts bounds the attempts of one delivery, the first included.
	// Zero means DefaultMaxAttempts (5).
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait before the second attempt, doubled for each one
	// after. Zero means DefaultBackoff (1s).
	Backoff duration.Duration `yaml:"backoff"`
	// MaxBackoff caps the wait computed from Backoff. Zero means
	// DefaultMaxBackoff (1m).
	MaxBackoff duration.Duration `yaml:"max_backoff"`
	// MaxRetryAfter is the longest Retry-After honoured; a platform asking
	// for a longer wait makes the delivery a dead letter at once. Zero
	// means DefaultMaxRetryAfter (5m).
	MaxRetryAfter duration.Duration `yaml:"max_retry_after"`
	// AttemptTimeout bounds one attempt, dial, TLS and the answer
	// included, unless the channel sets its own. Zero means
	// DefaultAttemptTimeout (10s).
	AttemptTimeout duration.Duration `yaml:"attempt_timeout"`
}

// ChannelConfig configures one channel.
type ChannelConfig struct {
	// Name identifies the channel in routes, metrics and idempotency keys:
	// letters, digits, '-' and '_'. Required, unique. Renaming a channel
	// changes its keys, so the alerts already posted to it would be posted
	// again on a replay.
	Name string `yaml:"name"`
	// Type is webhook, dingtalk, wecom, feishu or slack. Required.
	Type string `yaml:"type"`
	// URL is the generic webhook's URL (webhook only, required there):
	// https, or http to a loopback address.
	URL string `yaml:"url"`
	// BaseURL is the platform's endpoint (dingtalk, wecom, feishu): the
	// token is added to it. Empty means the platform's
	// (DefaultDingTalkURL, DefaultWeComURL, DefaultFeishuURL); set it for
	// Lark, a proxy or a test server. https, or http to a loopback
	// address, with no query.
	BaseURL string `yaml:"base_url"`
	// TokenEnv names the environment variable holding the channel's token:
	// the DingTalk robot's access_token, the WeCom robot's key, the Feishu
	// hook's id (the last segment of its webhook URL). Required for those
	// types.
	TokenEnv string `yaml:"token_env"`
	// URLEnv names the environment variable holding the Slack incoming
	// webhook's URL, which is itself the secret (slack only, required
	// there).
	URLEnv string `yaml:"url_env"`
	// SecretEnv names the environment variable holding the signing
	// secret: the webhook's HMAC key (required for webhook), the DingTalk
	// robot's 加签 secret (SEC…) or the Feishu bot's signature secret
	// (optional: empty sends unsigned, for a robot secured by keyword or
	// IP instead).
	SecretEnv string `yaml:"secret_env"`
	// Lang is the channel's language, zh or en, unless the route sets
	// one. Empty means Config.Lang.
	Lang string `yaml:"lang"`
	// MaxTurns bounds the context turns shown, the latest kept; fewer are
	// shown when the platform's length limit requires. Zero means
	// DefaultMaxTurns (5).
	MaxTurns int `yaml:"max_turns"`
	// Timeout bounds one attempt on this channel. Zero means
	// Retry.AttemptTimeout.
	Timeout duration.Duration `yaml:"timeout"`
	// Throttle limits the channel's posts. Zero fields take the type's
	// defaults (DefaultThrottle).
	Throttle ThrottleConfig `yaml:"throttle"`
}

// ThrottleConfig limits one channel's posts: at most Limit posts per
// Window, the window starting with the first post after the last one
// ended. Notifications over the limit are not posted one by one: they are
// folded into a digest, posted when the window ends (counts by kind and
// level, and the DigestTop gravest).
type ThrottleConfig struct {
	// Limit is the most posts per window, the digest included. Zero means
	// the type's default; -1 means no limit.
	Limit int `yaml:"limit"`
	// Window is the throttle's window. Zero means DefaultWindow (1m).
	Window duration.Duration `yaml:"window"`
	// MinInterval spaces consecutive posts (for a platform's per-second
	// limit): a post waits for it rather than being folded. Zero means the
	// type's default.
	MinInterval duration.Duration `yaml:"min_interval"`
	// DigestTop is how many notifications a digest lists, the gravest
	// first. Zero means DefaultDigestTop (5).
	DigestTop int `yaml:"digest_top"`
}

// RouteConfig is one routing rule. A notification matches when each list
// that is not empty holds its tenant, team and kind, and its level is at
// least MinLevel; see Router for the order.
type RouteConfig struct {
	// Name names the rule in errors (optional).
	Name string `yaml:"name"`
	// Tenants matches these tenants only; empty matches any.
	Tenants []string `yaml:"tenants"`
	// Teams matches these teams (agent groups) only; empty matches any.
	// A notification whose team is unknown matches only a route without
	// teams.
	Teams []string `yaml:"teams"`
	// Kinds matches these alert kinds only; empty matches any.
	Kinds []string `yaml:"kinds"`
	// MinLevel is the lowest level matched: low (the default), medium,
	// high or critical.
	MinLevel string `yaml:"min_level"`
	// Channels are the channels a matching notification goes to, by name.
	// Required.
	Channels []string `yaml:"channels"`
	// Lang overrides the channels' language for this route: zh or en.
	Lang string `yaml:"lang"`
	// Continue goes on to the next routes after a match (their channels
	// are added); by default the first match ends the routing.
	Continue bool `yaml:"continue"`
}

// DefaultRoute is the route of the notifications no route matches.
type DefaultRoute struct {
	// MinLevel is the lowest level sent: low (the default), medium, high
	// or critical.
	MinLevel string `yaml:"min_level"`
	// Channels are the channels, by name; empty sends nowhere.
	Channels []string `yaml:"channels"`
	// Lang overrides the channels' language: zh or en.
	Lang string `yaml:"lang"`
}

// Defaults fills the zero fields of c that have a default, channels'
// included.
func (c *Config) Defaults() {
	if c.Lang == "" {
		c.Lang = DefaultLang
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	r := &c.Retry
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.Backoff == 0 {
		r.Backoff = duration.Duration(DefaultBackoff)
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = duration.Duration(DefaultMaxBackoff)
	}
	if r.MaxRetryAfter == 0 {
		r.MaxRetryAfter = duration.Duration(DefaultMaxRetryAfter)
	}
	if r.AttemptTimeout == 0 {
		r.AttemptTimeout = duration.Duration(DefaultAttemptTimeout)
	}
	for i := range c.Channels {
		ch := &c.Channels[i]
		if ch.BaseURL == "" {
			switch ch.Type {
			case TypeDingTalk:
				ch.BaseURL = DefaultDingTalkURL
			case TypeWeCom:
				ch.BaseURL = DefaultWeComURL
			case TypeFeishu:
				ch.BaseURL = DefaultFeishuURL
			}
		}
		if ch.MaxTurns == 0 {
			ch.MaxTurns = DefaultMaxTurns
		}
		if ch.Timeout == 0 {
			ch.Timeout = r.AttemptTimeout
		}
		d, t := DefaultThrottle(ch.Type), &ch.Throttle
		if t.Limit == 0 {
			t.Limit = d.Limit
		}
		if t.Window == 0 {
			t.Window = d.Window
		}
		if t.MinInterval == 0 {
			t.MinInterval = d.MinInterval
		}
		if t.DigestTop == 0 {
			t.DigestTop = d.DigestTop
		}
	}
}

// Validate checks c as a configuration file gives it, naming each fault by
// its YAML path under path (e.g. "notify.channels[1].token_env: required
// for dingtalk"), all of them joined. It reads no environment variable
// (New does) and never quotes a field that looks like a secret pasted in
// place of a variable's name.
func (c Config) Validate(path string) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		f := name
		if path != "" {
			f = path + "." + name
		}
		errs = append(errs, fmt.Errorf("%s: %s", f, fmt.Sprintf(format, args...)))
	}
	if c.ConsoleURL != "" {
		if msg := checkURL(c.ConsoleURL, false, false); msg != "" {
			bad("console_url", "%s", msg)
		}
	}
	checkLang := func(name, lang string) {
		if lang != "" && lang != "zh" && lang != "en" {
			bad(name, "%q: want zh or en", lang)
		}
	}
	checkLang("lang", c.Lang)
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			bad("time_zone", "%q is not a known IANA zone", c.TimeZone)
		}
	}
	if c.Workers < 0 {
		bad("workers", "must not be negative")
	}
	if c.QueueSize < 0 {
		bad("queue_size", "must not be negative")
	}
	r := c.Retry
	for name, v := range map[string]int64{
		"retry.max_attempts": int64(r.MaxAttempts), "retry.backoff": int64(r.Backoff),
		"retry.max_backoff": int64(r.MaxBackoff), "retry.max_retry_after": int64(r.MaxRetryAfter),
		"retry.attempt_timeout": int64(r.AttemptTimeout),
	} {
		if v < 0 {
			bad(name, "must not be negative")
		}
	}
	if r.Backoff > 0 && r.MaxBackoff > 0 && r.MaxBackoff < r.Backoff {
		bad("retry.max_backoff", "%v is less than backoff %v", r.MaxBackoff, r.Backoff)
	}
	names := map[string]bool{}
	for i, ch := range c.Channels {
		p := fmt.Sprintf("channels[%d]", i)
		switch {
		case ch.Name == "":
			bad(p+".name", "required")
		case !channelName(ch.Name):
			bad(p+".name", "%q: want letters, digits, '-' and '_'", ch.Name)
		case names[ch.Name]:
			bad(p+".name", "%q is used twice", ch.Name)
		}
		names[ch.Name] = true
		for _, e := range ch.validate() {
			bad(p+"."+e.field, "%s", e.msg)
		}
		checkLang(p+".lang", ch.Lang)
	}
	checkChannels := func(p string, chs []string) {
		for j, n := range chs {
			switch {
			case !names[n]:
				bad(fmt.Sprintf("%s.channels[%d]", p, j), "no channel named %q", n)
			case slices.Contains(chs[:j], n):
				bad(fmt.Sprintf("%s.channels[%d]", p, j), "%q is listed twice", n)
			}
		}
	}
	for i, rt := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if rt.Name != "" {
			p = fmt.Sprintf("routes[%d] (%s)", i, rt.Name)
		}
		if len(rt.Channels) == 0 {
			bad(p+".channels", "required")
		}
		checkChannels(p, rt.Channels)
		if rt.MinLevel != "" {
			if _, err := ParseLevel(rt.MinLevel); err != nil {
				bad(p+".min_level", "%q: want low, medium, high or critical", rt.MinLevel)
			}
		}
		checkLang(p+".lang", rt.Lang)
		for field, list := range map[string][]string{"tenants": rt.Tenants, "teams": rt.Teams, "kinds": rt.Kinds} {
			if slices.Contains(list, "") {
				bad(p+"."+field, "holds an empty name")
			}
		}
	}
	checkChannels("default_route", c.DefaultRoute.Channels)
	if c.DefaultRoute.MinLevel != "" {
		if _, err := ParseLevel(c.DefaultRoute.MinLevel); err != nil {
			bad("default_route.min_level", "%q: want low, medium, high or critical", c.DefaultRoute.MinLevel)
		}
	}
	checkLang("default_route.lang", c.DefaultRoute.Lang)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// fieldError is a fault of one field of a ChannelConfig.
type fieldError struct{ field, msg string }

// validate returns the faults of ch's type-specific fields.
func (ch ChannelConfig) validate() []fieldError {
	var errs []fieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldError{field, fmt.Sprintf(format, args...)})
	}
	env := func(field, value string, required bool) {
		switch {
		case value == "" && required:
			bad(field, "required for %s", ch.Type)
		case value != "" && !envvar.Name(value):
			// Not quoted: what is here may be the secret itself.
			bad(field, "want the name of an environment variable (letters, digits, _), not the secret itself")
		}
	}
	unused := func(field, value string) {
		if value != "" {
			bad(field, "not used by %s", ch.Type)
		}
	}
	switch ch.Type {
	case TypeWebhook:
		if ch.URL == "" {
			bad("url", "required for webhook")
		} else if msg := checkURL(ch.URL, true, true); msg != "" {
			bad("url", "%s", msg)
		}
		env("secret_env", ch.SecretEnv, true)
		unused("base_url", ch.BaseURL)
		unused("token_env", ch.TokenEnv)
		unused("url_env", ch.URLEnv)
	case TypeDingTalk, TypeWeCom, TypeFeishu:
		if ch.BaseURL != "" {
			if msg := checkURL(ch.BaseURL, true, false); msg != "" {
				bad("base_url", "%s (the token goes in token_env)", msg)
			}
		}
		env("token_env", ch.TokenEnv, true)
		env("secret_env", ch.SecretEnv, false)
		if ch.Type == TypeWeCom {
			unused("secret_env", ch.SecretEnv)
		}
		unused("url", ch.URL)
		unused("url_env", ch.URLEnv)
	case TypeSlack:
		env("url_env", ch.URLEnv, true)
		unused("url", ch.URL)
		unused("base_url", ch.BaseURL)
		unused("token_env", ch.TokenEnv)
		unused("secret_env", ch.SecretEnv)
	case "":
		bad("type", "required: webhook, dingtalk, wecom, feishu or slack")
	default:
		bad("type", "%q: want webhook, dingtalk, wecom, feishu or slack", ch.Type)
	}
	if ch.MaxTurns < 0 {
		bad("max_turns", "must not be negative")
	}
	if ch.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	t := ch.Throttle
	if t.Limit < -1 {
		bad("throttle.limit", "%d: want -1 (no limit), 0 (the default) or more", t.Limit)
	}
	if t.Window < 0 {
		bad("throttle.window", "must not be negative")
	}
	if t.MinInterval < 0 {
		bad("throttle.min_interval", "must not be negative")
	}
	if t.DigestTop < 0 {
		bad("throttle.digest_top", "must not be negative")
	}
	return errs
}

// checkURL returns what is wrong with u as an endpoint, or "". secret says
// a secret travels to it (then plain http is for loopback only); query
// says it may hold a query.
func checkURL(u string, secret, query bool) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "not a URL"
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Sprintf("%q: want an http or https URL", p.Redacted())
	case p.Host == "":
		return fmt.Sprintf("%q: no host", p.Redacted())
	case p.User != nil:
		return "must not hold a user or password"
	case p.Fragment != "":
		return fmt.Sprintf("%q: must not hold a fragment", p.Scheme+"://"+p.Host+p.Path)
	case !query && (p.RawQuery != "" || p.ForceQuery):
		return fmt.Sprintf("%q: must not hold a query", p.Scheme+"://"+p.Host+p.Path)
	case secret && p.Scheme == "http" && !loopback.Host(p.Hostname()):
		return fmt.Sprintf("%q: the secret would travel in clear; use https, or http to a loopback address", p.Scheme+"://"+p.Host+p.Path)
	case strings.ContainsAny(u, " \t\r\n<>()|\"`"):
		return fmt.Sprintf("%q: holds a space or one of <>()|\"` (would break a message's link)", p.Scheme+"://"+p.Host+p.Path)
	}
	return ""
}

// channelName reports whether s can name a channel.
func channelName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}
