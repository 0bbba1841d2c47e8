// Package scrub is the last line of defence against private data in the
// free text the gateway lets out: event text (text_masked, context,
// evidence, policy messages, suggestions, alerts) and replay reports. Text
// masks long digit runs in any digit form and e-mail user parts, as the
// privacy detector masks them, so a detector that forgot to mask, a policy
// message quoting a number or a phone spelled 一三八… cannot leak one.
//
// It is a package of its own so that whoever lets text out can scrub it
// without linking the event schema to the detectors: it needs only
// privacy.PublicNumber, to leave public service numbers readable.
package scrub

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors/privacy"
)

// Text is the last line of defence against private data in free text that
// leaves the gateway (an event's text_masked, context, evidence, policy
// messages, suggestions and alerts; a replay report): every run of more
// than four digit-like code points is starred but for its last four, and
// the user part of an e-mail address (an @ followed by a domain) is cut to
// its first character and "***", as the privacy detector masks them. Text already masked that way comes back unchanged,
// without allocating.
//
// A run that is, as a whole, a public service number (12315, 12345, 95188,
// 10086, 400-820-8820, 0571-12345; see privacy.PublicNumber) is nobody's
// private data and stays as written, so that a supervisor reads "打12315投诉"
// rather than "打*2315投诉". Only whole runs count: in "12315 13812345678"
// the hotline is starred with the mobile it is run together with, since a
// public-looking group cannot be told from part of a private number there.
//
// A digit-like code point is any Unicode digit or number (ASCII,
// full-width, circled ①, superscript ¹, subscript, Roman, other scripts'
// digits) or a Chinese numeral (〇零一…九, 幺, 两, capital 壹贰…玖): an agent
// who spells a phone number 一三八一二三四五六七八 or ①③⑧… leaks it as surely
// as one who types 13812345678. A run may be split by spaces, dashes, dots,
// zero-width and control characters (138 1234 5678, 138-1234-5678,
// 138\u200b1234…), which are kept; anything else, a star included, ends it.
func Text(s string) string {
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
	t := b.String()
	b.Reset()
	b.Grow(len(t))
	last = 0
	for i := 0; i < len(t); {
		start, end, n := nextRun(t, i)
		if start < 0 {
			break
		}
		if n > maxClearDigits && !privacy.PublicNumber(t[start:end]) {
			b.WriteString(t[last:start])
			k := 0
			for _, r := range t[start:end] {
				if isDigitLike(r) {
					if k < n-maxClearDigits {
						r = '*'
					}
					k++
				}
				b.WriteRune(r)
			}
			last = end
		}
		i = end
	}
	b.WriteString(t[last:])
	return b.String()
}

// maxClearDigits is how many digits of a run Text leaves in clear: the
// last four, as the privacy detector's masks do.
const maxClearDigits = 4

// needsScrub reports whether Text would change s; it does not allocate.
func needsScrub(s string) bool {
	for i := 0; i < len(s); {
		start, end, n := nextRun(s, i)
		if start < 0 {
			break
		}
		if n > maxClearDigits && !privacy.PublicNumber(s[start:end]) {
			return true
		}
		i = end
	}
	for i, r := range s {
		if isAt(r) && maskLocal(s[localStart(s, i):i], s[i:]) {
			return true
		}
	}
	return false
}

// nextRun finds the first digit run in s at or after byte i: it starts at
// a digit-like code point and goes on through the digit-like code points
// that follow it, directly or after separators (see isRunSep). It returns
// the run's byte range, ending after its last digit, and its number of
// digits; start is -1 when s[i:] holds no digit.
func nextRun(s string, i int) (start, end, n int) {
	start = -1
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isDigitLike(r) {
			start = i
			break
		}
		i += size
	}
	if start < 0 {
		return -1, len(s), 0
	}
	end = start
	for j := start; j < len(s); {
		r, size := utf8.DecodeRuneInString(s[j:])
		switch {
		case isDigitLike(r):
			n++
			end = j + size
		case isRunSep(r):
		default:
			return start, end, n
		}
		j += size
	}
	return start, end, n
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

// isDigitLike reports whether r stands for a digit: a Unicode decimal
// digit (Nd: ASCII, full-width, Arabic-Indic, mathematical…), another
// number (No, Nl: ① ¹ ₁ ⑴ ⒈ ❶ Ⅷ 〇), or a Chinese numeral, plain or
// capital, as people spell phone numbers out.
func isDigitLike(r rune) bool {
	switch {
	case r >= '0' && r <= '9':
		return true
	case r < utf8.RuneSelf:
		return false
	case r >= 0x4E00 && r <= 0x9FFF:
		// The CJK Unified Ideographs, most of a Chinese message: letters
		// (Lo), no Unicode number among them, so only the numerals'
		// list is asked, without the Unicode tables' searches.
		return isChineseNumeral(r)
	case unicode.In(r, unicode.Nd, unicode.No, unicode.Nl):
		return true
	}
	return isChineseNumeral(r)
}

// isChineseNumeral reports whether r is one of chineseNumerals. A switch,
// not strings.ContainsRune: half the time on Chinese text (BenchmarkText);
// TestDigitLikeEveryRune holds the two lists equal.
func isChineseNumeral(r rune) bool {
	switch r {
	case '〇', '零', '一', '二', '三', '四', '五', '六', '七', '八', '九', '幺', '两',
		'壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖', '貳', '參', '陸':
		return true
	}
	return false
}

// chineseNumerals are the Chinese digits 0–9 as phone numbers are spelled
// out: plain (with 幺 and 两 for one and two), capital (financial) in
// simplified and traditional forms.
const chineseNumerals = "〇零一二三四五六七八九幺两壹贰叁肆伍陆柒捌玖貳參陸"

// isRunSep reports whether r may separate the digits of one run: spaces,
// dashes, dots, zero-width, format and control characters.
func isRunSep(r rune) bool {
	switch r {
	case ' ', '-', '.', '\u00b7', '\u2212', '\u30fb', '\uff0d', '\uff0e', '\uff65':
		return true
	}
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return r >= '\u2010' && r <= '\u2015' || unicode.In(r, unicode.Zs, unicode.Cf, unicode.Cc)
}

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
