package draftgen

import (
	"strings"
	"testing"
)

// TestUnique: the benchmarks rely on drafts that never repeat, each a
// well-formed text.
func TestUnique(t *testing.T) {
	seen := map[string]int{}
	for i := range 200000 {
		s := Unique(i)
		if strings.Contains(s, "%!") {
			t.Fatalf("Unique(%d) = %q: a template and its arguments disagree", i, s)
		}
		if j, ok := seen[s]; ok {
			t.Fatalf("Unique(%d) = Unique(%d) = %q", i, j, s)
		}
		seen[s] = i
	}
}
