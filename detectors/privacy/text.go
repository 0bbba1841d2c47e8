package privacy

import (
	"strings"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
)

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// emails finds addresses with an @ (spelled-out forms were folded by the
// normalizer) and addresses written without punctuation (sofiagmailcom,
// "john 67 gmail com").
func (s *scan) emails() {
	norm := s.norm
	for p := strings.IndexByte(norm, '@'); p >= 0; {
		a := p
		for a > 0 && isLocalChar(norm[a-1]) {
			a--
		}
		for a < p && (norm[a] == '.' || norm[a] == '-') {
			a++
		}
		e := p + 1
		for e < len(norm) && isDomainChar(norm[e]) {
			e++
		}
		for e > p+1 && (norm[e-1] == '.' || norm[e-1] == '-') {
			e--
		}
		dom := norm[p+1 : e]
		dot := strings.LastIndexByte(dom, '.')
		if a < p && dot > 0 && len(dom)-dot-1 >= 2 && allLower(dom[dot+1:]) {
			s.add("email", detectors.Medium, 0.95, a, e, "")
		}
		next := strings.IndexByte(norm[e:], '@')
		if next < 0 {
			break
		}
		p = e + next
	}
	s.gluedEmails()
}

func allLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLower(s[i]) {
			return false
		}
	}
	return true
}

// gluedEmails finds "user provider tld" with the @ and dots dropped:
// "sofiagmailcom", "murali 67 gmailcom", "john gmail com".
func (s *scan) gluedEmails() {
	norm := s.norm
	type tok struct{ a, b int }
	none := tok{-1, -1}
	t1, t2 := none, none // the previous two tokens, when single spaces apart
	text := func(t tok) string { return norm[t.a:t.b] }
	user := func(t tok) bool { return t.a >= 0 && !s.d.stopwords[text(t)] }
	for i := 0; i < len(norm); {
		if !isAlnum(norm[i]) {
			i++
			continue
		}
		j := i
		for j < len(norm) && isAlnum(norm[j]) {
			j++
		}
		if t1.a < 0 || t1.b != i-1 || norm[i-1] != ' ' {
			t1, t2 = none, none
		}
		cur := norm[i:j]
		start := -1
		if rest, ok := s.cutTLD(cur); ok {
			switch p := s.providerSuffix(rest); {
			case p > 0:
				start = i // sofiagmailcom
			case p == 0 && isDigitString(text2(norm, t1)) && user(t2):
				start = t2.a // murali 67 gmailcom
			case p == 0 && user(t1):
				start = t1.a // sofia gmailcom
			case rest == "" && t1.a >= 0 && s.providerSuffix(text(t1)) == 0 && user(t2):
				start = t2.a // john gmail com
			}
		}
		if start >= 0 {
			s.add("email", detectors.Medium, 0.7, start, j, "")
			t1, t2 = none, none
		} else {
			t1, t2 = tok{i, j}, t1
		}
		i = j
	}
}

func text2(norm string, t struct{ a, b int }) string {
	if t.a < 0 {
		return ""
	}
	return norm[t.a:t.b]
}

// cutTLD returns tok without a trailing top-level domain.
func (s *scan) cutTLD(tok string) (string, bool) {
	for _, tld := range s.d.tlds {
		if strings.HasSuffix(tok, tld) {
			return tok[:len(tok)-len(tld)], true
		}
	}
	return "", false
}

// providerSuffix returns where a mail provider name ends rest (the length
// of the user part before it), or -1.
func (s *scan) providerSuffix(rest string) int {
	if rest == "" {
		return -1
	}
	for _, p := range s.d.providers {
		if strings.HasSuffix(rest, p) {
			return len(rest) - len(p)
		}
	}
	return -1
}

func isDigitString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// plates finds Chinese licence plates: a province character, a letter, an
// optional separator, and five characters with at least three digits, or a
// new-energy six (D or F and five digits, or five digits and D or F).
func (s *scan) plates() {
	norm := s.norm
	for i := 0; i < len(norm); {
		r, size := utf8.DecodeRuneInString(norm[i:])
		if r < 0x3400 || r > 0xFFFF || s.d.plates[r>>6]&(1<<(r&63)) == 0 {
			i += size
			continue
		}
		p := i + size
		if p >= len(norm) || !isLower(norm[p]) || p+1 < len(norm) && isLower(norm[p+1]) && !s.plateBody(p+1) {
			i = p
			continue
		}
		q := p + 1
		if q < len(norm) && (norm[q] == ' ' || norm[q] == '-') {
			q++
		} else if strings.HasPrefix(norm[q:], "·") || strings.HasPrefix(norm[q:], "•") {
			q += len("·")
		}
		if n := s.plateLen(q); n > 0 {
			s.add("license_plate", detectors.Low, 0.8, i, q+n, "")
			i = q + n
			continue
		}
		i = p
	}
}

// plateBody reports whether a plate body starts at q (used to tell 京a from
// a Latin word after a province character).
func (s *scan) plateBody(q int) bool { return s.plateLen(q) > 0 }

// plateLen returns the length of the plate body at q, or 0.
func (s *scan) plateLen(q int) int {
	norm := s.norm
	e := q
	for e < len(norm) && isAlnum(norm[e]) {
		e++
	}
	body := norm[q:e]
	switch len(body) {
	case 5:
		digits := 0
		for i := 0; i < 5; i++ {
			if isDigit(body[i]) {
				digits++
			}
		}
		if digits >= 3 {
			return 5
		}
	case 6:
		if (body[0] == 'd' || body[0] == 'f') && isDigitString(body[1:]) ||
			(body[5] == 'd' || body[5] == 'f') && isDigitString(body[:5]) {
			return 6
		}
	}
	return 0
}
