// Package textscan holds the small text helpers several detectors share:
// merging a lexicon hit into the findings of its kind, sentence and clause
// breaks, and the ASCII word-byte class. Each was written once per
// detector before; one copy keeps them agreeing.
package textscan

import (
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// MergeGap is how many code points may separate two hits of one kind that
// still make one finding ("add me on" + "WhatsApp", "give you $" 20 "for a
// 5-star review").
const MergeGap = 3

// Merge records a hit over [nb, ne) of t's normalized text: f carries its
// detector, kind, severity, score and lexicon id (its span and evidence are
// set here). When the hit overlaps, or comes within MergeGap code points
// of, the last finding of the same kind among dst[first:], that finding is
// widened over both, keeping the higher severity and the score and lexicon
// id of the higher-scoring hit; otherwise f is appended.
func Merge(t *normalize.Text, dst []detectors.Finding, first int, f detectors.Finding, nb, ne int) []detectors.Finding {
	os, oe := t.Span(nb, ne)
	for j := len(dst) - 1; j >= first; j-- {
		d := &dst[j]
		if d.Kind != f.Kind || oe+MergeGap < d.Start || os > d.End+MergeGap {
			continue
		}
		d.Start, d.End = min(d.Start, os), max(d.End, oe)
		d.Evidence = t.OrigText(d.Start, d.End)
		if f.Severity > d.Severity {
			d.Severity = f.Severity
		}
		if f.Score > d.Score {
			d.Score, d.Lexicon = f.Score, f.Lexicon
		}
		return dst
	}
	f.Start, f.End, f.Evidence = os, oe, t.OrigText(os, oe)
	return append(dst, f)
}

// HasBreak reports whether s holds a sentence end (。！？, "!", "?", a
// newline, or "." at the end or before a space) or, when clause is true,
// also a clause break (，；、 "," ";").
func HasBreak(s string, clause bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '!', '?', '\n':
				return true
			case '.':
				if i+1 == len(s) || s[i+1] == ' ' {
					return true
				}
			case ',', ';':
				if clause {
					return true
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '。', '！', '？':
			return true
		case '，', '；', '、':
			if clause {
				return true
			}
		}
		i += n
	}
	return false
}

// IsWordByte reports whether c is an ASCII letter or digit.
func IsWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
