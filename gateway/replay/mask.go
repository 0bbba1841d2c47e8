package replay

import (
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/gateway/stream/scrub"
)

// maskText returns text with the private data masked that either version's
// privacy detector found (the union of their spans, masked as the gateway
// masks a redacted draft), then scrubbed like event text (scrub.Text), so
// a number one version's lexicon missed is still starred.
func maskText(text string, sets ...[]detectors.Finding) string {
	type span struct {
		start, end int
		kind       string
	}
	var spans []span
	for _, fs := range sets {
		for _, f := range fs {
			if f.Detector != privacy.Name || f.Rule == privacy.AskRule || f.End <= f.Start || f.Start < 0 {
				continue
			}
			spans = append(spans, span{f.Start, f.End, f.Kind})
		}
	}
	if len(spans) == 0 {
		return scrub.Text(text)
	}
	slices.SortStableFunc(spans, func(a, b span) int { return a.start - b.start })
	merged := make([]span, 1, len(spans))
	merged[0] = spans[0]
	for _, s := range spans[1:] {
		last := &merged[len(merged)-1]
		if s.start < last.end {
			last.end = max(last.end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	runes := []rune(text)
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, s := range merged {
		start, end := min(s.start, len(runes)), min(s.end, len(runes))
		if start < prev {
			start = prev
		}
		b.WriteString(string(runes[prev:start]))
		b.WriteString(privacy.Mask(s.kind, string(runes[start:end])))
		prev = end
	}
	b.WriteString(string(runes[prev:]))
	return scrub.Text(b.String())
}
