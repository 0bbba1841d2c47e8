// Package leaktest finds private numbers that survive masking in any digit
// form, for the tests that send attackers' drafts through the gateway and
// read what the chat backend, the events and the logs received. It keeps
// its own table of digit forms, apart from the normalizer under test.
package leaktest

import "strings"

// digitValue maps every digit-like code point an attacker may spell a
// number with to its value: ASCII, full-width, circled, parenthesized,
// superscript, subscript, and Chinese numerals lower and capital.
func digitValue(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= '０' && r <= '９':
		return int(r - '０')
	case r >= '①' && r <= '⑨':
		return int(r-'①') + 1
	case r >= '⑴' && r <= '⑼':
		return int(r-'⑴') + 1
	case r >= '₀' && r <= '₉':
		return int(r - '₀')
	}
	switch r {
	case '⓪', '〇', '零', '⁰':
		return 0
	case '¹':
		return 1
	case '²':
		return 2
	case '³':
		return 3
	}
	if r >= '⁴' && r <= '⁹' {
		return int(r-'⁴') + 4
	}
	if i := strings.IndexRune("一二三四五六七八九", r); i >= 0 {
		return len([]rune("一二三四五六七八九"[:i])) + 1
	}
	if i := strings.IndexRune("壹贰叁肆伍陆柒捌玖", r); i >= 0 {
		return len([]rune("壹贰叁肆伍陆柒捌玖"[:i])) + 1
	}
	return -1
}

// digitRuns folds s to its digit runs: every digit-like code point becomes
// its ASCII digit, separators inside a run are dropped, anything else
// breaks the run.
func digitRuns(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch d := digitValue(r); {
		case d >= 0:
			b.WriteByte(byte('0' + d))
		case r == ' ' || r == '-' || r == '.' || r == 0 || r == '\u200b':
		default:
			b.WriteByte('|')
		}
	}
	return b.String()
}

// Digits reports the first window of seven digits of value (ASCII
// digits) that survives, in any digit form, in text: the check that a
// masked phone, ID or card number leaves nothing an attacker can read.
func Digits(text, value string) (string, bool) {
	runs := digitRuns(text)
	for i := 0; i+7 <= len(value); i++ {
		if w := value[i : i+7]; strings.Contains(runs, w) {
			return w, true
		}
	}
	return "", false
}
