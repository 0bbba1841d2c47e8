package event

import (
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream/scrub"
)

// handleReplacer returns a replacer that stars, wherever a text quotes
// them, the parts of the contact handles in fs (diversion.contact findings
// with evidence in clear) that inspect.MaskContact stars in the evidence:
// a policy message or alert that quotes the draft must not show the
// handle the evidence hides. It returns nil when there are none.
func handleReplacer(fs []detectors.Finding) *strings.Replacer {
	var pairs []string
	for _, f := range fs {
		if !inspect.IsContact(f) {
			continue
		}
		raw := []rune(f.Evidence)
		masked := []rune(inspect.MaskContact(f.Evidence))
		if len(masked) != len(raw) {
			continue // MaskContact keeps code points in place; never here
		}
		for i := 0; i < len(raw); {
			if raw[i] == masked[i] {
				i++
				continue
			}
			j := i
			for j < len(raw) && raw[j] != masked[j] {
				j++
			}
			// Short segments (a masked digit or two) would star ordinary
			// words; scrub.Text covers long digit runs anyway.
			if j-i >= 3 {
				pairs = append(pairs, string(raw[i:j]), strings.Repeat("*", j-i))
			}
			i = j
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	// Longest first, so a handle is not cut by a shorter one it contains.
	type pair struct{ old, new string }
	ps := make([]pair, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		ps = append(ps, pair{pairs[i], pairs[i+1]})
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return len(b.old) - len(a.old) })
	pairs = pairs[:0]
	for _, p := range ps {
		pairs = append(pairs, p.old, p.new)
	}
	return strings.NewReplacer(pairs...)
}

// scrubWith masks the handles hs knows (nil: none), then applies scrub.Text.
func scrubWith(hs *strings.Replacer, s string) string {
	if hs != nil {
		s = hs.Replace(s)
	}
	return scrub.Text(s)
}
