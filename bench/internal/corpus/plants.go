package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// Plant is a phrase carrying one private value: the phrase, the privacy
// kind of the value (phone, id_card, bank_card, email) and the value's span
// in the phrase, in code points.
type Plant struct {
	Text       string
	Kind       string
	Start, End int
}

// Value returns the planted value: Text's code points Start to End.
func (p Plant) Value() string {
	r := []rune(p.Text)
	return string(r[p.Start:p.End])
}

// privacyTemplates hold one %s for the value, by language and kind.
var privacyTemplates = map[string]map[string][]string{
	"zh": {
		"phone":     {"您的手机号 %s 已登记", "收货人电话：%s", "我们会通过 %s 联系您确认地址"},
		"id_card":   {"您的身份证号 %s 已核验", "请核对身份证号码：%s", "登记的证件号是%s"},
		"bank_card": {"退款将原路退回到您尾号对应的银行卡 %s", "卡号 %s 已绑定", "您提供的银行卡号%s已登记"},
	},
	"en": {
		"phone":     {"your phone number %s is on file", "we will call you back on %s", "the contact number we have is %s"},
		"email":     {"we sent the receipt to %s", "your account email is %s"},
		"bank_card": {"the refund goes back to card %s", "the card number on file is %s"},
	},
}

// PrivacyPlant returns a phrase in lang ("zh" or "en") with a fresh,
// well-formed private value of a random kind: a mainland mobile number, a
// resident ID number (GB 11643 checksum) or a bank card (Luhn) in Chinese;
// a North American phone number, an e-mail address or a card in English.
func PrivacyPlant(r *rand.Rand, lang string) Plant {
	byKind := privacyTemplates[lang]
	if byKind == nil {
		byKind = privacyTemplates["en"]
		lang = "en"
	}
	kinds := make([]string, 0, len(byKind))
	for _, k := range []string{"phone", "id_card", "bank_card", "email"} {
		if _, ok := byKind[k]; ok {
			kinds = append(kinds, k)
		}
	}
	kind := pick(r, kinds)
	return PrivacyPlantOf(r, lang, kind)
}

// PrivacyPlantOf is PrivacyPlant for a given kind; it panics on a kind the
// language has no template for (a programming error).
func PrivacyPlantOf(r *rand.Rand, lang, kind string) Plant {
	tmpls, ok := privacyTemplates[lang][kind]
	if !ok {
		panic(fmt.Sprintf("corpus: no %s template for %s", lang, kind))
	}
	var v string
	switch {
	case kind == "phone" && lang == "zh":
		v = CNMobile(r)
	case kind == "phone":
		v = NANPPhone(r)
	case kind == "id_card":
		v = ResidentID(r)
	case kind == "bank_card" && lang == "zh":
		v = BankCard(r, pick(r, []string{"622202", "621700", "622848", "621483"}), pick(r, []int{16, 19}))
	case kind == "bank_card":
		v = BankCard(r, pick(r, []string{"4", "51", "37"}), 16)
	case kind == "email":
		v = Email(r)
	}
	t := pick(r, tmpls)
	i := strings.Index(t, "%s")
	start := utf8.RuneCountInString(t[:i])
	return Plant{Text: fmt.Sprintf(t, v), Kind: kind, Start: start, End: start + utf8.RuneCountInString(v)}
}

// PlantPrivacyText is the text of PrivacyPlant.
func PlantPrivacyText(r *rand.Rand, lang string) string { return PrivacyPlant(r, lang).Text }

var cnMobilePrefixes = []string{"130", "135", "136", "138", "139", "150", "151", "158", "177", "186", "187", "188", "189", "199"}

// CNMobile returns a mainland mobile number, written plain, in 3-4-4
// groups or with dashes.
func CNMobile(r *rand.Rand) string {
	p, a, b := pick(r, cnMobilePrefixes), r.IntN(10000), r.IntN(10000)
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("%s%04d%04d", p, a, b)
	case 1:
		return fmt.Sprintf("%s %04d %04d", p, a, b)
	}
	return fmt.Sprintf("%s-%04d-%04d", p, a, b)
}

// NANPPhone returns a geographic North American number such as
// (415) 555-0134 or 415-555-0134.
func NANPPhone(r *rand.Rand) string {
	area := pick(r, []string{"415", "212", "312", "646", "720", "503", "617", "206"})
	exch := fmt.Sprintf("%d%02d", 2+r.IntN(8), r.IntN(100))
	if exch[1:] == "11" {
		exch = exch[:1] + "23"
	}
	line := r.IntN(10000)
	if r.IntN(2) == 0 {
		return fmt.Sprintf("(%s) %s-%04d", area, exch, line)
	}
	return fmt.Sprintf("%s-%s-%04d", area, exch, line)
}

var idRegions = []string{"110101", "310104", "440305", "330106", "510107", "420102", "320102"}

// ResidentID returns an 18-character PRC resident identity number with a
// real region, a birth date between 1960 and 2004 and a valid GB 11643
// check character.
func ResidentID(r *rand.Rand) string {
	y, m := 1960+r.IntN(45), 1+r.IntN(12)
	d := 1 + r.IntN(28)
	body := fmt.Sprintf("%s%04d%02d%02d%03d", pick(r, idRegions), y, m, d, r.IntN(1000))
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(body[i]-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

// BankCard returns a card number of n digits starting with prefix and
// ending in its Luhn check digit, plain or in groups of four.
func BankCard(r *rand.Rand, prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < n-1 {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	ds := b.String()
	ds += string(byte('0' + luhnCheck(ds)))
	if r.IntN(2) == 0 {
		return ds
	}
	var g strings.Builder
	for i := 0; i < len(ds); i += 4 {
		if i > 0 {
			g.WriteByte(' ')
		}
		g.WriteString(ds[i:min(i+4, len(ds))])
	}
	return g.String()
}

// luhnCheck returns the digit that makes ds plus it pass the Luhn check.
func luhnCheck(ds string) int {
	sum, double := 0, true // the check digit will be the rightmost, undoubled
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
	return (10 - sum%10) % 10
}

// Email returns a personal-looking e-mail address.
func Email(r *rand.Rand) string {
	first := pick(r, []string{"john", "mary", "li.wei", "anna", "tom", "zhang.min", "peter"})
	return fmt.Sprintf("%s%d@%s", first, r.IntN(1000), pick(r, []string{"gmail.com", "outlook.com", "qq.com", "163.com", "yahoo.co.uk"}))
}

// rudePhrases are rude or impatient replies an agent should never send.
var rudePhrases = map[string][]string{
	"zh": {"你是不是傻，看不懂字吗", "爱买不买", "你有病吧，说了多少遍了", "烦不烦啊，自己看说明"},
	"en": {"Are you stupid? Read my previous message.", "That's a dumb question, read the page."},
}

// diversionPlants build invitations to move the customer off-platform;
// each returns the phrase and the handle it gives (WeChat id, QQ number,
// phone, Telegram name).
var diversionPlants = map[string][]func(*rand.Rand) (text, handle string){
	"zh": {
		func(r *rand.Rand) (string, string) {
			h := "wxid_" + token(r, 6)
			return "加我微信 " + h + " 私聊", h
		},
		func(r *rand.Rand) (string, string) {
			h := token(r, 8)
			return "亲，加我V信 " + h + " 给您便宜点", h
		},
		func(r *rand.Rand) (string, string) {
			h := fmt.Sprint(10000000 + r.IntN(90000000))
			return "加QQ " + h + " 详聊", h
		},
	},
	"en": {
		func(r *rand.Rand) (string, string) { h := NANPPhone(r); return "add me on WhatsApp " + h, h },
		func(r *rand.Rand) (string, string) { h := "@" + token(r, 7); return "text me on telegram " + h, h },
	},
}

// DiversionPlant returns an off-platform invitation in lang and the handle
// it gives.
func DiversionPlant(r *rand.Rand, lang string) (text, handle string) {
	b := diversionPlants[lang]
	if b == nil {
		b = diversionPlants["en"]
	}
	return pick(r, b)(r)
}

func token(r *rand.Rand, n int) string {
	const alnum = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}
