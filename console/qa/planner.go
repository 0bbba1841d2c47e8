package qa

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"unicode"

	"github.com/xunjian/xunjian/console/store"
)

// Planner decides the review tasks of a sampled conversation from a
// Config: it is the store's TaskPlanner. It is immutable and safe for
// concurrent use.
//
// Why a conversation was sampled is not in the gateway's events, so the
// planner infers it, in the gateway's order (stream.sampling) but for the
// policy's sample flag, which it cannot see: high_risk when the risk of
// the conversation's first sampled event reaches Sampling.HighRiskAt;
// hash when Sampling.Rate is set and the conversation falls in the hashed
// share (the gateway's hash, with the gateway's salt from
// Sampling.SeedEnv); agent_min while the agent has fewer than
// AgentDailyMin sampled conversations that UTC day; otherwise policy when
// Sampling.Rate is set (nothing else samples), hash when it is not (the
// console cannot tell those two apart then).
type Planner struct {
	cfg Config
}

// NewPlanner returns the Planner of c (defaulted and validated, its
// secrets read). It keeps its own copy of c.
func NewPlanner(c Config) *Planner {
	c.Defaults()
	return &Planner{cfg: c}
}

// calibrationLabel separates the calibration hash from the gateway's
// sampling hash: with one salt for both, the calibration share would
// otherwise be a slice of the hash-sampled share.
const calibrationLabel = "xunjian.qa.calibration\x00"

// PlanTasks implements store.TaskPlanner.
func (p *Planner) PlanTasks(sc store.SampledConversation) store.TaskPlan {
	c := &p.cfg
	plan := store.TaskPlan{Lang: DetectLang(sc.TextMasked), Due: c.Due.D()}
	samplingU, _ := position(c.Sampling.Seed, sc.Tenant, sc.ConversationID)
	switch {
	case sc.Risk >= c.Sampling.HighRiskAt:
		plan.Reason = store.ReasonHighRisk
	case c.Sampling.Rate > 0 && samplingU < c.Sampling.Rate:
		plan.Reason = store.ReasonHash
	case sc.AgentSampledToday < c.AgentDailyMin:
		plan.Reason = store.ReasonAgentMin
	case c.Sampling.Rate > 0:
		plan.Reason = store.ReasonPolicy
	default:
		plan.Reason = store.ReasonHash
	}
	if auditors := c.Calibration.Auditors[sc.Tenant]; len(auditors) >= 2 && c.Calibration.Rate > 0 {
		u, digest := position(calibrationLabel+c.Calibration.Seed, sc.Tenant, sc.ConversationID)
		if u < c.Calibration.Rate {
			plan.Calibration = slices.Clone(auditors)
			plan.CalibrationGroup = "cal-" + hex.EncodeToString(digest[8:16])
			return plan
		}
	}
	for _, r := range c.Assignment[sc.Tenant] {
		if r.matches(sc.Team, plan.Lang, sc.Risk) {
			plan.Pool = slices.Clone(r.Auditors)
			return plan
		}
	}
	plan.Pool = slices.Clone(c.Auditors[sc.Tenant])
	return plan
}

// position is the gateway's sampling hash (stream/sampling's package
// comment): SHA-256 over uvarint(len(seed)) ‖ seed ‖ uvarint(len(tenant))
// ‖ tenant ‖ conversation; u, in [0, 1), is the first 8 bytes, big-endian,
// shifted right by 11, over 2^53.
func position(seed, tenant, conversation string) (u float64, digest [sha256.Size]byte) {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+len(seed)+len(tenant)+len(conversation))
	b = binary.AppendUvarint(b, uint64(len(seed)))
	b = append(b, seed...)
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	b = append(b, conversation...)
	digest = sha256.Sum256(b)
	return float64(binary.BigEndian.Uint64(digest[:8])>>11) / (1 << 53), digest
}

// DetectLang tells the language of a (masked) text: "zh" when it holds a
// Han character, "en" when it holds Latin letters only, "" when it holds
// no letter. The events carry no language, and assignment rules and the
// exported cases need one.
func DetectLang(text string) string {
	latin := false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			return "zh"
		case r < 0x80 && unicode.IsLetter(r):
			latin = true
		}
	}
	if latin {
		return "en"
	}
	return ""
}
