package privacy

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Mask returns s, the original text of a finding of the given privacy kind,
// with the private part replaced by stars: phone 138****5678, id_card
// 1101**********4514, bank_card 6222 **** **** 0128 (separators kept),
// email j***@gmail.com, address 浙江省杭州市****, passport E1*****78,
// license_plate 京A***45, credential 验证码 ******. Whatever the kind, no run
// of more than four digits is left in clear. Mask is safe for concurrent use.
func Mask(kind, s string) string {
	switch kind {
	case "phone":
		return maskDigits(s, 3, 4)
	case "id_card":
		if n := countDigits(s); n <= 9 {
			return maskDigits(s, 0, 4) // SSN: ***-**-6789
		}
		return maskDigits(s, 4, 4)
	case "bank_card":
		return maskDigits(s, 4, 4)
	case "email":
		return maskEmail(s)
	case "address":
		return maskAddress(s)
	case "passport", "license_plate":
		return maskMiddle(s, 2, 2)
	case "credential":
		return maskCredential(s)
	}
	return maskLongDigits(s)
}

func isDigitRune(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' }

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if isDigitRune(r) || r == 'x' || r == 'X' {
			n++
		}
	}
	return n
}

// maskDigits keeps the first and last digits of s (at most first+last, and
// never more than four in a row) and stars the others; other characters stay.
func maskDigits(s string, first, last int) string {
	n := countDigits(s)
	// At least four digits (or half of a short number) are starred.
	for first+last > 0 && (first+last > n-4 || first+last > n/2+2) {
		if first >= last && first > 0 {
			first--
		} else {
			last--
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	k := 0
	for _, r := range s {
		if isDigitRune(r) || r == 'x' || r == 'X' {
			if k < first || k >= n-last {
				b.WriteRune(r)
			} else {
				b.WriteByte('*')
			}
			k++
			continue
		}
		b.WriteRune(r)
	}
	return maskLongDigits(b.String())
}

// maskMiddle keeps the first and last runes of s and stars the letters and
// digits between them.
func maskMiddle(s string, first, last int) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if i >= first && i < len(rs)-last && r != ' ' && r != '·' && r != '-' {
			b.WriteByte('*')
		} else {
			b.WriteRune(r)
		}
	}
	return maskLongDigits(b.String())
}

// maskEmail keeps the first character of the user part and the domain.
func maskEmail(s string) string {
	at := strings.IndexAny(s, "@＠")
	if at < 0 {
		// Spelled-out or glued forms: keep the first character and the
		// last word ("gmailcom", "gmail dot com").
		r, size := utf8.DecodeRuneInString(s)
		tail := s[strings.LastIndexAny(s, " ")+1:]
		if utf8.RuneCountInString(s) <= 1 {
			return "***"
		}
		if i := strings.LastIndex(strings.ToLower(s), " at "); i >= 0 {
			return string(r) + "***" + maskLongDigits(s[i:])
		}
		if tail == s {
			// sofiagmailcom: keep the first letter and the last eight runes.
			rs := []rune(s)
			return string(r) + "***" + maskLongDigits(string(rs[max(1, len(rs)-8):]))
		}
		_ = size
		return string(r) + "***" + " " + maskLongDigits(tail)
	}
	r, _ := utf8.DecodeRuneInString(s)
	if at == 0 {
		return maskLongDigits(s)
	}
	return string(r) + "***" + maskLongDigits(s[at:])
}

// maskAddress keeps the leading province, city or district names of a
// Chinese address and stars the rest; English addresses keep the street
// type and city words and star the house number, street name and ZIP.
func maskAddress(s string) string {
	rs := []rune(s)
	keep := 0
	for i, r := range rs {
		if i >= 12 {
			break
		}
		if r == '省' || r == '市' || r == '区' && i < 10 {
			keep = i + 1
		}
	}
	if keep > 0 || len(rs) > 0 && rs[0] >= 0x3400 {
		if keep == 0 {
			keep = min(2, len(rs))
		}
		return string(rs[:keep]) + "****"
	}
	// English: star the number and the words before the street type.
	words := strings.Fields(s)
	for i, w := range words {
		if i < len(words)-1 || hasDigitRune(w) {
			if i == 0 || hasDigitRune(w) || i < len(words)/2 {
				words[i] = strings.Repeat("*", max(1, utf8.RuneCountInString(w)))
			}
		}
	}
	return strings.Join(words, " ")
}

func hasDigitRune(s string) bool {
	for _, r := range s {
		if isDigitRune(r) {
			return true
		}
	}
	return false
}

// maskCredential stars the value at the end of s ("验证码是 482913" →
// "验证码是 ******"), or a code at its start ("482913 is your code").
func maskCredential(s string) string {
	i := len(s)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if r == ' ' || r == ':' || r == '：' || r == '=' || r >= 0x2E80 {
			break
		}
		i -= size
	}
	if i < len(s) {
		return maskLongDigits(s[:i]) + "******"
	}
	j := 0
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j > 0 {
		return "******" + maskLongDigits(s[j:])
	}
	return maskLongDigits(s)
}

// maskLongDigits stars every digit run longer than four but its last four.
func maskLongDigits(s string) string {
	rs := []rune(s)
	changed := false
	for i := 0; i < len(rs); {
		if !isDigitRune(rs[i]) {
			i++
			continue
		}
		j := i
		for j < len(rs) && isDigitRune(rs[j]) {
			j++
		}
		if j-i > 4 {
			for k := i; k < j-4; k++ {
				rs[k] = '*'
			}
			changed = true
		}
		i = j
	}
	if !changed {
		return s
	}
	return string(rs)
}

// Redact returns the original text of t with every privacy finding in
// findings replaced by its masked form. Findings of other detectors, and
// requests for a credential (Rule AskRule), are left alone; overlapping
// findings mask their union once.
func (d *Detector) Redact(t *normalize.Text, findings []detectors.Finding) string {
	spans := make([][2]int, 0, len(findings))
	kinds := make([]string, 0, len(findings))
	idx := make([]int, 0, len(findings))
	for i, f := range findings {
		if f.Detector != Name || f.Rule == AskRule || f.End <= f.Start {
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return t.Orig
	}
	sort.Slice(idx, func(a, b int) bool { return findings[idx[a]].Start < findings[idx[b]].Start })
	for _, i := range idx {
		f := findings[i]
		if n := len(spans); n > 0 && f.Start < spans[n-1][1] {
			spans[n-1][1] = max(spans[n-1][1], f.End)
			continue
		}
		spans = append(spans, [2]int{f.Start, f.End})
		kinds = append(kinds, f.Kind)
	}
	var b strings.Builder
	b.Grow(len(t.Orig))
	prev := 0
	for i, sp := range spans {
		b.WriteString(t.OrigText(prev, sp[0]))
		b.WriteString(Mask(kinds[i], t.OrigText(sp[0], sp[1])))
		prev = sp[1]
	}
	b.WriteString(t.OrigText(prev, t.Len()))
	return b.String()
}
