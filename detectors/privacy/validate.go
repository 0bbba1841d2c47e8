package privacy

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// luhn reports whether the digit string ds passes the Luhn (mod 10) check
// used by payment cards (ISO/IEC 7812-1).
func luhn(ds string) bool {
	sum, double := 0, false
	for i := len(ds) - 1; i >= 0; i-- {
		d := int(ds[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// idWeights are the GB 11643-1999 weights of the first 17 digits.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChar returns the GB 11643-1999 check character of the first 17
// digits of a resident identity number ('0'-'9' or 'x').
func idCheckChar(ds string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(ds[i]-'0') * idWeights[i]
	}
	return "10x98765432"[sum%11]
}

// validDate reports whether year-month-day is a real calendar date.
func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && (y%4 == 0 && y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// validSSN reports whether the nine digits ds can be a US social security
// number: area not 000, 666 or 9xx, group not 00, serial not 0000.
func validSSN(ds string) bool {
	area, group, serial := ds[:3], ds[3:5], ds[5:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// validNANP reports whether the ten digits ds are a geographic North
// American number: area code and exchange both [2-9]XX, not N11, and the
// area code not a non-geographic N00 or toll-free 8XX code (a business
// line, not a person's).
func validNANP(ds string) bool {
	if ds[0] < '2' || ds[3] < '2' {
		return false
	}
	if ds[1] == '1' && ds[2] == '1' || ds[4] == '1' && ds[5] == '1' {
		return false
	}
	if ds[1] == '0' && ds[2] == '0' || ds[1] == '9' {
		return false // N00 and N9X are not assigned to areas
	}
	if ds[0] == '8' && ds[1] == ds[2] && ds[1] >= '3' && ds[1] <= '8' {
		return false // toll free 833 … 888
	}
	return true
}

// mobileTable marks the five-digit prefixes 10000-19999 that begin a valid
// mainland Chinese mobile number, as libphonenumber's metadata says.
type mobileTable [10000]bool

// cnMobile is derived once per process from libphonenumber: probing costs
// about a tenth of a second and the answer never changes for a build.
var cnMobile = sync.OnceValue(buildMobileTable)

// buildMobileTable asks libphonenumber about probe numbers: a four-digit
// prefix whose probes all agree is decided at once; a mixed one is refined
// to five digits.
func buildMobileTable() *mobileTable {
	var t mobileTable
	var p phonenumbers.PhoneNumber
	mobile := func(n string) bool {
		if err := phonenumbers.ParseToNumber(n, "CN", &p); err != nil {
			return false
		}
		return phonenumbers.IsValidNumber(&p) && phonenumbers.GetNumberType(&p) == phonenumbers.MOBILE
	}
	suffixes := [...]string{"0000000", "5555555", "9999999", "3141592"}
	buf := make([]byte, 0, 11)
	for p4 := 1300; p4 < 2000; p4++ {
		buf = appendInt(buf[:0], p4)
		valid := 0
		for _, s := range suffixes {
			if mobile(string(append(buf, s...))) {
				valid++
			}
		}
		switch valid {
		case 0:
			continue
		case len(suffixes):
			for k := 0; k < 10; k++ {
				t[(p4*10+k)-10000] = true
			}
			continue
		}
		for k := 0; k < 10; k++ {
			p5 := p4*10 + k
			b5 := appendInt(buf[:0], p5)
			for _, s := range suffixes {
				if mobile(string(append(b5, s[1:]...))) {
					t[p5-10000] = true
					break
				}
			}
		}
	}
	return &t
}

func appendInt(b []byte, n int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// validInternational reports whether +digits is a valid number for
// libphonenumber, and whether it is a mobile (or may be one).
func validInternational(digits string) (valid, mobile bool) {
	p, err := phonenumbers.Parse("+"+digits, "ZZ")
	if err != nil || !phonenumbers.IsValidNumber(p) {
		return false, false
	}
	switch phonenumbers.GetNumberType(p) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.PERSONAL_NUMBER:
		return true, true
	case phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.UAN:
		return false, false
	}
	return true, false
}
