package rules

import "fmt"

// Action is what the gateway does with a draft. Actions are ordered: a
// higher action is stricter, and a decision's action is the highest one any
// rule asked for.
type Action int

// The actions, from the most to the least permissive.
const (
	// Allow releases the draft unchanged.
	Allow Action = iota
	// Warn releases the draft and returns findings for a hint.
	Warn
	// Redact releases the masked draft.
	Redact
	// Confirm holds the draft until the agent re-sends it with an ack token.
	Confirm
	// Block never releases the draft.
	Block
)

var actionNames = [...]string{"allow", "warn", "redact", "confirm", "block"}

// String returns the action's policy name ("allow", "warn", "redact",
// "confirm" or "block"), or "Action(N)" for a value out of range.
func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Valid reports whether a is one of the five actions.
func (a Action) Valid() bool { return a >= Allow && a <= Block }

// MarshalText implements encoding.TextMarshaler with the policy name.
func (a Action) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("rules: invalid action %d", int(a))
	}
	return []byte(actionNames[a]), nil
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

// ParseAction returns the action named s (exact, lower-case policy name).
func ParseAction(s string) (Action, error) {
	switch s {
	case "allow":
		return Allow, nil
	case "warn":
		return Warn, nil
	case "redact":
		return Redact, nil
	case "confirm":
		return Confirm, nil
	case "block":
		return Block, nil
	}
	return 0, fmt.Errorf("rules: unknown action %q (want allow, warn, redact, confirm or block)", s)
}
