package rules

import (
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// ErrUndefined is returned (wrapped) by [Policy.Decide] when the policy
// produced no decision for the input: data.xunjian.decision is undefined.
// It is an outcome the caller must handle (typically fail closed), never a
// zero Decision.
var ErrUndefined = errors.New("rules: decision undefined")

// Decision is the policy's verdict on one draft.
type Decision struct {
	// Action is the strictest action any rule asked for.
	Action Action `json:"action"`
	// Reasons explain the action, one per finding that mapped to an
	// action above allow, in the order of the input findings.
	Reasons []Reason `json:"reasons"`
	// Alerts are for supervisors (complaints, risk, wait time).
	Alerts []Alert `json:"alerts"`
	// Sample asks the QA sampler to keep the conversation.
	Sample bool `json:"sample"`
	// Shadow holds the would-be reasons of shadow rules, if the policy
	// produces a "shadow" array; they never change Action.
	Shadow []Reason `json:"shadow,omitempty"`
	// Revision is the revision of the policy that decided.
	Revision string `json:"policy_revision"`
}

// Reason is one rule's contribution to a decision.
type Reason struct {
	// Rule identifies the rule, e.g. "privacy.credential.block".
	Rule string `json:"rule"`
	// Action is what this rule asked for; zero (allow) if the policy did not say.
	Action Action `json:"action"`
	// Message is short human text in the draft's language.
	Message string `json:"message"`
	// Finding is the index into Input.Findings this reason is about, or nil.
	Finding *int `json:"finding,omitempty"`
	// Suggestion is a rewrite or advice for the agent, if any.
	Suggestion string `json:"suggestion,omitempty"`
}

// Alert is a supervisor alert raised by the policy.
type Alert struct {
	// Level is low, medium, high or critical.
	Level string `json:"level"`
	// Kind groups alerts for deduplication: complaint, risk, wait, …
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

var (
	kAction     = ast.InternedTerm("action")
	kReasons    = ast.InternedTerm("reasons")
	kAlerts     = ast.InternedTerm("alerts")
	kSample     = ast.InternedTerm("sample")
	kShadow     = ast.InternedTerm("shadow")
	kMessage    = ast.InternedTerm("message")
	kFinding    = ast.InternedTerm("finding")
	kSuggestion = ast.InternedTerm("suggestion")
	kLevel      = ast.InternedTerm("level")
)

// decodeDecision reads a Decision from the policy's result value. Every
// error it returns is an *InvalidDecisionError: it checks what
// decision.schema.json states (the same constraints, here without the cost
// of a schema validator on the hot path).
func decodeDecision(v ast.Value) (Decision, error) {
	var d Decision
	obj, ok := v.(ast.Object)
	if !ok {
		return d, invalid("", "decision", fmt.Errorf("is %s, want an object", ast.ValueName(v)))
	}
	act, ok := str(obj.Get(kAction))
	if !ok {
		return d, invalid("", "action", errors.New("missing or not a string"))
	}
	a, err := ParseAction(act)
	if err != nil {
		return d, invalid(strongestRule(obj, act), "action", actionError(act))
	}
	d.Action = a
	if d.Reasons, err = decodeReasons(obj.Get(kReasons), "reasons"); err != nil {
		return d, err
	}
	if d.Shadow, err = decodeReasons(obj.Get(kShadow), "shadow"); err != nil {
		return d, err
	}
	if t := obj.Get(kAlerts); t != nil {
		arr, ok := t.Value.(*ast.Array)
		if !ok {
			return d, invalid("", "alerts", errors.New("not an array"))
		}
		if n := arr.Len(); n > 0 {
			d.Alerts = make([]Alert, n)
			for i := range n {
				field := fmt.Sprintf("alerts[%d]", i)
				o, ok := arr.Elem(i).Value.(ast.Object)
				if !ok {
					return d, invalid("", field, errors.New("not an object"))
				}
				al := &d.Alerts[i]
				al.Level, _ = str(o.Get(kLevel))
				al.Kind, _ = str(o.Get(kKind))
				if m := o.Get(kMessage); m != nil {
					if al.Message, ok = str(m); !ok {
						return d, invalid("", field+".message", errors.New("not a string"))
					}
				}
				switch al.Level {
				case "low", "medium", "high", "critical":
				default:
					return d, invalid("", field+".level", fmt.Errorf("%q: want low, medium, high or critical", al.Level))
				}
				if al.Kind == "" {
					return d, invalid("", field+".kind", errors.New("missing or empty"))
				}
			}
		}
	}
	if t := obj.Get(kSample); t != nil {
		b, ok := t.Value.(ast.Boolean)
		if !ok {
			return d, invalid("", "sample", errors.New("not a boolean"))
		}
		d.Sample = bool(b)
	}
	return d, nil
}

// strongestRule names the rule that asked for act, an action that is not
// one, when a reason carries it: the decision's action is the strictest
// of its reasons', so a misspelt reason action surfaces there first.
func strongestRule(obj ast.Object, act string) string {
	for _, key := range []*ast.Term{kReasons, kShadow} {
		t := obj.Get(key)
		if t == nil {
			continue
		}
		arr, ok := t.Value.(*ast.Array)
		if !ok {
			continue
		}
		for i := range arr.Len() {
			if o, ok := arr.Elem(i).Value.(ast.Object); ok {
				if a, _ := str(o.Get(kAction)); a == act {
					r, _ := str(o.Get(kRule))
					return r
				}
			}
		}
	}
	return ""
}

func decodeReasons(t *ast.Term, field string) ([]Reason, error) {
	if t == nil {
		return nil, nil
	}
	arr, ok := t.Value.(*ast.Array)
	if !ok {
		return nil, invalid("", field, errors.New("not an array"))
	}
	n := arr.Len()
	if n == 0 {
		return nil, nil
	}
	out := make([]Reason, n)
	idx := make([]int, n) // one allocation for all Finding pointers
	for i := range n {
		at := fmt.Sprintf("%s[%d]", field, i)
		o, ok := arr.Elem(i).Value.(ast.Object)
		if !ok {
			return nil, invalid("", at, errors.New("not an object"))
		}
		r := &out[i]
		var hasRule bool
		r.Rule, hasRule = str(o.Get(kRule))
		if !hasRule || r.Rule == "" {
			return nil, invalid("", at+".rule", errors.New("missing or empty: every reason names its rule"))
		}
		for _, f := range []struct {
			key *ast.Term
			dst *string
		}{{kMessage, &r.Message}, {kSuggestion, &r.Suggestion}} {
			if t := f.key; o.Get(t) != nil {
				var ok bool
				if *f.dst, ok = str(o.Get(t)); !ok {
					return nil, invalid(r.Rule, at+"."+string(t.Value.(ast.String)), errors.New("not a string"))
				}
			}
		}
		if at := o.Get(kAction); at != nil {
			s, ok := str(at)
			if !ok {
				return nil, invalid(r.Rule, fmt.Sprintf("%s[%d].action", field, i), errors.New("not a string"))
			}
			a, err := ParseAction(s)
			if err != nil {
				return nil, invalid(r.Rule, fmt.Sprintf("%s[%d].action", field, i), actionError(s))
			}
			r.Action = a
		}
		if ft := o.Get(kFinding); ft != nil {
			num, ok := ft.Value.(ast.Number)
			if !ok {
				return nil, invalid(r.Rule, at+".finding", errors.New("not a number"))
			}
			f, ok := num.Int()
			if !ok || f < 0 {
				return nil, invalid(r.Rule, at+".finding", errors.New("not a non-negative integer"))
			}
			idx[i] = f
			r.Finding = &idx[i]
		}
	}
	return out, nil
}

// actionError says that s is not an action, quoting s only when it looks
// like a misspelt name (a policy may build its output from input text,
// which must not reach a log).
func actionError(s string) error {
	const want = "want allow, warn, redact, confirm or block"
	if isRuleID(s) && len(s) <= 32 {
		return fmt.Errorf("unknown action %q (%s)", s, want)
	}
	return errors.New("unknown action (" + want + ")")
}

func str(t *ast.Term) (string, bool) {
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}
