package privacy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Public service numbers
//
// A customer who threatens "打12315投诉你们" quotes the consumer complaints
// hotline, and an agent who writes "请拨打400-820-8820" or "支付宝客服95188"
// gives a company's line: these numbers are nobody's private data, and
// masking them (*2315) hides what a supervisor needs to read. They are
// short numbers of fixed shapes that no personal number shares in mainland
// China:
//
//   - emergency and special services, three digits: 110, 112, 114, 119,
//     120, 122;
//   - carriers' service numbers, 100xx: 10000, 10010, 10086, 10099 …;
//   - government service hotlines, 121xx and 123xx: 12121, 12306, 12315,
//     12345, 12366 …;
//   - bank and service short numbers, 95xxx and 96xxx (five digits:
//     95188, 95588, 96166);
//   - corporate lines, 400 or 800 and seven digits (400-820-8820).
//
// The other markets' toll-free lines are companies' lines too, and no
// personal number takes their shapes: Taiwan's 0800 and 0809 and the UK's
// 0800 and 0808 (six or seven digits after the prefix: 0800-211-111), Hong
// Kong's 800 and six digits (800 908 888), with +886 or +852 before them,
// and North America's 800, 833, 844, 855, 866, 877 and 888 after +1 (+1
// 888 555 0199). Without the +, 1 800 … and 1 888 … are left alone: 180
// and 188 begin mainland mobiles. (Taiwan's 1950 and Hong Kong's 1823 have
// four digits, fewer than any private number: nobody takes them for one.)
//
// Each may carry the country code (+86 400 820 8820, 0086…), and the short
// ones a city's area code, as callers from another city dial them
// (0571-12345, 021-96166). Longer 95/96 numbers (951xxxxx) are left to the
// lexicon's business_number_prefixes: at eight digits they take the shape
// of a Hong Kong or Singapore mobile, which a last-line masker must not
// leave in clear.

// PublicNumber reports whether s, one number as written, is a public
// service number (see above) rather than a private one. Digits may be
// written in any form the normalizer folds: ASCII, full-width, other
// scripts' decimal digits, Chinese numerals (一二三, 幺, 两, 〇, capital
// 壹贰叁); they may be split by spaces, dashes, dots and zero-width
// characters, and a + may lead. Anything else in s makes it no number, and
// PublicNumber reports false. It does not allocate.
func PublicNumber(s string) bool {
	var buf [16]byte
	ds, plus := buf[:0], false
	for i, r := range s {
		if d, ok := decimalValue(r); ok {
			if len(ds) == len(buf) {
				return false // longer than any public number
			}
			ds = append(ds, byte('0'+d))
			continue
		}
		switch {
		case (r == '+' || r == '＋') && i == 0:
			plus = true
		case numberSep(r):
		default:
			return false
		}
	}
	return publicDigits(string(ds), plus)
}

// publicDigits reports whether ds, ASCII digits only, is a public service
// number, bare or after a country or area code; plus reports a + before
// ds. A bare 86 counts as the country code only before a ten-digit 400/800
// line: 861 2345 may be a seven-digit local number.
func publicDigits(ds string, plus bool) bool {
	if publicNational(ds) {
		return true
	}
	if rest, ok := strings.CutPrefix(ds, "0086"); ok && publicNational(rest) {
		return true
	}
	if rest, ok := strings.CutPrefix(ds, "86"); ok && publicNational(rest) && (plus || len(rest) == 10) {
		return true
	}
	if code := areaCode(ds); code > 0 && len(ds)-code == 5 && publicShort(ds[code:]) {
		return true
	}
	return tollFree(ds, plus)
}

// tollFree reports a toll-free line of Taiwan, Hong Kong, the UK or North
// America (see above); plus reports a + before ds.
func tollFree(ds string, plus bool) bool {
	if !isDigitString(ds) {
		return false
	}
	switch n := len(ds); {
	case (n == 10 || n == 11) && (ds[:4] == "0800" || ds[:4] == "0808" || ds[:4] == "0809"):
		return true
	case n == 9 && ds[:3] == "800":
		return true
	case plus && n == 12 && (ds[:3] == "886" || ds[:3] == "852") && ds[3:6] == "800":
		return true
	case plus && n == 11 && ds[0] == '1':
		return nanpTollFree(ds[1:4])
	}
	return false
}

// nanpTollFree reports whether area, three ASCII digits, is a North
// American toll-free code: 800, 833, 844, 855, 866, 877 or 888.
func nanpTollFree(area string) bool {
	return len(area) == 3 && area[0] == '8' && area[1] == area[2] && strings.IndexByte("0345678", area[1]) >= 0
}

// publicNational reports a public service number as dialled within the
// country: a short one or a 400/800 corporate line.
func publicNational(ds string) bool {
	if len(ds) == 10 {
		return (ds[:3] == "400" || ds[:3] == "800") && isDigitString(ds)
	}
	return publicShort(ds)
}

// publicShort reports the three- and five-digit service numbers.
func publicShort(ds string) bool {
	switch len(ds) {
	case 3:
		switch ds {
		case "110", "112", "114", "119", "120", "122":
			return true
		}
	case 5:
		if !isDigitString(ds) {
			return false
		}
		switch ds[:3] {
		case "100", "121", "123":
			return true
		}
		return ds[:2] == "95" || ds[:2] == "96"
	}
	return false
}

// areaCode returns the length of the mainland area code (with its trunk 0)
// that ds starts with: 010 and 02X are three digits, 0[3-9]XX four; 0 when
// ds starts with none.
func areaCode(ds string) int {
	if len(ds) < 4 || ds[0] != '0' || !isDigit(ds[1]) {
		return 0
	}
	switch ds[1] {
	case '0':
		return 0
	case '1':
		if ds[2] != '0' {
			return 0
		}
		return 3
	case '2':
		return 3
	}
	return 4
}

// decimalValue returns the value of r when it writes a decimal digit: ASCII,
// full-width, any other script's decimal digit (Unicode Nd, which comes in
// runs of ten from zero), or a Chinese numeral as numbers are spelled out.
func decimalValue(r rune) (int, bool) {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0'), true
	case r < utf8.RuneSelf:
		return 0, false
	case r >= '０' && r <= '９':
		return int(r - '０'), true
	case unicode.Is(unicode.Nd, r):
		// Decimal digits are encoded in runs of ten, zero first: count
		// back to the run's start.
		k := 0
		for k < 100 && unicode.Is(unicode.Nd, r-rune(k)-1) {
			k++
		}
		return k % 10, true
	}
	switch r {
	case '〇', '零':
		return 0, true
	case '一', '幺', '壹':
		return 1, true
	case '二', '两', '兩', '贰', '貳':
		return 2, true
	case '三', '叁', '參':
		return 3, true
	case '四', '肆':
		return 4, true
	case '五', '伍':
		return 5, true
	case '六', '陆', '陸':
		return 6, true
	case '七', '柒':
		return 7, true
	case '八', '捌':
		return 8, true
	case '九', '玖':
		return 9, true
	}
	return 0, false
}

// numberSep reports whether r may separate the digits of one written
// number: white space, dashes, dots and zero-width or other format
// characters.
func numberSep(r rune) bool {
	switch r {
	case ' ', '-', '.', '\u00b7', '\u2212', '\u30fb', '\uff0d', '\uff0e', '\uff65':
		return true
	}
	if r < utf8.RuneSelf {
		return r == '\t'
	}
	return r >= '\u2010' && r <= '\u2015' || unicode.In(r, unicode.Zs, unicode.Cf)
}
