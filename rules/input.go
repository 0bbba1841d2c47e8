package rules

import (
	"log/slog"
	"math"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Input is the document the policy sees as `input`. The gateway fills it
// from the draft, the detectors' findings and the conversation context.
// Decide only reads it.
type Input struct {
	Draft        Draft        `json:"draft"`
	Findings     []Finding    `json:"findings"`
	Conversation Conversation `json:"conversation"`
	Agent        Agent        `json:"agent"`
	Tenant       Tenant       `json:"tenant"`
}

// Draft is the message under inspection.
type Draft struct {
	// Text is the message as typed.
	Text string `json:"text"`
	// Normalized is the detectors' normalized text.
	Normalized string `json:"normalized"`
	// Role is "agent" or "customer"; empty means an agent draft.
	Role string `json:"role"`
	// Lang selects the language of reason texts: "en…" is English,
	// anything else (including empty) Chinese.
	Lang string `json:"lang"`
}

// LogValue implements slog.LogValuer: the text never reaches a log in clear.
func (d Draft) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("role", d.Role),
		slog.String("lang", d.Lang),
		slog.Int("text_len", len([]rune(d.Text))),
	)
}

// Finding is one detector hit, named detector.kind by the taxonomy in
// DESIGN.md (e.g. privacy.phone).
type Finding struct {
	Detector string `json:"detector"`
	Kind     string `json:"kind"`
	// Severity is info, low, medium, high or critical.
	Severity string `json:"severity"`
	// Score is the detector's confidence, 0..1.
	Score float64 `json:"score"`
	// Start and End are offsets into the original text, in code points.
	Start int `json:"start"`
	End   int `json:"end"`
	// Evidence is the matched text, masked for privacy kinds.
	Evidence string `json:"evidence"`
	// Rule and Lexicon name the detector rule or lexicon that matched, if any.
	Rule    string `json:"rule,omitempty"`
	Lexicon string `json:"lexicon,omitempty"`
}

// Conversation is the conversation context the gateway keeps.
type Conversation struct {
	ID    string `json:"id"`
	Turns int    `json:"turns"`
	// CustomerEscalations counts the customer's complaint threats so far.
	CustomerEscalations int `json:"customer_escalations"`
	// Risk is the conversation's complaint risk, 0..1.
	Risk float64 `json:"risk"`
	// WaitSeconds is how long the customer has been waiting for a reply.
	WaitSeconds float64 `json:"wait_seconds"`
}

// RoundWait returns seconds at the precision the policy contract gives
// conversation.wait_seconds: whole seconds, rounded down. A threshold in
// whole seconds (data.xunjian.config.thresholds.wait) is reached by the
// rounded wait exactly when it is by the exact one, and the decision
// cache's key, which holds the number as given, meets one value per second
// rather than one per nanosecond.
func RoundWait(seconds float64) float64 { return math.Floor(seconds) }

// RoundRisk returns risk at the precision the policy contract gives
// conversation.risk: two decimals, rounded down, the largest k/100 not
// above risk (as float64, k/100 is the number the literal 0.kk parses
// to). A threshold of two decimals is reached by the rounded risk exactly
// when it is by the exact one. NaN and infinities are returned as they
// are.
func RoundRisk(risk float64) float64 {
	k := math.Floor(risk * 100)
	if math.IsNaN(k) || math.IsInf(k, 0) {
		return risk
	}
	// risk*100 is rounded once, so k may be one off either way.
	if (k+1)/100 <= risk {
		k++
	} else if k/100 > risk {
		k--
	}
	return k / 100
}

// Agent identifies the agent who drafted the message.
type Agent struct {
	ID string `json:"id"`
}

// Tenant identifies the tenant; the policy reads per-tenant overrides from
// data.xunjian.tenants[ID].
type Tenant struct {
	ID string `json:"id"`
}

// Keys of the input document, built once (interned terms are shared and
// never modified).
var (
	kDraft        = ast.InternedTerm("draft")
	kFindings     = ast.InternedTerm("findings")
	kConversation = ast.InternedTerm("conversation")
	kAgent        = ast.InternedTerm("agent")
	kTenant       = ast.InternedTerm("tenant")
	kText         = ast.InternedTerm("text")
	kNormalized   = ast.InternedTerm("normalized")
	kRole         = ast.InternedTerm("role")
	kLang         = ast.InternedTerm("lang")
	kDetector     = ast.InternedTerm("detector")
	kKind         = ast.InternedTerm("kind")
	kSeverity     = ast.InternedTerm("severity")
	kScore        = ast.InternedTerm("score")
	kStart        = ast.InternedTerm("start")
	kEnd          = ast.InternedTerm("end")
	kEvidence     = ast.InternedTerm("evidence")
	kRule         = ast.InternedTerm("rule")
	kLexicon      = ast.InternedTerm("lexicon")
	kID           = ast.InternedTerm("id")
	kTurns        = ast.InternedTerm("turns")
	kEscalations  = ast.InternedTerm("customer_escalations")
	kRisk         = ast.InternedTerm("risk")
	kWaitSeconds  = ast.InternedTerm("wait_seconds")
)

// astValue builds the input document directly as an AST value, so Decide
// never goes through JSON. Only the fields in mask are converted: the
// policy's modules cannot read the others (see analyzeInput), so leaving
// them out changes no decision and saves hashing long texts. A top-level
// object none of whose fields is in mask is left out too.
func (in *Input) astValue(mask fieldMask) ast.Value {
	return in.projected(projection{fields: mask, finding: allFindingFields})
}

// projected is astValue for projection p: of each finding, only the
// fields in p.finding are converted.
func (in *Input) projected(p projection) ast.Value {
	mask := p.fields
	var kv [5][2]*ast.Term
	top := kv[:0]
	var buf [5][2]*ast.Term // scratch for the nested objects; NewObject copies
	if mask&(1<<fDraftText|1<<fDraftNormalized|1<<fDraftRole|1<<fDraftLang) != 0 {
		d := &in.Draft
		items := buf[:0]
		if mask.has(fDraftText) {
			items = append(items, [2]*ast.Term{kText, ast.StringTerm(d.Text)})
		}
		if mask.has(fDraftNormalized) {
			items = append(items, [2]*ast.Term{kNormalized, ast.StringTerm(d.Normalized)})
		}
		if mask.has(fDraftRole) {
			items = append(items, [2]*ast.Term{kRole, ast.InternedTerm(d.Role)})
		}
		if mask.has(fDraftLang) {
			items = append(items, [2]*ast.Term{kLang, ast.InternedTerm(d.Lang)})
		}
		top = append(top, [2]*ast.Term{kDraft, ast.NewTerm(ast.NewObject(items...))})
	}
	if mask.has(fFindings) {
		var t *ast.Term
		if len(in.Findings) == 0 {
			t = emptyArray
		} else {
			findings := make([]*ast.Term, len(in.Findings))
			terms := make([]ast.Term, len(in.Findings)) // one allocation for all
			for i := range in.Findings {
				terms[i].Value = in.Findings[i].astValue(p.finding)
				findings[i] = &terms[i]
			}
			t = ast.ArrayTerm(findings...)
		}
		top = append(top, [2]*ast.Term{kFindings, t})
	}
	if mask&(1<<fConvID|1<<fConvTurns|1<<fConvEscalations|1<<fConvRisk|1<<fConvWait) != 0 {
		c := &in.Conversation
		items := buf[:0]
		if mask.has(fConvID) {
			items = append(items, [2]*ast.Term{kID, ast.StringTerm(c.ID)})
		}
		if mask.has(fConvTurns) {
			items = append(items, [2]*ast.Term{kTurns, ast.InternedTerm(c.Turns)})
		}
		if mask.has(fConvEscalations) {
			items = append(items, [2]*ast.Term{kEscalations, ast.InternedTerm(c.CustomerEscalations)})
		}
		if mask.has(fConvRisk) {
			items = append(items, [2]*ast.Term{kRisk, floatTerm(c.Risk)})
		}
		if mask.has(fConvWait) {
			items = append(items, [2]*ast.Term{kWaitSeconds, floatTerm(c.WaitSeconds)})
		}
		top = append(top, [2]*ast.Term{kConversation, ast.NewTerm(ast.NewObject(items...))})
	}
	if mask.has(fAgentID) {
		top = append(top, [2]*ast.Term{kAgent, ast.NewTerm(ast.NewObject([2]*ast.Term{kID, ast.InternedTerm(in.Agent.ID)}))})
	}
	if mask.has(fTenantID) {
		top = append(top, [2]*ast.Term{kTenant, ast.NewTerm(ast.NewObject([2]*ast.Term{kID, ast.InternedTerm(in.Tenant.ID)}))})
	}
	return ast.NewObject(top...)
}

// emptyArray is the findings value of an input without findings; shared,
// never modified.
var emptyArray = ast.ArrayTerm()

func (f *Finding) astValue(fm findingMask) ast.Value {
	var buf [numFindingFields][2]*ast.Term
	items := buf[:0]
	if fm.has(ffDetector) {
		items = append(items, [2]*ast.Term{kDetector, ast.InternedTerm(f.Detector)})
	}
	if fm.has(ffKind) {
		items = append(items, [2]*ast.Term{kKind, ast.InternedTerm(f.Kind)})
	}
	if fm.has(ffSeverity) {
		items = append(items, [2]*ast.Term{kSeverity, ast.InternedTerm(f.Severity)})
	}
	if fm.has(ffScore) {
		items = append(items, [2]*ast.Term{kScore, floatTerm(f.Score)})
	}
	if fm.has(ffStart) {
		items = append(items, [2]*ast.Term{kStart, ast.InternedTerm(f.Start)})
	}
	if fm.has(ffEnd) {
		items = append(items, [2]*ast.Term{kEnd, ast.InternedTerm(f.End)})
	}
	if fm.has(ffEvidence) {
		items = append(items, [2]*ast.Term{kEvidence, ast.StringTerm(f.Evidence)})
	}
	if fm.has(ffRule) && f.Rule != "" {
		items = append(items, [2]*ast.Term{kRule, ast.StringTerm(f.Rule)})
	}
	if fm.has(ffLexicon) && f.Lexicon != "" {
		items = append(items, [2]*ast.Term{kLexicon, ast.StringTerm(f.Lexicon)})
	}
	return ast.NewObject(items...)
}

// floatTerm is ast.FloatNumberTerm with whole numbers interned and NaN and
// infinities (which have no JSON form) mapped to 0.
func floatTerm(f float64) *ast.Term {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ast.InternedTerm(0)
	}
	if f == math.Trunc(f) && f >= 0 && f <= 512 {
		return ast.InternedTerm(int(f))
	}
	return ast.FloatNumberTerm(f)
}
