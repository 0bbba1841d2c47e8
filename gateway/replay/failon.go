package replay

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xunjian/xunjian/rules"
)

// FailOn is a set of action transition classes that fail a replay, so that
// CI can refuse a policy change that, say, blocks messages the current
// policy lets through. It matches only changes: a message whose action stays
// the same never matches. The zero value matches nothing.
//
// A FailOn is immutable and safe for concurrent use.
type FailOn struct {
	spec  string
	terms []term
}

// term is one class of a FailOn.
type term struct {
	class    string // any, stricter, looser, to, from, pair
	from, to rules.Action
}

// ParseFailOn parses a comma-separated list of transition classes; a
// transition fails the replay if it matches any of them:
//
//	any           any change of action
//	stricter      the action became stricter (allow < warn < redact < confirm < block),
//	              e.g. allow->warn, redact->block
//	looser        the action became more permissive, e.g. block->confirm
//	to-ACTION     a change to ACTION, e.g. to-block (allow->block, confirm->block, …)
//	from-ACTION   a change from ACTION, e.g. from-allow
//	FROM->TO      exactly that change, e.g. allow->block (FROM→TO also works)
//
// ACTION, FROM and TO are action names. An empty s is the zero FailOn.
// Unknown classes, unknown actions and a pair that is no change (warn->warn)
// are errors.
func ParseFailOn(s string) (FailOn, error) {
	f := FailOn{spec: strings.TrimSpace(s)}
	if f.spec == "" {
		return FailOn{}, nil
	}
	var errs []error
	for item := range strings.SplitSeq(f.spec, ",") {
		item = strings.TrimSpace(item)
		t, err := parseTerm(item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.terms = append(f.terms, t)
	}
	if err := errors.Join(errs...); err != nil {
		return FailOn{}, err
	}
	return f, nil
}

func parseTerm(item string) (term, error) {
	action := func(name string) (rules.Action, error) {
		a, err := rules.ParseAction(strings.TrimSpace(name))
		if err != nil {
			return 0, fmt.Errorf("fail-on %q: unknown action %q (want allow, warn, redact, confirm or block)", item, name)
		}
		return a, nil
	}
	switch item {
	case "any", "stricter", "looser":
		return term{class: item}, nil
	case "":
		return term{}, errors.New("fail-on: empty class in the list")
	}
	for _, arrow := range []string{"->", "→"} {
		if from, to, ok := strings.Cut(item, arrow); ok {
			a, err := action(from)
			if err != nil {
				return term{}, err
			}
			b, err := action(to)
			if err != nil {
				return term{}, err
			}
			if a == b {
				return term{}, fmt.Errorf("fail-on %q: not a change", item)
			}
			return term{class: "pair", from: a, to: b}, nil
		}
	}
	for _, class := range []string{"to", "from"} {
		if name, ok := strings.CutPrefix(item, class+"-"); ok {
			a, err := action(name)
			if err != nil {
				return term{}, err
			}
			if class == "to" {
				return term{class: class, to: a}, nil
			}
			return term{class: class, from: a}, nil
		}
	}
	return term{}, fmt.Errorf("fail-on %q: unknown class (want any, stricter, looser, to-ACTION, from-ACTION or FROM->TO)", item)
}

// Match reports whether the change of a message's action from old to cur
// is one the FailOn gates. old == cur never matches.
func (f FailOn) Match(old, cur rules.Action) bool {
	if old == cur {
		return false
	}
	for _, t := range f.terms {
		switch t.class {
		case "any":
			return true
		case "stricter":
			if cur > old {
				return true
			}
		case "looser":
			if cur < old {
				return true
			}
		case "to":
			if cur == t.to {
				return true
			}
		case "from":
			if old == t.from {
				return true
			}
		case "pair":
			if old == t.from && cur == t.to {
				return true
			}
		}
	}
	return false
}

// IsZero reports whether f gates nothing.
func (f FailOn) IsZero() bool { return len(f.terms) == 0 }

// String returns the list f was parsed from.
func (f FailOn) String() string { return f.spec }
