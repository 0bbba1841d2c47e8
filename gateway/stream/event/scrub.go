package event

import (
	"strings"
	"unicode/utf8"
)

// Scrub is the last line of defence against private data in an event's
// free text (evidence, policy messages, suggestions): every run of more than
// four digits (ASCII or full-width) is starred but for its last four, and
// the user part of an e-mail address (an @ followed by a domain) is cut to
// its first character and "***", as the privacy detector masks them. Text
// already masked that way comes back unchanged, without allocating.
func Scrub(s string) string {
	if !needsScrub(s) {
		return s
	}
	// E-mail user parts first, on the string.
	var b strings.Builder
	b.Grow(len(s) + 3)
	last := 0
	for i, r := range s {
		if isAt(r) {
			if ls := localStart(s, i); maskLocal(s[ls:i], s[i:]) {
				b.WriteString(s[last:ls])
				first, _ := utf8.DecodeRuneInString(s[ls:])
				b.WriteRune(first)
				b.WriteString("***")
				last = i
			}
		}
	}
	b.WriteString(s[last:])
	// Then long digit runs.
	out := []rune(b.String())
	for i := 0; i < len(out); {
		if !isDigit(out[i]) {
			i++
			continue
		}
		j := i
		for j < len(out) && isDigit(out[j]) {
			j++
		}
		for k := i; k < j-4; k++ {
			out[k] = '*'
		}
		i = j
	}
	return string(out)
}

// needsScrub reports whether Scrub would change s; it does not allocate.
func needsScrub(s string) bool {
	run := 0
	for i, r := range s {
		if isDigit(r) {
			if run++; run > 4 {
				return true
			}
			continue
		}
		run = 0
		if isAt(r) && maskLocal(s[localStart(s, i):i], s[i:]) {
			return true
		}
	}
	return false
}

// maskLocal reports whether local, a user part before rest (which starts
// with the @), is an address to mask: more than one character in clear and
// a domain after the @.
func maskLocal(local, rest string) bool {
	n := 0
	for _, r := range local {
		if r != '*' {
			n++
		}
	}
	if n <= 1 {
		return false
	}
	_, size := utf8.DecodeRuneInString(rest)
	return domainAfter(rest[size:])
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' }

func isAt(r rune) bool { return r == '@' || r == '＠' }

// isLocal reports whether r may be part of an e-mail user part, masked or
// not.
func isLocal(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("._%+-*", r)) || r >= '０' && r <= '９' || r >= 'ａ' && r <= 'ｚ' || r >= 'Ａ' && r <= 'Ｚ'
}

// localStart returns the byte offset where the user part ending at s[at]
// begins.
func localStart(s string, at int) int {
	i := at
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if !isLocal(r) {
			break
		}
		i -= size
	}
	return i
}

// domainAfter reports whether s starts with a domain: labels of ASCII
// letters, digits and hyphens, at least two, separated by dots.
func domainAfter(s string) bool {
	labels, cur := 0, 0
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'):
			cur++
		case r == '.' || r == '。' || r == '．':
			if cur == 0 {
				return labels >= 2
			}
			labels++
			cur = 0
		default:
			return labels >= 1 && cur > 0 || labels >= 2
		}
	}
	return labels >= 1 && cur > 0 || labels >= 2
}
