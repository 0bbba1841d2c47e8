package privacy

import (
	"strings"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/textscan"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// maxAddress is how far (in bytes of normalized text) a Chinese address may
// run from its first administrative name.
const maxAddress = 120

// addresses finds Chinese addresses (a province or city, then a road and a
// house number) and English street addresses (a number, a street name and a
// street type). A building-level address is low severity (shops and hotels
// give theirs); one with a flat or unit, a ZIP code, or a personal keyword
// (收货地址, ship to) is medium. An address labelled as the shop's own
// (门店地址, 退货地址, "our warehouse at") is nobody's private data and is
// not reported.
func (s *scan) addresses() {
	last := -1
	for _, h := range s.hits {
		if h.Start < last {
			continue
		}
		switch h.Set {
		case setRegions:
			last = s.chineseAddress(h.Start, h.Start)
		case setPersonal:
			if r, _ := utf8.DecodeRuneInString(s.norm[h.Start:]); r >= 0x3400 {
				p := h.End
				for p < len(s.norm) && (s.norm[p] == ':' || s.norm[p] == ' ') {
					p++
				}
				if strings.HasPrefix(s.norm[p:], "是") {
					p += len("是")
				}
				last = s.chineseAddress(p, h.Start)
			}
		case setStreet:
			last = s.englishAddress(h.Start, h.End)
		}
	}
}

// chineseAddress scans an address starting at a; kw is where the context
// (a region name or personal keyword) starts. It returns the end of what it
// reported, or a.
func (s *scan) chineseAddress(a, kw int) int {
	norm := s.norm
	var road, number, unit bool
	end := -1
	prevDigit := false
	for p := a; p < len(norm) && p-a < maxAddress; {
		r, size := utf8.DecodeRuneInString(norm[p:])
		switch {
		case r < utf8.RuneSelf && (isAlnum(byte(r)) || r == ' ' || r == '-' || r == '#' || r == '(' || r == ')'):
		case normalize.IsHan(r):
		default:
			p = len(norm) // punctuation ends the address
			continue
		}
		digit := r < utf8.RuneSelf && isDigit(byte(r)) || chineseNumeral(r)
		switch r {
		case '路', '街', '巷', '弄', '道', '胡', '村':
			road = true
		case '号', '栋', '幢', '单', '室', '层', '组', '楼':
			if prevDigit {
				number, end = true, p+size
				switch r {
				case '室', '单':
					unit = true
					if r == '单' && strings.HasPrefix(norm[p+size:], "元") {
						end += len("元")
					}
				}
			}
		}
		if digit || r == ' ' && prevDigit {
			prevDigit = true
		} else {
			prevDigit = false
		}
		p += size
	}
	if !number || !road && !unit {
		return a
	}
	if s.businessLabelled(a) {
		return end
	}
	sev, score := detectors.Low, 0.6
	if unit || s.personalBefore(kw) {
		sev, score = detectors.Medium, 0.85
	}
	s.add("address", sev, score, a, end, "")
	return end
}

// personalBefore reports whether a personal address keyword stands at or
// shortly before nb.
func (s *scan) personalBefore(nb int) bool {
	for _, h := range s.hits {
		if h.Start > nb {
			break
		}
		if h.Set == setPersonal && nb-h.Start <= 40 {
			return true
		}
	}
	return false
}

// labelWindow is how far (in bytes of normalized text) before an address
// the label that says whose it is may end.
const labelWindow = 40

// businessLabelled reports whether the label nearest before the address
// starting at nb, in its sentence and within labelWindow bytes, names the
// shop's own address (门店地址, 我们的地址, "our warehouse") rather than a
// personal one (收货地址, ship to): "请寄到我们的退货地址：…" is the shop's,
// "门店地址不对，请填您家地址：…" the customer's.
//
// A label inside a longer one is part of it: 寄到 in 退货寄到 does not make
// the return address personal.
func (s *scan) businessLabelled(nb int) bool {
	business, end := false, -1
	for _, h := range s.hits {
		if h.Start >= nb {
			break
		}
		if h.Set != setShopAddr && h.Set != setPersonal || h.End > nb || nb-h.End > labelWindow || h.End <= end || textscan.HasBreak(s.norm[h.End:nb], false) {
			continue
		}
		business, end = h.Set == setShopAddr, h.End // a later label overrides an earlier one
	}
	return business
}

func chineseNumeral(r rune) bool {
	return strings.ContainsRune("一二三四五六七八九十零〇两百甲乙丙", r)
}

// englishAddress checks the street type at norm[ss:se] for a house number
// and a street name before it, and a unit or ZIP code after it.
func (s *scan) englishAddress(ss, se int) int {
	norm := s.norm
	// Walk back over at most four name words to the house number.
	p := ss
	words := 0
	num := -1
	for words <= 4 {
		for p > 0 && norm[p-1] == ' ' {
			p--
		}
		q := p
		for q > 0 && isAlnum(norm[q-1]) {
			q--
		}
		if q == p {
			break
		}
		w := norm[q:p]
		if isDigit(w[0]) {
			if len(w) <= 6 && (isDigitString(w) || isDigitString(w[:len(w)-1])) && words > 0 {
				num = q
			}
			break
		}
		if s.d.stopwords[w] {
			break
		}
		words++
		p = q
	}
	if num < 0 || num > 0 && isAlnum(norm[num-1]) {
		return ss
	}
	// After the street type: unit, city and ZIP code up to the clause end.
	end := se
	unit, zip := false, false
	for p := se; p < len(norm) && p-se < 60; {
		c := norm[p]
		if c == '.' || c == '!' || c == '?' || c == ';' || c >= utf8.RuneSelf {
			break
		}
		if !isAlnum(c) {
			p++
			continue
		}
		q := p
		for q < len(norm) && isAlnum(norm[q]) {
			q++
		}
		w := norm[p:q]
		switch {
		case s.d.units[w]:
			unit = true
			end = q
		case len(w) == 5 && isDigitString(w):
			zip, end = true, q
		case isDigitString(w) && unit:
			end = q
		}
		if zip {
			break
		}
		p = q
	}
	if s.businessLabelled(num) {
		return end
	}
	sev, score := detectors.Low, 0.6
	if unit || zip || s.personalBefore(num) {
		sev, score = detectors.Medium, 0.85
	}
	s.add("address", sev, score, num, end, "")
	return end
}
