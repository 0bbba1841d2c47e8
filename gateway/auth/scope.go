package auth

import (
	"fmt"
	"strings"
)

// Scopes is the set of things a credential may do on the agent port. Who is
// speaking in a message is a trust decision: a body that says its sender is
// the customer is only believed when the credential may send customer-side
// messages, and only a backend credential may end a conversation.
type Scopes uint8

// The scopes a credential may hold.
const (
	// ScopeAgent sends agent drafts for inspection: /v1/check, proxy
	// routes. Every credential holds it unless its scopes say otherwise.
	ScopeAgent Scopes = 1 << iota
	// ScopeCustomer sends customer-side messages (role customer), which are
	// observed, never held, and move the conversation's complaint risk.
	// A chat backend or a customer-side integration holds it; an agent
	// client does not.
	ScopeCustomer
	// ScopeLifecycle posts conversation lifecycle events (assigned,
	// transferred, closed) to /v1/events. Closing a conversation forgets
	// its risk and alert state, so only the chat backend holds it.
	ScopeLifecycle

	// DefaultScopes is what a credential holds when its configuration or
	// token names none: agent drafts only.
	DefaultScopes = ScopeAgent
	// AllScopes is every scope; dev mode (no credential configured) holds
	// them all.
	AllScopes = ScopeAgent | ScopeCustomer | ScopeLifecycle
)

// scopeNames are the configuration and JWT spellings of each scope.
var scopeNames = [...]struct {
	name  string
	scope Scopes
}{{"agent", ScopeAgent}, {"customer", ScopeCustomer}, {"lifecycle", ScopeLifecycle}}

// ParseScopes parses scope names (agent, customer, lifecycle). Nil or empty
// means DefaultScopes. An unknown name is an error naming it, so a typo in a
// config file cannot silently grant or withhold a scope.
func ParseScopes(names []string) (Scopes, error) {
	if len(names) == 0 {
		return DefaultScopes, nil
	}
	var s Scopes
	for _, n := range names {
		one, ok := scopeByName(n)
		if !ok {
			return 0, fmt.Errorf("scope %q: want agent, customer or lifecycle", n)
		}
		s |= one
	}
	return s, nil
}

func scopeByName(n string) (Scopes, bool) {
	for _, sn := range scopeNames {
		if sn.name == n {
			return sn.scope, true
		}
	}
	return 0, false
}

// Has reports whether s holds every scope of want.
func (s Scopes) Has(want Scopes) bool { return s&want == want }

// String lists the scopes' names separated by spaces, as an OAuth "scope"
// claim does.
func (s Scopes) String() string {
	var b strings.Builder
	for _, sn := range scopeNames {
		if s&sn.scope != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(sn.name)
		}
	}
	return b.String()
}

// ForRole returns the scope needed to send a message as role: ScopeCustomer
// for "customer", ScopeAgent otherwise.
func ForRole(role string) Scopes {
	if role == "customer" {
		return ScopeCustomer
	}
	return ScopeAgent
}
