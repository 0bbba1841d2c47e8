// Package sampling decides which conversations are copied, whole, to the
// QA audit topic (xunjian.samples): a deterministic share chosen by a salted
// hash of the conversation, every high-risk conversation, every one the
// policy flags, and a per-agent daily minimum so every agent is audited.
//
// The package is pure logic: no Kafka, no I/O, no goroutines. Time is passed
// in by the caller.
//
// # Determinism across gateways
//
// The hash decision depends only on Config.Seed, the tenant and the
// conversation id, so N gateways with the same seed agree. It is computed as
// SHA-256 over uvarint(len(seed)) ‖ seed ‖ uvarint(len(tenant)) ‖ tenant ‖
// conversation; the first 8 bytes, big-endian, shifted right by 11, divided
// by 2^53 give u in [0,1), and the conversation is sampled when u < Rate.
// (Length prefixes make the encoding unambiguous.) A conversation whose
// sampling rests on other reasons (risk, policy, agent minimum) is
// remembered only by the gateway that saw it, which is why the load
// balancer should hash on the conversation id (see DESIGN.md, "Scale past
// one machine").
//
// # Whole conversations
//
// Once a conversation is sampled, every later call for it reports sampled
// (with the reason it was first sampled), even if its risk drops. Sampled
// conversations are remembered in a bounded LRU set keyed by 64 bits of the
// same digest (a collision, at odds around 2^-40 for a full set, can only
// over-sample). A conversation evicted from the set is re-decided from
// scratch: a hash-sampled one is still sampled; others only if a reason
// still holds. Sampling starts at the message where it is decided; earlier
// messages of the conversation are not re-emitted by this package.
package sampling

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/internal/lru"
)

// Defaults for zero Config fields.
const (
	DefaultHighRiskAt = 0.8
	DefaultMaxAgents  = 100_000
	// DefaultMaxConversations bounds the set of sampled conversations. An
	// entry holds no strings (a 64-bit key, a reason byte and links in a
	// slice, plus its map slot): measured at about 66 bytes, so the default
	// costs about 33 MB when full. At a 5% rate plus high-risk ones that
	// covers millions of recent conversations.
	DefaultMaxConversations = 500_000
)

// Reasons reported by Decide.
const (
	ReasonHash         = "hash"
	ReasonHighRisk     = "high_risk"
	ReasonAgentMinimum = "agent_minimum"
	ReasonPolicy       = "policy"
)

// reasons indexes the reasons, so the sampled set stores one byte each.
var reasons = [...]string{ReasonHash, ReasonHighRisk, ReasonAgentMinimum, ReasonPolicy}

func reasonIndex(r string) uint8 {
	for i, x := range reasons {
		if x == r {
			return uint8(i)
		}
	}
	panic("sampling: unknown reason") // unreachable: Decide only uses the constants
}

// Config configures a Sampler; its Rate, SeedEnv, HighRiskAt and
// AgentDailyMin are the `stream.sampling` section of the gateway's
// configuration file. Its zero value samples nothing but conversations at
// risk ≥ 0.8 or forced by the policy.
type Config struct {
	// Rate is the share of conversations sampled by hash, in [0,1];
	// default 0 (only high-risk, policy-flagged and agent minimums).
	Rate float64 `yaml:"rate"`
	// SeedEnv names the environment variable with the seed; the gateway
	// reads it at start into Seed. Empty means the gateway's fixed public
	// seed, which lets anyone who knows it predict the sample.
	SeedEnv string `yaml:"seed_env"`
	// Seed salts the hash so the sample cannot be predicted from
	// conversation ids. All gateways must share it. Never logged, never in
	// the file.
	Seed string `yaml:"-"`
	// HighRiskAt is the conversation risk at or above which a conversation
	// is always sampled, in (0,1]. Zero: DefaultHighRiskAt (0.8).
	HighRiskAt float64 `yaml:"high_risk_at"`
	// AgentDailyMin is the minimum number of sampled conversations per
	// agent per UTC day: while an agent has fewer sampled conversations
	// that day (for any reason), its next new conversation is sampled.
	// Zero (the default): no minimum.
	AgentDailyMin int `yaml:"agent_daily_min"`
	// MaxAgents bounds the per-(tenant, agent) day counters, evicting the
	// least recently seen. Zero: DefaultMaxAgents. Not settable from the
	// configuration file.
	MaxAgents int `yaml:"-"`
	// MaxConversations bounds the set of sampled conversations, evicting
	// the least recently seen. Zero: DefaultMaxConversations. Not settable
	// from the configuration file.
	MaxConversations int `yaml:"-"`
}

// Defaults fills the zero fields of c that have a default.
func (c *Config) Defaults() {
	if c.HighRiskAt == 0 {
		c.HighRiskAt = DefaultHighRiskAt
	}
	if c.MaxAgents == 0 {
		c.MaxAgents = DefaultMaxAgents
	}
	if c.MaxConversations == 0 {
		c.MaxConversations = DefaultMaxConversations
	}
}

// Validate checks c as a configuration file gives it (call Defaults
// first), naming each fault by its YAML path under path (e.g.
// "stream.sampling.rate: ..."), all of them joined. New checks the same
// and the bounds that are not in the file.
func (c Config) Validate(path string) error {
	var errs []error
	if !(c.Rate >= 0 && c.Rate <= 1) {
		errs = append(errs, fmt.Errorf("%s.rate: %v: want a share in [0, 1]", path, c.Rate))
	}
	if !(c.HighRiskAt > 0 && c.HighRiskAt <= 1) {
		errs = append(errs, fmt.Errorf("%s.high_risk_at: %v: want a risk in (0, 1]", path, c.HighRiskAt))
	}
	if c.AgentDailyMin < 0 {
		errs = append(errs, fmt.Errorf("%s.agent_daily_min: must not be negative", path))
	}
	return errors.Join(errs...)
}

// Sampler decides which conversations are sampled. It is safe for
// concurrent use: the hash is computed outside the lock, and the bookkeeping
// (O(1) per call) is serialized by one mutex. Memory is bounded by
// Config.MaxConversations and Config.MaxAgents entries.
type Sampler struct {
	rate       float64
	seed       string
	highRiskAt float64
	agentMin   int

	mu      sync.Mutex
	sampled *lru.LRU[uint64, uint8]      // conversation key → index in reasons of the first reason
	agents  *lru.LRU[agentKey, dayCount] // (tenant, agent) → sampled this day
}

type agentKey struct{ tenant, agent string }

type dayCount struct {
	day   int64 // days since the Unix epoch, UTC
	count int
}

// New validates cfg and returns a Sampler.
func New(cfg Config) (*Sampler, error) {
	cfg.Defaults()
	var errs []error
	if !(cfg.Rate >= 0 && cfg.Rate <= 1) {
		errs = append(errs, fmt.Errorf("rate %v not in [0,1]", cfg.Rate))
	}
	if !(cfg.HighRiskAt > 0 && cfg.HighRiskAt <= 1) {
		errs = append(errs, fmt.Errorf("high-risk threshold %v not in (0,1]", cfg.HighRiskAt))
	}
	if cfg.AgentDailyMin < 0 {
		errs = append(errs, fmt.Errorf("agent daily minimum %d is negative", cfg.AgentDailyMin))
	}
	if cfg.MaxAgents < 0 {
		errs = append(errs, fmt.Errorf("max agents %d is negative", cfg.MaxAgents))
	}
	if cfg.MaxConversations < 0 || cfg.MaxConversations > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("max conversations %d not in [0,%d]", cfg.MaxConversations, math.MaxInt32))
	}
	if cfg.MaxAgents > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("max agents %d above %d", cfg.MaxAgents, math.MaxInt32))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sampling config: %w", err)
	}
	return &Sampler{
		rate:       cfg.Rate,
		seed:       cfg.Seed,
		highRiskAt: cfg.HighRiskAt,
		agentMin:   cfg.AgentDailyMin,
		sampled:    lru.New[uint64, uint8](cfg.MaxConversations),
		agents:     lru.New[agentKey, dayCount](cfg.MaxAgents),
	}, nil
}

// Decide reports whether the message of conversation (in tenant, handled by
// agent, with the conversation's risk so far, at now) is sampled, and why:
// ReasonPolicy when policyForced (the policy's own sample flag), else
// ReasonHighRisk when risk ≥ HighRiskAt, else ReasonHash when the
// conversation falls in the hashed Rate share, else ReasonAgentMinimum when
// the agent has fewer than AgentDailyMin sampled conversations this UTC day
// (an empty agent id gets no minimum). A conversation sampled before keeps
// being sampled with its first reason. reason is "" when not sampled.
//
// Each newly sampled conversation counts towards its agent's minimum for
// the day of now, whatever the reason. Strings are copied when remembered.
func (s *Sampler) Decide(tenant, conversation, agent string, risk float64, policyForced bool, now time.Time) (sampled bool, reason string) {
	u, key := s.hash(tenant, conversation)

	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.sampled.Get(key); ok {
		return true, reasons[*r]
	}
	switch {
	case policyForced:
		reason = ReasonPolicy
	case risk >= s.highRiskAt:
		reason = ReasonHighRisk
	case u < s.rate:
		reason = ReasonHash
	}
	if s.agentMin > 0 && agent != "" {
		day := utcDay(now)
		ak := agentKey{tenant, agent}
		c, ok := s.agents.Get(ak)
		if !ok {
			c = s.agents.Add(agentKey{strings.Clone(tenant), strings.Clone(agent)}, dayCount{day: day})
		} else if c.day != day {
			*c = dayCount{day: day}
		}
		if reason == "" && c.count < s.agentMin {
			reason = ReasonAgentMinimum
		}
		if reason != "" {
			c.count++
		}
	}
	if reason == "" {
		return false, ""
	}
	s.sampled.Add(key, reasonIndex(reason))
	return true, reason
}

// Reason returns the reason Decide would sample a conversation for, before
// what it remembers (the conversation sampled before, the agent's daily
// minimum): ReasonPolicy, ReasonHighRisk, ReasonHash or "". A store shared
// by several gateways applies the rest of Decide's rules itself, with
// AgentDailyMin.
func (s *Sampler) Reason(tenant, conversation string, risk float64, policyForced bool) string {
	switch {
	case policyForced:
		return ReasonPolicy
	case risk >= s.highRiskAt:
		return ReasonHighRisk
	}
	if u, _ := s.hash(tenant, conversation); u < s.rate {
		return ReasonHash
	}
	return ""
}

// AgentDailyMin returns the per-agent daily minimum (Config.AgentDailyMin).
func (s *Sampler) AgentDailyMin() int { return s.agentMin }

// UTCDay returns the days since the Unix epoch of t's UTC date: the day an
// agent's minimum counts in.
func UTCDay(t time.Time) int64 { return utcDay(t) }

// Len reports how many sampled conversations and agent counters are
// remembered.
func (s *Sampler) Len() (conversations, agents int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sampled.Len(), s.agents.Len()
}

// hash returns the conversation's position u in [0,1) and its 64-bit key
// for the sampled set (see the package doc for the encoding).
func (s *Sampler) hash(tenant, conversation string) (u float64, key uint64) {
	var stack [256]byte
	b := stack[:0]
	b = binary.AppendUvarint(b, uint64(len(s.seed)))
	b = append(b, s.seed...)
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	b = append(b, conversation...)
	sum := sha256.Sum256(b)
	u = float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
	return u, binary.BigEndian.Uint64(sum[8:16])
}

// utcDay returns the days since the Unix epoch of t's UTC date.
func utcDay(t time.Time) int64 {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return d
}
