package privacy

import (
	"strings"

	"github.com/xunjian/xunjian/detectors"
)

// Keyword windows, in bytes of normalized text (a Chinese character is
// three bytes).
const (
	kwWindow    = 24 // a keyword this close to a number describes it
	orderWindow = 24 // 订单号：… / order number: …
	maxRun      = 80 // longer digit runs are tried by windows, not as groups
	maxGroups   = 16 // separator groups tried one by one; more go to windows
)

// numbers classifies every digit run of the normalized text.
func (s *scan) numbers() {
	norm := s.norm
	for i := 0; i < len(norm); {
		if !isDigit(norm[i]) {
			i++
			continue
		}
		j := i
		for j < len(norm) && isDigit(norm[j]) {
			j++
		}
		if e := s.parenNANP(i, j); e > 0 {
			i = e
			continue
		}
		s.digitRun(i, j)
		i = j
	}
}

// parenNANP reports a North American number written "(415) 555-2671" whose
// area code is norm[i:j], and returns the end of the number or 0.
func (s *scan) parenNANP(i, j int) int {
	norm := s.norm
	if j-i != 3 || i == 0 || norm[i-1] != '(' || j >= len(norm) || norm[j] != ')' {
		return 0
	}
	p := j + 1
	if p < len(norm) && norm[p] == ' ' {
		p++
	}
	e := p
	for e < len(norm) && isDigit(norm[e]) {
		e++
	}
	if e-p != 7 || e < len(norm) && isAlnum(norm[e]) || !validNANP(norm[i:j]+norm[p:e]) {
		return 0
	}
	s.add("phone", detectors.Medium, 0.9, i-1, e, "")
	return e
}

// digitRun classifies the maximal digit run norm[i:j].
func (s *scan) digitRun(i, j int) {
	norm := s.norm
	if j-i < 6 {
		return
	}
	// Letters glued to the front: a passport (E12345678) or a code.
	k := i
	for k > 0 && isLower(norm[k-1]) {
		k--
	}
	if k < i {
		if k > 0 && isDigit(norm[k-1]) {
			return
		}
		if i-k <= 2 {
			s.passport(k, i, j)
			return
		}
	}
	end := j
	if j < len(norm) && isLower(norm[j]) {
		// Only a resident ID may end in a letter, its check character X.
		if j-i != 17 || norm[j] != 'x' || j+1 < len(norm) && isAlnum(norm[j+1]) {
			return
		}
		end = j + 1
	}
	if s.labelledAs(setOrder, i, orderWindow) || s.before(setCredTerms, i, 12) {
		return
	}
	plus := i > 0 && norm[i-1] == '+'
	if publicDigits(norm[i:end], plus) {
		// 12315, 400 820 8820, +86 95188, 0571-12345: a public service
		// number, nobody's private data.
		return
	}
	if j-i > maxRun {
		// Too long for one number or its groups: many numbers in a row,
		// or one padded to slip past a length cap.
		s.windows(i, end, plus)
		return
	}
	if s.classify(i, end, plus, true) {
		return
	}
	// Try the groups the writer separated (138 1234 5678 110101…), longest
	// first from the left.
	var cuts [maxGroups + 1]int
	nc := 0
	cuts[nc] = i
	nc++
	for p := i + 1; p < j; p++ {
		_, e0 := s.t.Span(p-1, p)
		s1, _ := s.t.Span(p, p+1)
		if s1 > e0 {
			if nc == maxGroups {
				// More groups than are worth pairing ("1 3 8 1 2 …").
				s.windows(i, end, plus)
				return
			}
			cuts[nc] = p
			nc++
		}
	}
	if nc == 1 {
		if !s.gluedPublic(i, end, plus) {
			s.windows(i, end, plus)
		}
		return
	}
	cuts[nc] = end
	found := false
	for a := 0; a < nc; {
		matched := false
		for b := nc; b > a; b-- {
			if a == 0 && b == nc {
				continue
			}
			if publicDigits(norm[cuts[a]:cuts[b]], plus && a == 0) {
				// A hotline the writer set apart ("12315 138…"): passed
				// over, so the groups after it are read on their own.
				a, matched = b, true
				break
			}
			if s.classify(cuts[a], cuts[b], plus && a == 0, false) {
				a, matched, found = b, true, true
				break
			}
		}
		if !matched {
			a++
		}
	}
	if !found {
		s.windows(i, end, plus)
	}
}

// gluedPublic classifies what is left of the digit run norm[a:b], which is
// no number as a whole, when a five- or ten-digit public service number is
// glued to its front or back ("打1231513812345678"), and reports whether that
// rest was a number. Three-digit ones are not tried: 110, 120… begin too
// many codes by chance.
func (s *scan) gluedPublic(a, b int, plus bool) bool {
	ds := s.norm[a:b]
	for _, k := range [...]int{5, 10} {
		if len(ds)-k < 7 {
			break
		}
		if publicDigits(ds[:k], plus) && s.classify(a+k, b, false, false) {
			return true
		}
		if publicDigits(ds[len(ds)-k:], false) && s.classify(a, b-k, plus, false) {
			return true
		}
	}
	return false
}

// windows looks inside the digit run norm[a:b] that is no single number for
// numbers at any digit offset, and reports one finding covering the whole
// run when it holds one: a mainland mobile, a resident ID (region, date and
// check character) or a card passing Luhn that is UnionPay (62…) or next to
// a card keyword. Runs shorter than the longest number (19 digits) are left
// alone: they were classified whole and by groups, and a short code often
// contains a mobile-shaped window. The run is reported whole, at the
// severity of the strongest number in it, so that masking covers every
// digit of every number in it (a run keeps only its last four), whatever
// padding or other numbers surround them. The scan is linear in the run:
// constant work per offset.
func (s *scan) windows(a, b int, plus bool) {
	ds := s.norm[a:b]
	if len(ds) < maxNumber {
		return
	}
	cardKW := s.near(setCard, a, b, kwWindow)
	kind, sev := "", detectors.Info
	for p := 0; p < len(ds) && sev < detectors.High; p++ {
		rest := ds[p:]
		if len(rest) >= 18 && s.residentID(rest[:18]) {
			kind, sev = "id_card", detectors.High
			break
		}
		for n := 16; n <= min(19, len(rest)); n++ {
			if !strings.HasSuffix(rest[:n], "x") && (cardKW || strings.HasPrefix(rest, "62")) && luhn(rest[:n]) {
				kind, sev = "bank_card", detectors.High
				break
			}
		}
		if kind == "" && len(rest) >= 11 && s.mobileOK(rest[:11]) {
			kind, sev = "phone", detectors.Medium
		}
	}
	if kind == "" {
		return
	}
	start := a
	if plus {
		start--
	}
	s.add(kind, sev, 0.8, start, b, "")
}

// grouped4 reports whether norm[a:b] was written in groups of four (the
// last may be shorter), as card numbers are.
func (s *scan) grouped4(a, b int) bool {
	gaps := 0
	for p := a + 1; p < b; p++ {
		if s.gapAt(p) {
			if (p-a)%4 != 0 {
				return false
			}
			gaps++
		} else if (p-a)%4 == 0 && p-a <= 12 {
			return false
		}
	}
	return gaps >= 3
}

// extension reports a local number with an extension: 88681188-6808.
func (s *scan) extension(a, b int) bool {
	for p := b - 4; p < b; p++ {
		if p > a && p-a <= 8 && s.gapAt(p) {
			return true
		}
	}
	return false
}

// gapAt reports whether the writer put a separator before byte p of Norm.
func (s *scan) gapAt(p int) bool {
	_, e0 := s.t.Span(p-1, p)
	s1, _ := s.t.Span(p, p+1)
	return s1 > e0
}

// grouped reports whether the number norm[a:b] was written in exactly the
// groups given by the offsets (relative to a), e.g. 3,6 for 415 555 2671.
func (s *scan) grouped(a, b int, at ...int) bool {
	want := 0
	for p := a + 1; p < b; p++ {
		if s.gapAt(p) {
			if want >= len(at) || p-a != at[want] {
				return false
			}
			want++
		}
	}
	return want == len(at)
}

// classify decides what the number norm[a:b] is and reports it.
func (s *scan) classify(a, b int, plus, whole bool) bool {
	ds := s.norm[a:b]
	n := len(ds)
	phoneKW := s.near(setPhone, a, b, kwWindow)

	if plus {
		switch {
		case strings.HasPrefix(ds, "86") && n == 13 && s.mobileOK(ds[2:]):
			s.add("phone", detectors.Medium, 0.95, a-1, b, "")
			return true
		case strings.HasPrefix(ds, "86") && landline("0"+ds[2:]) > 0:
			s.add("phone", detectors.Low, 0.85, a-1, b, "")
			return true
		case n >= 7 && n <= 15:
			if valid, mobile := validInternational(ds); valid {
				sev := detectors.Low
				if mobile {
					sev = detectors.Medium
				}
				s.add("phone", sev, 0.9, a-1, b, "")
				return true
			}
		}
		return false
	}
	if n == 11 && ds[0] == '1' && nanpTollFree(ds[1:4]) && s.grouped(a, b, 1, 4, 7) && (plus || !s.mobileOK(ds)) ||
		n == 10 && nanpTollFree(ds[:3]) && s.grouped(a, b, 3, 6) {
		// A North American toll-free line written as one (1-800-555-0199,
		// 888-555-0199): a company's line. Written otherwise, 1800… and
		// 888… begin mainland and Indian mobiles; and eleven digits that
		// also make a mainland mobile (1-866-220-5701 is 186 6220 5701)
		// are one unless a + says the 1 is a country code: a private
		// number masked by mistake costs less than one left in clear.
		return false
	}
	if n == 15 && strings.HasPrefix(ds, "0086") && s.mobileOK(ds[4:]) {
		s.add("phone", detectors.Medium, 0.95, a, b, "")
		return true
	}
	if n == 13 && strings.HasPrefix(ds, "86") && s.mobileOK(ds[2:]) && s.grouped(a, b, 2, 5, 9) {
		s.add("phone", detectors.Medium, 0.9, a, b, "")
		return true
	}
	if n == 11 && ds[0] == '1' && s.mobileOK(ds) {
		s.add("phone", detectors.Medium, pick(phoneKW, 0.97, 0.9), a, b, "")
		return true
	}
	idKW := s.near(setID, a, b, kwWindow)
	if n == 18 && s.residentID(ds) {
		s.add("id_card", detectors.High, pick(idKW, 0.99, 0.95), a, b, "")
		return true
	}
	if n == 18 && idKW {
		// Labelled as an ID number but failing its checksum: an ID
		// number with a typo is still (almost all of) an ID number.
		s.add("id_card", detectors.High, 0.7, a, b, "")
		return true
	}
	cardKW := s.near(setCard, a, b, kwWindow)
	if n >= 13 && n <= 19 && !strings.HasSuffix(ds, "x") && luhn(ds) && (n >= 16 || cardKW) {
		score := pick(cardKW, 0.97, 0.85)
		if strings.HasPrefix(ds, "62") {
			score += 0.02 // UnionPay BIN
		}
		s.add("bank_card", detectors.High, score, a, b, "")
		return true
	}
	if n >= 16 && n <= 19 && (s.grouped4(a, b) || !s.han && whole) {
		// Written in fours like a card (7013 6721 0956 4930), or a bare long
		// number in an English chat: a card with a typo is still a card.
		s.add("bank_card", pickSev(s.grouped4(a, b), detectors.High, detectors.Medium), 0.55, a, b, "")
		return true
	}
	if n == 15 && s.legacyID(ds) {
		s.add("id_card", pickSev(idKW, detectors.High, detectors.Medium), pick(idKW, 0.9, 0.6), a, b, "")
		return true
	}
	if n >= 12 && n <= 19 && cardKW && !strings.HasSuffix(ds, "x") {
		// A card number with a typo is still a card number.
		s.add("bank_card", detectors.High, 0.6, a, b, "")
		return true
	}
	if s.near(setPassport, a, b, kwWindow) && (n == 8 || n == 9) {
		s.add("passport", detectors.High, 0.85, a, b, "")
		return true
	}
	if n == 9 && validSSN(ds) && (s.grouped(a, b, 3, 5) || s.near(setSSN, a, b, kwWindow)) {
		s.add("id_card", detectors.High, 0.9, a, b, "")
		return true
	}
	for _, p := range s.d.business {
		if strings.HasPrefix(ds, p.digits) && n <= p.maxLen {
			return false
		}
	}
	if code := landline(ds); code > 0 && (s.grouped(a, b, code) || phoneKW) {
		s.add("phone", detectors.Low, pick(phoneKW, 0.9, 0.8), a, b, "")
		return true
	}
	if n == 10 && ds[0] >= '2' {
		switch {
		case s.grouped(a, b, 3, 6) || validNANP(ds) && phoneKW:
			s.add("phone", detectors.Medium, 0.9, a, b, "")
			return true
		case !s.han && (validNANP(ds) || ds[0] >= '6'):
			// A bare ten-digit number in an English chat: a North
			// American number or an Indian mobile ([6-9] and nine digits).
			s.add("phone", detectors.Medium, 0.6, a, b, "")
			return true
		}
	}
	if n == 11 && ds[0] == '1' && validNANP(ds[1:]) && (s.grouped(a, b, 1, 4, 7) || phoneKW) {
		s.add("phone", detectors.Medium, 0.9, a, b, "")
		return true
	}
	if phoneKW && n >= 7 && n <= 13 && whole {
		// A local landline (7-8 digits) or a national number with a trunk
		// 0 is usually a shop's or hotel's line: low.
		s.add("phone", pickSev(n <= 8 || ds[0] == '0' || s.extension(a, b), detectors.Low, detectors.Medium), 0.6, a, b, "")
		return true
	}
	return false
}

func pick(cond bool, yes, no float64) float64 {
	if cond {
		return yes
	}
	return no
}

func pickSev(cond bool, yes, no detectors.Severity) detectors.Severity {
	if cond {
		return yes
	}
	return no
}

// mobileOK reports whether the 11 digits ds are a mainland mobile number.
func (s *scan) mobileOK(ds string) bool {
	if len(ds) != 11 || ds[0] != '1' {
		return false
	}
	return s.d.mobile[atoi(ds[:5])-10000]
}

// landline returns the length of the area code (with its 0) when ds is a
// mainland fixed-line number: 010 or 02X and eight digits, or 0[3-9]XX and
// seven or eight digits, the local number not starting with 0 or 1; else 0.
func landline(ds string) int {
	n := len(ds)
	if n < 10 || n > 12 || ds[0] != '0' {
		return 0
	}
	code := 4
	switch ds[1] {
	case '0':
		return 0
	case '1':
		if ds[2] != '0' {
			return 0
		}
		code = 3
	case '2':
		code = 3
	}
	local := n - code
	if local < 7 || local > 8 || code == 3 && local != 8 || ds[code] == '0' {
		return 0
	}
	return code
}

// residentID checks an 18-character PRC resident identity number: region,
// birth date and GB 11643 check character.
func (s *scan) residentID(ds string) bool {
	if !s.d.regions[atoi(ds[:2])] {
		return false
	}
	y, m, d := atoi(ds[6:10]), atoi(ds[10:12]), atoi(ds[12:14])
	if y < 1900 || y > s.d.maxYear || !validDate(y, m, d) {
		return false
	}
	return idCheckChar(ds) == ds[17]
}

// legacyID checks a 15-digit first-generation resident identity number:
// region and a YYMMDD birth date in the 1900s.
func (s *scan) legacyID(ds string) bool {
	if !s.d.regions[atoi(ds[:2])] {
		return false
	}
	return validDate(1900+atoi(ds[6:8]), atoi(ds[8:10]), atoi(ds[10:12]))
}

// passport checks letters norm[k:i] glued to digits norm[i:j]: a Chinese
// passport (E or G and eight digits, E, a letter and seven digits), or any
// one or two letters and six to nine digits next to a passport keyword.
func (s *scan) passport(k, i, j int) {
	norm := s.norm
	if j < len(norm) && isAlnum(norm[j]) {
		return
	}
	letters, nd := norm[k:i], j-i
	kw := s.near(setPassport, k, j, kwWindow)
	cn := len(letters) == 1 && (letters == "e" || letters == "g") && nd == 8 ||
		len(letters) == 2 && letters[0] == 'e' && nd == 7
	switch {
	case cn:
		s.add("passport", detectors.High, pick(kw, 0.95, 0.75), k, j, "")
	case kw && nd >= 6 && nd <= 9:
		s.add("passport", detectors.High, 0.85, k, j, "")
	}
}
