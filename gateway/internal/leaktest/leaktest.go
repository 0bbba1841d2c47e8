// Package leaktest finds private numbers that survive masking in any digit
// form, for the tests that send attackers' drafts through the gateway and
// read what the chat backend, the events and the logs received. It keeps
// its own table of digit forms, apart from the normalizer and the scrubber
// under test, so a test can catch a form they miss.
package leaktest

import "strings"

// digitOf returns the value of a digit-like code point, or -1: the forms
// people and attackers spell numbers in.
func digitOf(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= '０' && r <= '９':
		return int(r - '０')
	case r >= '①' && r <= '⑨':
		return int(r-'①') + 1
	case r >= '⑴' && r <= '⑼':
		return int(r-'⑴') + 1
	case r >= '⒈' && r <= '⒐':
		return int(r-'⒈') + 1
	case r >= '❶' && r <= '❾':
		return int(r-'❶') + 1
	case r >= '₀' && r <= '₉':
		return int(r - '₀')
	case r >= '⁴' && r <= '⁹':
		return int(r-'⁴') + 4
	case r >= '٠' && r <= '٩':
		return int(r - '٠')
	case r >= '𝟎' && r <= '𝟗':
		return int(r - '𝟎')
	}
	switch r {
	case '⁰', '〇', '零', '⓪':
		return 0
	case '¹', '幺':
		return 1
	case '²', '两':
		return 2
	case '³':
		return 3
	}
	for _, set := range []string{"一二三四五六七八九", "壹贰叁肆伍陆柒捌玖"} {
		for i, d := range []rune(set) {
			if r == d {
				return i + 1
			}
		}
	}
	return -1
}

// foldDigits maps s to its digit runs in ASCII: separators an attacker
// slips between digits (spaces, dashes, dots, zero-width and control
// characters) are dropped, anything else breaks the run with '|'.
func foldDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch d := digitOf(r); {
		case d >= 0:
			b.WriteByte(byte('0' + d))
		case r == ' ' || r == '-' || r == '.' || r == '\u200b' || r == '\u2060' || r == '\ufeff' || r < 0x20:
		default:
			b.WriteByte('|')
		}
	}
	return b.String()
}

// Window reports the first n consecutive digits of value (ASCII digits)
// that survive in text in any digit form.
func Window(text, value string, n int) (string, bool) {
	runs := foldDigits(text)
	for i := 0; i+n <= len(value); i++ {
		if w := value[i : i+n]; strings.Contains(runs, w) {
			return w, true
		}
	}
	return "", false
}

// Digits is Window with seven digits: the check that a masked phone, ID
// or card number leaves nothing an attacker can read.
func Digits(text, value string) (string, bool) { return Window(text, value, 7) }
