package inspect

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/width"
)

// WriteText writes v for a person reading a terminal: the text with each
// finding underlined beneath it, the action, the reasons, the suggestion and
// the masked text. Evidence of private data is shown only masked.
func WriteText(w io.Writer, text string, v *Verdict) error {
	var b strings.Builder
	fmt.Fprintf(&b, "action:  %s\n", v.Action)
	shown := text
	if v.Redacted != "" {
		shown = v.Redacted
	}
	runes := []rune(text)
	if v.Redacted == "" && !hasPrivacy(v) {
		fmt.Fprintf(&b, "text:    %s\n", shown)
		for _, f := range v.Findings {
			if f.End <= f.Start || f.End > len(runes) {
				fmt.Fprintf(&b, "         %s (%s, %.2f)\n", f.Name(), f.Severity, f.Score)
				continue
			}
			pad := strings.Repeat(" ", columns(runes[:f.Start]))
			mark := strings.Repeat("^", max(1, columns(runes[f.Start:f.End])))
			fmt.Fprintf(&b, "         %s%s %s (%s, %.2f)\n", pad, mark, f.Name(), f.Severity, f.Score)
		}
	} else {
		// Private data: list findings with masked evidence, never the text.
		fmt.Fprintf(&b, "text:    (%d characters, contains private data)\n", len(runes))
		for _, f := range v.Findings {
			fmt.Fprintf(&b, "         [%d,%d) %s (%s, %.2f) %s\n", f.Start, f.End, f.Name(), f.Severity, f.Score, f.Evidence)
		}
	}
	if len(v.Reasons) > 0 {
		b.WriteString("reasons:\n")
		for _, r := range v.Reasons {
			fmt.Fprintf(&b, "  - %s: %s\n", r.Rule, r.Message)
		}
	}
	for _, a := range v.Alerts {
		fmt.Fprintf(&b, "alert:   [%s] %s: %s\n", a.Level, a.Kind, a.Message)
	}
	if v.Suggestion != "" {
		fmt.Fprintf(&b, "suggest: %s\n", v.Suggestion)
	}
	if v.Redacted != "" {
		fmt.Fprintf(&b, "masked:  %s\n", v.Redacted)
	}
	fmt.Fprintf(&b, "policy:  %s  (%d µs)\n", v.PolicyRevision, v.LatencyUS)
	_, err := io.WriteString(w, b.String())
	return err
}

func hasPrivacy(v *Verdict) bool {
	for _, f := range v.Findings {
		if f.Detector == "privacy" {
			return true
		}
	}
	return false
}

// columns is how many terminal columns rs takes: two for wide East Asian
// characters, one otherwise.
func columns(rs []rune) int {
	n := 0
	for _, r := range rs {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
