package privacy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/normalize"
)

func detect(tb testing.TB, d *Detector, s string) []detectors.Finding {
	tb.Helper()
	return d.Detect(normalize.Default().Normalize(s), nil)
}

func kindsOf(fs []detectors.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func TestDetect(t *testing.T) {
	d := detectortest.Build(t, Default)
	tests := []struct {
		name string
		in   string
		want []string // kinds, in order; nil means no finding
	}{
		// phone
		{"zh mobile", "亲，您留的手机号是13812345678对吗？", []string{"phone"}},
		{"zh mobile spaced", "您好，我的电话 138 1234 5678，麻烦尽快联系", []string{"phone"}},
		{"zh mobile chinese numerals", "手机一三八一二三四五六七八", []string{"phone"}},
		{"zh mobile full-width", "電話：１３８１２３４５６７８", []string{"phone"}},
		{"zh mobile look-alike digits", "加我①③⑧①②③④⑤⑥⑦⑧", []string{"phone"}},
		{"+86", "+86 139 1234 5678", []string{"phone"}},
		{"0086", "0086 13912345678", []string{"phone"}},
		{"landline beijing", "门店电话010-12345678", []string{"phone"}},
		{"landline shenzhen", "座机 0755-1234567", []string{"phone"}},
		{"en us", "You can reach me at +1 415 555 2671", []string{"phone"}},
		{"en us parens", "call me at (415) 555-2671 tomorrow", []string{"phone"}},
		{"en uk", "my number is +44 20 7946 0958", []string{"phone"}},
		{"en bare 10 digits", "sure, it's 4155552671", []string{"phone"}},
		{"hotline 400", "如有问题请拨打客服热线400-820-8820", nil},
		{"bank short number", "拨打支付宝客服95188咨询", nil},
		{"order number", "您的订单号：13812345678901 已发货", nil},
		{"order number mobile shape", "订单号 13812345678 请核对", nil},
		{"labelled id with a typo", "身份证 110101199003071234 已核实", []string{"id_card"}},
		{"unlabelled 18 digits with a bad checksum", "物流单 110101199003071234", nil},
		{"phone labelled after an order word", "您的订单已经登记，手机 13812345678", []string{"phone"}},
		{"phone labelled after order number", "订单号已发您，联系电话 13812345678", []string{"phone"}},
		{"tracking number", "tracking number 4155552671", nil},
		{"express number", "快递单号 773012345678901", nil},
		{"invalid mobile prefix", "编码12012345678", nil},
		{"price", "这款售价1299元", nil},
		// id_card
		{"zh id", "身份证号110101199003074514", []string{"id_card"}},
		{"zh id x", "证件号码 11010519491231002X 已核验", []string{"id_card"}},
		{"zh id traditional", "身份證號碼：110101199003074514", []string{"id_card"}},
		// Labelled as an ID, 18 digits are masked even when the checksum or
		// the date is wrong: a typo does not make the rest of it public.
		{"zh id bad checksum", "身份证号110101199003074515", []string{"id_card"}},
		{"zh id bad date", "身份证110101199002304514", []string{"id_card"}},
		{"zh id bad checksum unlabelled", "单据110101199003074515", nil},
		{"ssn dashes", "my SSN is 123-45-6789", []string{"id_card"}},
		{"ssn spaces", "it's 123 45 6789", []string{"id_card"}},
		{"ssn keyword", "social security number 123456789", []string{"id_card"}},
		{"ssn 666", "my ssn is 666-45-6789", nil},
		{"nine digits alone", "reference 123456789", nil},
		// bank_card
		{"zh card", "请核对卡号6222021234567890128", []string{"bank_card"}},
		{"zh card spaced", "银行卡 6222 0212 3456 7890 128", []string{"bank_card"}},
		{"en visa", "my visa is 4111 1111 1111 1111", []string{"bank_card"}},
		{"en card typo", "card number 4111111111111112", []string{"bank_card"}},
		{"card after order", "订单编号6222021234567890128", nil},
		// email
		{"email", "请发邮件到 zhang.san@example.com 谢谢", []string{"email"}},
		{"email spelled", "mail me at john at gmail dot com", []string{"email"}},
		{"email chinese spelled", "邮箱12345艾特qq点com", []string{"email"}},
		{"email glued", "my email is sofiagmailcom", []string{"email"}},
		{"email words", "i'm at home at 5 pm", nil},
		{"sitcom", "watching a sitcom on telecom", nil},
		// address
		{"zh address", "收货地址：浙江省杭州市西湖区文三路 90 号", []string{"address"}},
		{"zh address room", "北京市朝阳区建国路88号SOHO现代城5号楼1203室", []string{"address"}},
		{"zh city only", "杭州发货，次日达", nil},
		{"zh store", "我们在杭州有线下门店", nil},
		{"en address", "please ship to 1120 N Street, Apt 4, Sacramento CA 95814", []string{"address"}},
		{"en city only", "we ship from Beijing", nil},
		{"en drive", "it is a 20 minutes drive from the station", nil},
		// passport
		{"zh passport", "护照号 E12345678", []string{"passport"}},
		{"zh passport new", "passport EA1234567", []string{"passport"}},
		{"other passport with keyword", "my passport number is X1234567", []string{"passport"}},
		{"code without keyword", "型号 X1234567", nil},
		// license_plate
		{"plate", "车牌京A12345的车主请注意", []string{"license_plate"}},
		{"plate dot", "粤B·12345", []string{"license_plate"}},
		{"plate new energy", "沪A F12345", []string{"license_plate"}},
		{"not a plate", "京东自营，新款上市", nil},
		// credential
		{"zh code", "您的验证码是 482913，5分钟内有效", []string{"credential"}},
		{"zh password", "密码 abc123456", []string{"credential"}},
		{"en otp", "your OTP is 123456", []string{"credential"}},
		{"en password", "password: hunter2", []string{"credential"}},
		{"code before term", "482913 is your verification code", []string{"credential"}},
		{"zh ask", "请把手机收到的验证码告诉我", []string{"credential"}},
		{"zh ask pay password", "麻烦提供一下您的支付密码", []string{"credential"}},
		{"zh ask traditional", "請把驗證碼告訴我", []string{"credential"}},
		{"en ask", "please tell me the verification code you received", []string{"credential"}},
		{"en ask password", "can you share your password", []string{"credential"}},
		{"zh never ask", "我们不会向您索要验证码", nil},
		{"en never ask", "we will never ask for your password", nil},
		{"zh do not tell", "请勿将验证码告诉他人", nil},
		{"en do not share", "Never share your verification code with anyone.", nil},
		{"code sent", "验证码已发送，请注意查收", nil},
		{"reset password", "您可以在设置里修改密码，密码需要8位以上", nil},
		{"password is wrong", "your password is incorrect", nil},
		// nothing
		{"polite", "亲，您的包裹已经发出，预计明天送达哦", nil},
		{"en polite", "Thanks for waiting, your refund of $12.99 was issued today.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kindsOf(detect(t, d, tt.in))
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Detect(%q) kinds = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestCases runs the cases kept as data in testdata/cases.yaml: messages
// the detector must flag, or must leave alone, by the kinds it finds.
func TestCases(t *testing.T) {
	detectortest.RunCases(t, detectortest.Family[*Detector]{Default: Default, New: New, Kinds: Kinds()}, "testdata/cases.yaml")
}

func TestSpansAndEvidence(t *testing.T) {
	d := detectortest.Build(t, Default)
	tests := []struct {
		in, kind      string
		start, end    int
		evidence      string
		sev           detectors.Severity
		minScore      float64
		wantRuleOrLex string
	}{
		{"您好，手机号138 1234 5678", "phone", 6, 19, "138 **** 5678", detectors.Medium, 0.9, ""},
		{"身份证110101199003074514", "id_card", 3, 21, "1101**********4514", detectors.High, 0.95, ""},
		{"卡号：6222 0212 3456 7890 128", "bank_card", 3, 26, "6222 **** **** ***0 128", detectors.High, 0.95, ""},
		{"mail john@gmail.com now", "email", 5, 19, "j***@gmail.com", detectors.Medium, 0.9, ""},
		{"收货地址：浙江省杭州市西湖区文三路 90 号", "address", 5, 22, "浙江省杭州市西湖区****", detectors.Medium, 0.8, ""},
		{"护照E12345678", "passport", 2, 11, "E1*****78", detectors.High, 0.9, ""},
		{"京A12345", "license_plate", 0, 7, "京A***45", detectors.Low, 0.7, ""},
		{"验证码是 482913", "credential", 0, 11, "验证码是 ******", detectors.High, 0.9, ""},
		{"请把验证码告诉我", "credential", 2, 8, "验证码告诉我", detectors.Critical, 0.85, AskRule},
		{"把短信里的数字发我", "credential", 1, 9, "短信里的数字发我", detectors.Critical, 0.8, AskRule},
		{"read me the numbers we just texted you", "credential", 0, 34, "read me the numbers we just texted", detectors.Critical, 0.8, AskRule},
		{"+86 13912345678", "phone", 0, 15, "+86 1******5678", detectors.Medium, 0.9, ""},
	}
	for _, tt := range tests {
		fs := detect(t, d, tt.in)
		if len(fs) != 1 {
			t.Errorf("Detect(%q) = %+v, want one %s", tt.in, fs, tt.kind)
			continue
		}
		f := fs[0]
		if f.Kind != tt.kind || f.Start != tt.start || f.End != tt.end || f.Evidence != tt.evidence || f.Severity != tt.sev || f.Score < tt.minScore || f.Rule != tt.wantRuleOrLex {
			t.Errorf("Detect(%q) = %s %s %.2f [%d,%d) %q rule %q, want %s %s ≥%.2f [%d,%d) %q rule %q",
				tt.in, f.Kind, f.Severity, f.Score, f.Start, f.End, f.Evidence, f.Rule,
				tt.kind, tt.sev, tt.minScore, tt.start, tt.end, tt.evidence, tt.wantRuleOrLex)
		}
	}
}

func TestSeverityContext(t *testing.T) {
	d := detectortest.Build(t, Default)
	for _, tt := range []struct {
		in   string
		kind string
		sev  detectors.Severity
	}{
		{"it is located at 2 Rose Crescent city centre", "address", detectors.Low},
		{"地址是北京市东城区景山前街4号", "address", detectors.Low},
		{"您家地址是北京市东城区景山前街4号", "address", detectors.Medium},
		{"北京市朝阳区建国路88号SOHO现代城5号楼1203室", "address", detectors.Medium},
		{"电话是010-63553377", "phone", detectors.Low},
		{"The phone number is 01223334900.", "phone", detectors.Low},
		{"电话13812345678", "phone", detectors.Medium},
	} {
		fs := detect(t, d, tt.in)
		if len(fs) != 1 || fs[0].Kind != tt.kind || fs[0].Severity != tt.sev {
			t.Errorf("Detect(%q) = %+v, want one %s of severity %s", tt.in, fs, tt.kind, tt.sev)
		}
	}
}

// Generators for planted numbers, written from the standards (GB 11643,
// ISO/IEC 7812 Luhn) independently of the code under test.

func genID(r *rand.Rand) string {
	regions := []string{"110101", "310104", "440305", "330106", "510107", "650102"}
	y, m, dd := 1950+r.IntN(60), 1+r.IntN(12), 1+r.IntN(28)
	body := fmt.Sprintf("%s%04d%02d%02d%03d", regions[r.IntN(len(regions))], y, m, dd, r.IntN(1000))
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * w[i]
	}
	return body + string("10X98765432"[sum%11])
}

func genCard(r *rand.Rand, prefix string, n int) string {
	b := []byte(prefix)
	for len(b) < n-1 {
		b = append(b, byte('0'+r.IntN(10)))
	}
	for c := byte('0'); c <= '9'; c++ {
		cand := append(append([]byte{}, b...), c)
		sum := 0
		for i := len(cand) - 1; i >= 0; i-- {
			v := int(cand[i] - '0')
			if (len(cand)-1-i)%2 == 1 {
				v *= 2
				if v > 9 {
					v -= 9
				}
			}
			sum += v
		}
		if sum%10 == 0 {
			return string(cand)
		}
	}
	panic("unreachable")
}

func genMobile(r *rand.Rand) string {
	prefixes := []string{"138", "139", "150", "186", "177", "199", "135", "158"}
	return prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%08d", r.IntN(100000000))
}

func spaced(s string, groups ...int) string {
	var parts []string
	for _, g := range groups {
		if g >= len(s) {
			break
		}
		parts = append(parts, s[:g])
		s = s[g:]
	}
	return strings.Join(append(parts, s), " ")
}

func TestPlantedChinese(t *testing.T) {
	d := detectortest.Build(t, Default)
	r := rand.New(rand.NewPCG(1, 2))
	templates := []struct {
		kind string
		tmpl string
		gen  func() string
	}{
		{"phone", "亲，麻烦您确认一下收件人手机%s，我们这边安排补发", func() string { return genMobile(r) }},
		{"phone", "您好，我的電話是%s，有事打給我", func() string { return spaced(genMobile(r), 3, 4) }},
		{"id_card", "为了办理退款，请核对身份证号%s是否正确", func() string { return genID(r) }},
		{"id_card", "证件号码：%s", func() string { return strings.ToLower(genID(r)) }},
		{"bank_card", "退款将原路退回到您尾号的银行卡%s，请注意查收", func() string { return genCard(r, "6222", 19) }},
		{"bank_card", "信用卡 %s", func() string { return spaced(genCard(r, "4", 16), 4, 4, 4) }},
		{"bank_card", "您好%s已绑定成功", func() string { return genCard(r, "62", 16) }},
	}
	for _, tp := range templates {
		for range 200 {
			v := tp.gen()
			in := fmt.Sprintf(tp.tmpl, v)
			fs := detect(t, d, in)
			if len(fs) != 1 || fs[0].Kind != tp.kind {
				t.Errorf("Detect(%q) = %v, want one %s", in, kindsOf(fs), tp.kind)
				continue
			}
			if got := normalize.Default().Normalize(in).OrigText(fs[0].Start, fs[0].End); strings.TrimLeft(got, "+") != v {
				t.Errorf("Detect(%q) span = %q, want %q", in, got, v)
			}
		}
	}
	// The same numbers after an order keyword are not private data.
	for range 50 {
		in := "订单号：" + genMobile(r)
		if fs := detect(t, d, in); len(fs) != 0 {
			t.Errorf("Detect(%q) = %v, want none", in, kindsOf(fs))
		}
	}
}

func TestMask(t *testing.T) {
	for _, tt := range []struct{ kind, in, want string }{
		{"phone", "13812345678", "138****5678"},
		{"phone", "138-1234-5678", "138-****-5678"},
		{"id_card", "110101199003074514", "1101**********4514"},
		{"id_card", "11010519491231002X", "1101**********002X"},
		{"id_card", "123-45-6789", "***-**-6789"},
		{"bank_card", "6222 0212 3456 7890", "6222 **** **** 7890"},
		{"email", "john@gmail.com", "j***@gmail.com"},
		{"address", "浙江省杭州市西湖区文三路90号", "浙江省杭州市西湖区****"},
		{"passport", "E12345678", "E1*****78"},
		{"license_plate", "京A12345", "京A***45"},
		{"credential", "验证码 482913", "验证码 ******"},
		{"credential", "password: hunter2", "password: ******"},
	} {
		if got := Mask(tt.kind, tt.in); got != tt.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", tt.kind, tt.in, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	d := detectortest.Build(t, Default)
	in := "您好，手机138 1234 5678，身份证110101199003074514，验证码是 482913。请把验证码告诉我"
	tx := normalize.Default().Normalize(in)
	fs := d.Detect(tx, nil)
	fs = append(fs, detectors.Finding{Detector: "tone", Kind: "rude", Start: 0, End: 2})
	got := d.Redact(tx, fs)
	want := "您好，手机138 **** 5678，身份证1101**********4514，验证码是 ******。请把验证码告诉我"
	if got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if got := d.Redact(tx, nil); got != in {
		t.Errorf("Redact without findings = %q", got)
	}
}

func TestConformance(t *testing.T) {
	d := detectortest.Build(t, Default)
	if err := detectortest.Check(d, Kinds(),
		"手机13812345678，身份证110101199003074514，卡号6222021234567890128",
		"验证码是 482913 密码 abc123456", "请把验证码告诉我 1234567890",
		"北京市朝阳区建国路88号SOHO现代城5号楼1203室", "ship to 1120 N Street, Apt 4, Sacramento CA 95814",
		"+1 415 555 2671 (415) 555-2671 +44 20 7946 0958", "京A12345 粤B·D12345 护照E12345678",
		"john at gmail dot com sofiagmailcom murali 67 gmailcom 12345艾特qq点com",
		strings.Repeat("138 ", 50), "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0",
	); err != nil {
		t.Error(err)
	}
}

func TestNewErrors(t *testing.T) {
	f, err := DefaultLexicon()
	if err != nil {
		t.Fatal(err)
	}
	bad := f
	bad.Sets = map[string][]string{}
	for k, v := range f.Sets {
		bad.Sets[k] = v
	}
	bad.Sets[setIDRegions] = []string{"1"}
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), setIDRegions) {
		t.Errorf("New with a bad region code: err = %v", err)
	}
	bad.Sets[setIDRegions] = f.Sets[setIDRegions]
	bad.Sets[setBusiness] = []string{"400"}
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), setBusiness) {
		t.Errorf("New with a bad business prefix: err = %v", err)
	}
	d := detectortest.Build(t, Default)
	if d.Name() != "privacy" || d.Version() == "" {
		t.Errorf("Name, Version = %q, %q", d.Name(), d.Version())
	}
}

const (
	benchZH = "亲，您好！您的订单已经发货，快递单号773012345678901。如需修改收货地址，请提供手机号13812345678和收件人姓名，我们会尽快为您处理，感谢您的耐心等待，祝您生活愉快！"
	benchEN = "Hi Sarah, thanks for reaching out. I have updated the phone number on your account to (415) 555-2671. Your refund will arrive in 3-5 days."
)

func BenchmarkPrivacy(b *testing.B) {
	detectortest.Bench(b, detectortest.Build(b, Default), detectortest.BenchCase{Name: "zh", In: benchZH}, detectortest.BenchCase{Name: "en", In: benchEN})
}
