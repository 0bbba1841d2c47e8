package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Bounds of a credential's permissions, so that a token cannot make a
// principal (and the console's session cookie holding it) arbitrarily
// large.
const (
	// MaxPermissions is the most permissions one credential may name.
	MaxPermissions = 16
	// MaxPermissionLen is the longest permission name, in bytes.
	MaxPermissionLen = 64
)

// Permissions is the set of permissions a credential holds in the
// supervisors' console beyond its role (Principal.Permissions), such as
// "decrypt" (read the raw text of sampled conversations); the gateway
// itself does not use them, and the console says which names it knows.
// Like Teams it holds the names sorted and joined in one string, so that
// Principal stays a comparable value. The zero value is the empty set.
type Permissions struct {
	joined string
}

// ParsePermissions returns the set of names: duplicates merged, order
// irrelevant. A name is 1 to MaxPermissionLen bytes of lower-case ASCII
// letters, digits, '_', '-', '.' and ':', and there may be at most
// MaxPermissions distinct names; anything else is an error naming the
// fault.
func ParsePermissions(names []string) (Permissions, error) {
	if len(names) == 0 {
		return Permissions{}, nil
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, n := range sorted {
		switch {
		case n == "":
			return Permissions{}, fmt.Errorf("empty permission name")
		case len(n) > MaxPermissionLen:
			return Permissions{}, fmt.Errorf("permission name of %d bytes: at most %d", len(n), MaxPermissionLen)
		case strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_-.:") != "":
			return Permissions{}, fmt.Errorf("permission name %q: only lower-case letters, digits and the characters _ - . : are allowed", n)
		}
	}
	if len(sorted) > MaxPermissions {
		return Permissions{}, fmt.Errorf("%d permissions: at most %d", len(sorted), MaxPermissions)
	}
	return Permissions{joined: strings.Join(sorted, ",")}, nil
}

// Names returns the permissions sorted, in a new slice (empty, not nil,
// for the empty set).
func (p Permissions) Names() []string {
	if p.joined == "" {
		return []string{}
	}
	return strings.Split(p.joined, ",")
}

// Has reports whether name is one of the permissions.
func (p Permissions) Has(name string) bool {
	return name != "" && p.joined != "" && slices.Contains(p.Names(), name)
}

// String lists the permissions separated by commas, for logs.
func (p Permissions) String() string { return p.joined }
