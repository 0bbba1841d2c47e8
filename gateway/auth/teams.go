package auth

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of a credential's teams, so that a token cannot make a principal
// (and the console's session cookie holding it) arbitrarily large.
const (
	// MaxTeams is the most teams one credential may name.
	MaxTeams = 64
	// MaxTeamLen is the longest team name, in bytes.
	MaxTeamLen = 128
)

// teamsSep joins the names inside Teams; ParseTeams refuses control
// characters in a name, so it cannot occur in one.
const teamsSep = "\n"

// Teams is the set of teams (agent groups) a credential is restricted to
// in the supervisors' console (Principal.Teams); the gateway itself does
// not use it. It holds the names sorted and joined in one string, so that
// Principal stays a comparable value; read it with Names and Has. The zero
// value is the empty set.
type Teams struct {
	joined string
}

// ParseTeams returns the set of names: duplicates merged, order
// irrelevant. A name must be non-empty valid UTF-8 of at most MaxTeamLen
// bytes without control characters, and there may be at most MaxTeams
// distinct names; anything else is an error naming the fault (and the
// name, which is no secret).
func ParseTeams(names []string) (Teams, error) {
	if len(names) == 0 {
		return Teams{}, nil
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, n := range sorted {
		switch {
		case n == "":
			return Teams{}, fmt.Errorf("empty team name")
		case len(n) > MaxTeamLen:
			return Teams{}, fmt.Errorf("team name of %d bytes: at most %d", len(n), MaxTeamLen)
		case !utf8.ValidString(n):
			return Teams{}, fmt.Errorf("team name %q: not valid UTF-8", n)
		case strings.ContainsFunc(n, unicode.IsControl):
			return Teams{}, fmt.Errorf("team name %q: control character", n)
		}
	}
	if len(sorted) > MaxTeams {
		return Teams{}, fmt.Errorf("%d teams: at most %d", len(sorted), MaxTeams)
	}
	return Teams{joined: strings.Join(sorted, teamsSep)}, nil
}

// Names returns the teams sorted, in a new slice (empty, not nil, for the
// empty set).
func (t Teams) Names() []string {
	if t.joined == "" {
		return []string{}
	}
	return strings.Split(t.joined, teamsSep)
}

// Len returns the number of teams.
func (t Teams) Len() int {
	if t.joined == "" {
		return 0
	}
	return strings.Count(t.joined, teamsSep) + 1
}

// Has reports whether name is one of the teams.
func (t Teams) Has(name string) bool {
	if name == "" || t.joined == "" {
		return false
	}
	_, found := slices.BinarySearch(t.Names(), name)
	return found
}

// String lists the teams separated by commas, for logs.
func (t Teams) String() string { return strings.ReplaceAll(t.joined, teamsSep, ",") }
