package event

import "fmt"

// The roles of an event's message, the values of role and context[].role.
const (
	// RoleAgent marks an agent's draft, inspected before it was sent.
	RoleAgent = "agent"
	// RoleCustomer marks a customer's message, observed and never gated.
	RoleCustomer = "customer"
)

// Action is the gateway's action on a message as an event states it, in
// action and reasons[].action. The schema names the five actions (allow,
// warn, redact, confirm, block) and an Action marshals to and from those
// lower-case names; they are the policy's action names, in the policy's
// order, the stricter higher. The zero value is ActionAllow.
type Action int

// The actions, from the most to the least permissive.
const (
	// ActionAllow: the message was released unchanged (always for a
	// customer message and a fail-open release).
	ActionAllow Action = iota
	// ActionWarn: released, with findings for a hint.
	ActionWarn
	// ActionRedact: released masked.
	ActionRedact
	// ActionConfirm: held until the agent re-sent it with an ack token.
	ActionConfirm
	// ActionBlock: never released.
	ActionBlock
)

// String returns the action's name ("allow" … "block"), or "Action(N)"
// for a value out of range.
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionWarn:
		return "warn"
	case ActionRedact:
		return "redact"
	case ActionConfirm:
		return "confirm"
	case ActionBlock:
		return "block"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Valid reports whether a is one of the five actions: only those marshal.
func (a Action) Valid() bool { return a >= ActionAllow && a <= ActionBlock }

// MarshalText implements encoding.TextMarshaler with the action's name.
func (a Action) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("event: invalid action %d", int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see [ParseAction].
func (a *Action) UnmarshalText(text []byte) error {
	v, err := ParseAction(string(text))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseAction returns the action named s (exact, lower case), so that
// Parse refuses an event whose action the schema does not know.
func ParseAction(s string) (Action, error) {
	for a := ActionAllow; a <= ActionBlock; a++ {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("event: unknown action %q (want allow, warn, redact, confirm or block)", s)
}

// Severity is how grave a finding is, in findings[].severity: info, low,
// medium, high or critical, the detectors' taxonomy names, weakest first.
// A Severity marshals to and from those lower-case names; the zero value
// is SeverityInfo.
type Severity uint8

// The severities, weakest first.
const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// String returns the severity's name ("info" … "critical"), or
// "severity(N)" for a value out of range.
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityLow:
		return "low"
	case SeverityMedium:
		return "medium"
	case SeverityHigh:
		return "high"
	case SeverityCritical:
		return "critical"
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// Valid reports whether s is one of the five severities: only those
// marshal.
func (s Severity) Valid() bool { return s <= SeverityCritical }

// MarshalText implements encoding.TextMarshaler with the severity's name.
// Its error carries no package prefix: Marshal wraps it with the finding's
// index.
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invalid severity %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see [ParseSeverity].
func (s *Severity) UnmarshalText(text []byte) error {
	v, err := ParseSeverity(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity returns the severity named name (exact, lower case), so
// that Parse refuses an event whose severity the schema does not know.
func ParseSeverity(name string) (Severity, error) {
	for s := SeverityInfo; s <= SeverityCritical; s++ {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("event: unknown severity %q (want info, low, medium, high or critical)", name)
}

// Finding is one thing a detector found in the message, as an event
// carries it (findings[]). Detector and Kind are the taxonomy names of
// DESIGN.md; Start and End are code-point offsets into the original text;
// Score is in [0, 1]; Evidence is the matched text, masked. Rule is the
// detector rule that matched and Lexicon the lexicon it came from, when
// known (optional).
type Finding struct {
	Detector string   `json:"detector"`
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	Score    float64  `json:"score"`
	Start    int      `json:"start"`
	End      int      `json:"end"`
	Evidence string   `json:"evidence"`
	Rule     string   `json:"rule,omitempty"`
	Lexicon  string   `json:"lexicon,omitempty"`
}

// Name returns the finding's taxonomy name, "detector.kind".
func (f Finding) Name() string { return f.Detector + "." + f.Kind }

// Reason is one of the policy's reasons for the action (reasons[]), or
// the would-be reason of a shadow rule (shadow[]).
type Reason struct {
	// Rule identifies the policy rule, e.g. "privacy.phone.block".
	Rule string `json:"rule"`
	// Action is what this rule asked for.
	Action Action `json:"action"`
	// Message is short human text in the message's language.
	Message string `json:"message"`
	// Finding indexes the event's findings this reason is about
	// (optional).
	Finding *int `json:"finding,omitempty"`
	// Suggestion is a rewrite or advice for the agent (optional).
	Suggestion string `json:"suggestion,omitempty"`
}

// Alert is a supervisor alert the policy raised (alerts[]).
type Alert struct {
	// Level is low, medium, high or critical.
	Level string `json:"level"`
	// Kind groups alerts for deduplication: complaint, risk, wait, …
	Kind    string `json:"kind"`
	Message string `json:"message"`
}
