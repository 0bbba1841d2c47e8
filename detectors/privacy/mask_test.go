package privacy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// redact runs Detect then Redact, as the gateway does.
func redact(tb testing.TB, d *Detector, s string) string {
	tb.Helper()
	t := normalize.Default().Normalize(s)
	return d.Redact(t, d.Detect(t, nil))
}

// TestRedactDigitForms replays what an attacker sent through the gateway:
// private values written in every digit form the normalizer reads, which the
// detector found and the old masking left in clear or mangled.
func TestRedactDigitForms(t *testing.T) {
	d := detectortest.Build(t, Default)
	for _, tt := range []struct{ name, in, want string }{
		{"chinese numerals", "我的电话一三八一二三四五六七八", "我的电话一三八****五六七八"},
		{"circled", "①③⑧①②③④⑤⑥⑦⑧", "①③⑧****⑤⑥⑦⑧"},
		{"superscript", "¹³⁸¹²³⁴⁵⁶⁷⁸", "¹³⁸****⁵⁶⁷⁸"},
		{"capital numerals", "电话壹叁捌壹贰叁肆伍陆柒捌", "电话壹叁捌****伍陆柒捌"},
		{"capital with ling", "电话壹叁捌零零零零伍陆柒捌", "电话壹叁捌****伍陆柒捌"},
		{"mixed forms", "1三8一2三4五6七8", "1三8****五6七8"},
		{"parenthesized", "手机⑴⑶⑻⑴⑵⑶⑷⑸⑹⑺⑻", "手机⑴⑶⑻****⑸⑹⑺⑻"},
		{"mathematical", "手机𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "手机𝟏𝟑𝟖****𝟓𝟔𝟕𝟖"},
		{"keycaps", "1️⃣3️⃣8️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣", "1️⃣3️⃣8****️⃣5️⃣6️⃣7️⃣8️⃣"},
		{"emoji separators", "电话138😀1234😀5678", "电话138😀****😀5678"},
		{"zero width inside", "电话138\u200b1234\u200b5678", "电话138****\u200b5678"},
		{"nul inside", "电话138\x001234\x005678", "电话138****\x005678"},
		{"full-width id", "身份证１１０１０１１９９００３０７４５１４", "身份证１１０１**********４５１４"},
		{"id in chinese numerals", "身份证一一〇一〇一一九九〇〇三〇七四五一四", "身份证一一〇一**********四五一四"},
		{"card capital numerals", "卡号陆贰贰贰零贰壹贰叁肆伍陆柒捌玖零壹贰捌", "卡号陆贰贰贰***********零壹贰捌"},
		{"email bracket at", "邮箱 zhangsan[at]example.com 谢谢", "邮箱 z***[at]example.com 谢谢"},
		{"email paren at dot", "zhangsan(at)example(dot)com", "z***(at)example(dot)com"},
		{"email spelled", "mail zhangsan at example dot com now", "mail z*** at example dot com now"},
		{"email aite dian", "邮箱zhangsan艾特qq点com", "邮箱z***艾特qq点com"},
		{"email full-width at", "邮箱zhangsan＠qq.com", "邮箱z***＠qq.com"},
		{"email digits in numerals", "邮箱 li一二三四五六@qq.com", "邮箱 l***@qq.com"},
		{"email glued", "my email is sofiagmailcom", "my email is s***gmailcom"},
		{"email glued with number", "murali 67 gmailcom", "m*** gmailcom"},
		{"credential in numerals", "验证码是四八二九一三", "验证码是******"},
		{"credential first", "482913 is your verification code", "****** is your verification code"},
		{"plain phone unchanged", "您的手机 138 1234 5678 已登记", "您的手机 138 **** 5678 已登记"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact(t, d, tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestMaskForms checks Mask on bare strings (replay and evidence use it):
// it normalizes them itself, so every digit form is a digit.
func TestMaskForms(t *testing.T) {
	for _, tt := range []struct{ kind, in, want string }{
		{"phone", "一三八一二三四五六七八", "一三八****五六七八"},
		{"phone", "１３８-１２３４-５６７８", "１３８-****-５６７８"},
		{"id_card", "壹壹零壹零壹壹玖玖零零叁零柒肆伍壹肆", "壹壹零壹**********肆伍壹肆"},
		{"bank_card", "⑥⑵⑵⑵ ０２１２ 3456 七八九〇", "⑥⑵⑵⑵ **** **** 七八九〇"},
		{"email", "zhangsan[at]example.com", "z***[at]example.com"},
		{"", "order 一三八一二三四五六七八", "order *******五六七八"},
		{"", "order 13812345678", "order *******5678"},
		{"credential", "验证码 四八二九一三", "验证码 ******"},
	} {
		if got := Mask(tt.kind, tt.in); got != tt.want {
			t.Errorf("Mask(%q, %q) = %q, want %q", tt.kind, tt.in, got, tt.want)
		}
	}
}

// TestLongRuns replays numbers hidden in runs past the old length and group
// caps: several phones in a row, a phone or an ID padded with zeros. Each
// must be found and masked down to the run's last four digits.
func TestLongRuns(t *testing.T) {
	d := detectortest.Build(t, Default)
	phones := []string{"13812345678", "13912345678", "13712345678", "13612345678", "13512345678", "15012345678", "18612345678", "19912345678"}
	for _, tt := range []struct {
		name, in string
		kind     string
		want     string // the redacted text; "" to check only that no value is left
	}{
		{"eight phones spaced", strings.Join(phones, " "), "phone", strings.Repeat("*********** ", 7) + "*******5678"},
		{"eight phones glued", strings.Join(phones, ""), "phone", strings.Repeat("*", 84) + "5678"},
		{"two phones glued", "电话1381234567813912345678", "phone", "电话" + strings.Repeat("*", 18) + "5678"},
		{"two phones spaced", "13812345678 13912345678", "phone", "*********** *******5678"},
		{"two phones apart", "13812345678，13912345678", "phone", "138****5678，139****5678"},
		{"phone and 70 zeros", "电话13812345678" + strings.Repeat(" 0", 70), "phone", "电话***********" + strings.Repeat(" *", 66) + " 0 0 0 0"},
		{"phone and 70 zeros glued", "13812345678" + strings.Repeat("0", 70), "phone", strings.Repeat("*", 77) + "0000"},
		{"phone in 20 groups", "1 3 8 1 2 3 4 5 6 7 8 0 0 0 0 0 0 0 0 0", "phone", strings.Repeat("* ", 16) + "0 0 0 0"},
		{"id padded", "身份证1101011990030745140000000", "id_card", "身份证" + strings.Repeat("*", 21) + "0000"},
		{"id padded two digits", "身份证11010119900307451400", "id_card", "身份证" + strings.Repeat("*", 16) + "1400"},
		{"id after padding", "0000000000110101199003074514", "id_card", strings.Repeat("*", 24) + "4514"},
		{"card in a long run", "卡号6222021234567890128" + strings.Repeat("0", 90), "bank_card", ""},
		{"phone in a data dump", strings.Repeat("0", 500) + "13812345678" + strings.Repeat("0", 500), "phone", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx := normalize.Default().Normalize(tt.in)
			fs := d.Detect(tx, nil)
			if len(fs) == 0 || fs[0].Kind != tt.kind {
				t.Fatalf("Detect(%.60q) = %v, want %s", tt.in, kindsOf(fs), tt.kind)
			}
			got := d.Redact(tx, fs)
			if tt.want != "" && got != tt.want {
				t.Errorf("Redact(%.60q) =\n%q, want\n%q", tt.in, got, tt.want)
			}
			if run := longestDigitRun(normalize.Default().Normalize(got).Norm); run > 4 {
				t.Errorf("Redact(%.60q) = %.80q leaves %d digits in a row", tt.in, got, run)
			}
			if n := countDigitLike(got); n > 4 && tt.want == "" {
				t.Errorf("Redact(%.60q) leaves %d digits in clear, want the last four", tt.in, n)
			}
		})
	}
	// A long run of digits with no valid number in it is not private data.
	for _, in := range []string{strings.Repeat("0", 200), strings.Repeat("1", 10000), "20240101000000000000000000"} {
		if fs := detect(t, d, in); len(fs) != 0 {
			t.Errorf("Detect(%.40q) = %v, want none", in, kindsOf(fs))
		}
	}
}

func longestDigitRun(s string) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// digitForms are the ways real chats and attackers write the digits 0-9,
// written down here independently of the normalizer's tables.
var digitForms = [][]rune{
	[]rune("0123456789"),
	[]rune("０１２３４５６７８９"),
	[]rune("⓪①②③④⑤⑥⑦⑧⑨"),
	[]rune("⓪⑴⑵⑶⑷⑸⑹⑺⑻⑼"),
	[]rune("⁰¹²³⁴⁵⁶⁷⁸⁹"),
	[]rune("〇一二三四五六七八九"),
	[]rune("零壹贰叁肆伍陆柒捌玖"),
	[]rune("𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"),
	[]rune("⓿❶❷❸❹❺❻❼❽❾"),
}

// digitValue returns the digit r stands for in any of digitForms, or -1.
func digitValue(r rune) int {
	for _, f := range digitForms {
		for v, c := range f {
			if c == r {
				return v
			}
		}
	}
	if r == '幺' {
		return 1
	}
	if r == '两' {
		return 2
	}
	if unicode.IsDigit(r) {
		return 10 // a digit in some other script: counted, value unknown
	}
	return -1
}

func countDigitLike(s string) int {
	n := 0
	for _, r := range s {
		if digitValue(r) >= 0 {
			n++
		}
	}
	return n
}

// separators are what people put between the digits of a number.
var separators = []string{"", "", "", " ", "-", ".", " - ", "\u200b", "\x00", "\u2060", "😀", "\U000E0020", "\ufeff", "·"}

// writeDigits writes the ASCII digits ds in random forms, mixed or not, with
// random separators between them.
func writeDigits(r *rand.Rand, ds string, sepAllowed bool) string {
	var b strings.Builder
	form := digitForms[r.IntN(len(digitForms))]
	mixed := r.IntN(3) == 0
	sep := separators[r.IntN(len(separators))]
	for i, c := range ds {
		if i > 0 && sepAllowed && r.IntN(4) == 0 {
			if r.IntN(2) == 0 {
				sep = separators[r.IntN(len(separators))]
			}
			b.WriteString(sep)
		}
		if mixed {
			form = digitForms[r.IntN(len(digitForms))]
		}
		if c == 'X' {
			b.WriteString([]string{"X", "x", "Ｘ"}[r.IntN(3)])
			continue
		}
		b.WriteRune(form[c-'0'])
	}
	return b.String()
}

// planted is a private value written in some form inside a message.
type planted struct {
	kind    string
	digits  string // the value's digits, ASCII (X for an ID's check char)
	text    string // the whole message
	visible int    // digits that may stay in clear
	user    string // for an email, the user part's letters after the first
}

func plant(r *rand.Rand) planted {
	switch r.IntN(4) {
	case 0:
		ds := genMobile(r)
		tmpl := []string{"我的电话%s，谢谢", "手机%s", "亲，麻烦联系%s哦", "call me on %s please"}[r.IntN(4)]
		return planted{kind: "phone", digits: ds, text: fmt.Sprintf(tmpl, writeDigits(r, ds, true)), visible: 7}
	case 1:
		ds := genID(r)
		// No separator before the check character: a lone X is a letter.
		body := writeDigits(r, ds[:17], true) + writeDigits(r, ds[17:], false)
		tmpl := []string{"身份证号%s", "证件号码：%s，请核对", "身份證%s"}[r.IntN(3)]
		return planted{kind: "id_card", digits: ds, text: fmt.Sprintf(tmpl, body), visible: 8}
	case 2:
		ds := genCard(r, "62", 16+r.IntN(4))
		tmpl := []string{"卡号%s", "退款到银行卡%s", "card number %s"}[r.IntN(3)]
		return planted{kind: "bank_card", digits: ds, text: fmt.Sprintf(tmpl, writeDigits(r, ds, true)), visible: 8}
	default:
		names := []string{"zhangsan", "lisi", "wangwu", "john", "sofia"}
		name := names[r.IntN(len(names))]
		ds := fmt.Sprintf("%d", 1000+r.IntN(9000000))
		at := []string{"@", "＠", "[at]", "(at)", " at ", "艾特"}[r.IntN(6)]
		dot := []string{".", " dot ", "(dot)", "点"}[r.IntN(4)]
		if at == " at " && dot != " dot " {
			dot = " dot "
		}
		dom := []string{"example", "gmail", "qq", "outlook"}[r.IntN(4)]
		user := name + writeDigits(r, ds, false)
		tmpl := []string{"邮箱 %s 谢谢", "my email is %s", "发到%s吧"}[r.IntN(3)]
		return planted{kind: "email", digits: ds, text: fmt.Sprintf(tmpl, user+at+dom+dot+"com"), user: name[1:]}
	}
}

// checkRedacted asserts the masking property for one planted value: the
// redacted text shows at most the allowed digits of the value, only its
// first and last ones, never more than four in a row in any form, and
// nothing of an email's user part but its first letter.
func checkRedacted(t *testing.T, d *Detector, p planted) {
	t.Helper()
	got := redact(t, d, p.text)
	var seen []int
	for _, r := range got {
		if v := digitValue(r); v >= 0 {
			seen = append(seen, v)
		}
	}
	if len(seen) > p.visible {
		t.Fatalf("%s %q redacted to %q: %d digits in clear, want at most %d", p.kind, p.text, got, len(seen), p.visible)
	}
	// The digits shown are a prefix and a suffix of the value.
	want := []int{}
	for _, c := range p.digits {
		if c != 'X' { // the check character is a letter, not counted
			want = append(want, int(c-'0'))
		}
	}
	ok := false
	for a := 0; a <= len(seen) && !ok; a++ {
		b := len(seen) - a
		ok = a <= len(want) && b <= len(want)-a &&
			fmt.Sprint(seen[:a]) == fmt.Sprint(want[:a]) && fmt.Sprint(seen[a:]) == fmt.Sprint(want[len(want)-b:])
	}
	if !ok {
		t.Fatalf("%s %q redacted to %q: digits %v shown are not the value's first and last", p.kind, p.text, got, seen)
	}
	if run := longestDigitRun(normalize.Default().Normalize(got).Norm); run > 4 {
		t.Fatalf("%s %q redacted to %q: %d digits in a row", p.kind, p.text, got, run)
	}
	if p.user != "" && strings.Contains(strings.ToLower(got), p.user) {
		t.Fatalf("email %q redacted to %q: user part %q in clear", p.text, got, p.user)
	}
}

// TestRedactProperty plants phones, IDs, cards and emails in random digit
// forms and separators and checks that no form leaves the value in clear.
func TestRedactProperty(t *testing.T) {
	d := detectortest.Build(t, Default)
	r := rand.New(rand.NewPCG(7, 11))
	for range 3000 {
		checkRedacted(t, d, plant(r))
	}
}

// FuzzRedactValue is TestRedactProperty driven by the fuzzer's seeds.
func FuzzRedactValue(f *testing.F) {
	for i := range uint64(8) {
		f.Add(i, i*7919)
	}
	d := detectortest.Build(f, Default)
	f.Fuzz(func(t *testing.T, a, b uint64) {
		checkRedacted(t, d, plant(rand.New(rand.NewPCG(a, b))))
	})
}

// harmful are drafts each detector family flags; inserting an invisible code
// point must not remove a privacy finding from them.
var harmful = []string{
	"电话13812345678", "您的手机 138 1234 5678 已登记", "身份证110101199003074514",
	"卡号 6222 0212 3456 7890 128", "my SSN is 123-45-6789", "call me at (415) 555-2671",
	"请发邮件到 zhang.san@example.com 谢谢", "john at gmail dot com", "验证码是 482913",
	"护照E12345678", "车牌京A12345", "收货地址：浙江省杭州市西湖区文三路 90 号",
}

// TestInvisibleKeepsFindings inserts controls, format, private-use and
// unassigned code points at every position of harmful drafts.
func TestInvisibleKeepsFindings(t *testing.T) {
	d := detectortest.Build(t, Default)
	for _, in := range harmful {
		want := strings.Join(kindsOf(detect(t, d, in)), ",")
		if want == "" {
			t.Fatalf("Detect(%q) found nothing", in)
		}
		for _, inv := range []string{"\x00", "\x01", "\x1f", "\x7f", "\u0085", "\ufff9", "\ufffc", "\u200b", "\ue000", "\U00100000", "\u0378", "\ufe0f", "\U000E0041"} {
			for i := range in {
				s := in[:i] + inv + in[i:]
				if got := strings.Join(kindsOf(detect(t, d, s)), ","); got != want {
					t.Errorf("Detect(%q) = %s, want %s", s, got, want)
				}
			}
		}
	}
}

// BenchmarkLongRun shows that a long digit run is scanned in linear time:
// ns/op for 16 KiB is about 16 times that for 1 KiB.
func BenchmarkLongRun(b *testing.B) {
	d := detectortest.Build(b, Default)
	n := normalize.Default()
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, shape := range []struct {
			name string
			unit string
		}{{"zeros", "0"}, {"groups", "1 "}, {"phones", "13812345678"}} {
			text := strings.Repeat(shape.unit, size/len(shape.unit)+1)[:size]
			t := n.Normalize(text)
			b.Run(fmt.Sprintf("%s/%dKiB", shape.name, size>>10), func(b *testing.B) {
				b.ReportAllocs()
				var dst []detectors.Finding
				for b.Loop() {
					dst = d.Detect(t, dst[:0])
				}
			})
		}
	}
}
