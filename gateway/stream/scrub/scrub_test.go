package scrub

import (
	"strings"
	"testing"
	"unicode"
)

func TestScrubDigitForms(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"spaced", "电话 138 1234 5678", "电话 *** **** 5678"},
		{"dashed", "138-1234-5678", "***-****-5678"},
		{"dotted", "138.1234.5678", "***.****.5678"},
		{"zero-width", "138\u200b1234\u200b5678", "***\u200b****\u200b5678"},
		{"control", "电话138\x001234\x005678", "电话***\x00****\x005678"},
		{"full-width spaced", "１３８　１２３４　５６７８", "＊＊＊　＊＊＊＊　５６７８"},
		{"circled", "电话①③⑧①②③④⑤⑥⑦⑧", "电话*******⑤⑥⑦⑧"},
		{"superscript", "电话¹³⁸¹²³⁴⁵⁶⁷⁸", "电话*******⁵⁶⁷⁸"},
		{"chinese numerals", "我的电话一三八一二三四五六七八", "我的电话*******五六七八"},
		{"yao for one", "幺三八幺二三四五六七八", "*******五六七八"},
		{"capital numerals", "电话壹叁捌壹贰叁肆伍陆柒捌", "电话*******伍陆柒捌"},
		{"mixed forms", "电话1三8一2三4五6七8", "电话*******五6七8"},
		{"arabic-indic", "٠١٢٣٤٥٦٧٨٩", "******٦٧٨٩"},
		{"mathematical bold", "𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "*******𝟓𝟔𝟕𝟖"},
		{"eight phones", strings.Repeat("13812345678 ", 8), strings.Repeat("*", 11) + " " + strings.Repeat("*********** ", 6) + "*******5678 "},
		{"five is a run", "543 21", "*43 21"},
		{"four is not", "一二三四", "一二三四"},
		{"chinese date", "十一月二十三日", "十一月二十三日"},
		{"counts", "共 2 件，3 天内送达", "共 2 件，3 天内送达"},
		{"a star ends a run", "138 **** 5678", "138 **** 5678"},
		{"trailing separator", "54321 号", "*4321 号"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The full-width spaced case stars with ASCII stars.
			want := strings.ReplaceAll(tc.want, "＊", "*")
			if got := Text(tc.in); got != want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, want)
			}
			if got := Text(want); got != want {
				t.Errorf("Text not idempotent on %q: %q", want, got)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"你有病吧", "你有病吧"},
		{"138****5678", "138****5678"},
		{"1101**********4514", "1101**********4514"},
		{"6222 **** **** 0128", "6222 **** **** 0128"},
		{"j***@gmail.com", "j***@gmail.com"},
		{"1234", "1234"},
		{"54321", "*4321"},
		{"13812345678", "*******5678"},
		{"加我微信13812345678好吗", "加我微信*******5678好吗"},
		{"１３８１２３４５６７８", "*******５６７８"},
		{"110101199003074514", "**************4514"},
		{"zhangsan.test@example.com", "z***@example.com"},
		{"mail me: ab@qq.com!", "mail me: a***@qq.com!"},
		{"12345678@qq.com", "1***@qq.com"},
		{"ｚｈａｎｇ＠example.com", "ｚ***＠example.com"},
		{"a@b.c", "a@b.c"},
		{"@someone in chat", "@someone in chat"},
		{"user@localhost", "user@localhost"},
		{"2 @ 3", "2 @ 3"},
		{"x@y.com 13812345678", "x@y.com *******5678"},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Text(tc.want); got != tc.want {
			t.Errorf("Text not idempotent on %q: %q", tc.want, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Text("请勿发送手机号 138****5678 j***@gmail.com") }); n != 0 {
		t.Errorf("Text of clean text: %v allocs", n)
	}
}

// TestScrubKeepsPublicNumbers: hotlines and service numbers quoted in an
// event's text stay readable, in every digit form, while private numbers
// beside them are still starred.
func TestScrubKeepsPublicNumbers(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"complaint hotline", "再不处理我就打12315投诉你们", ""},
		{"government hotline", "我要打12345市长热线", ""},
		{"corporate 400 line", "请拨打400-820-8820", ""},
		{"corporate 800 line", "固话拨打800 820 8820", ""},
		{"alipay", "支付宝客服95188", ""},
		{"carrier", "移动客服10086，联通10010，电信10000", ""},
		{"area code", "杭州热线0571-12345", ""},
		{"+86", "海外请拨+86 400 820 8820", ""},
		{"full-width", "打１２３１５投诉", ""},
		{"chinese numerals", "打一二三一五投诉你", ""},
		{"mixed with a mobile", "打12315也没用，我手机13812345678", "打12315也没用，我手机*******5678"},
		{"mixed, already masked", "打12315也没用，我手机138****5678", ""},
		// Run together with other digits, a hotline cannot be told from
		// part of a private number: the run is starred whole.
		{"run together", "12315 13812345678", "***** *******5678"},
		{"not public", "54321", "*4321"},
		{"eight-digit 95", "9510 5888", "**** 5888"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if got := Text(tc.in); got != want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, want)
			}
			if got := Text(want); got != want {
				t.Errorf("Text not idempotent on %q: %q", want, got)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { _ = Text("再不处理我就打12315投诉你们，或者拨打400-820-8820") }); n != 0 {
		t.Errorf("Text of text with public numbers only: %v allocs", n)
	}
}

// TestDigitLikeEveryRune holds isDigitLike to its definition (a Unicode
// number or a listed Chinese numeral) for every code point, fast paths
// included.
func TestDigitLikeEveryRune(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		want := unicode.In(r, unicode.Nd, unicode.No, unicode.Nl) || strings.ContainsRune(chineseNumerals, r)
		if got := isDigitLike(r); got != want {
			t.Errorf("isDigitLike(%U %q) = %v, want %v", r, r, got, want)
		}
	}
}

// BenchmarkText scrubs an agent's Chinese reply without private data (the
// usual case: nothing to mask) and one with a phone number spelled out.
func BenchmarkText(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"clean", "亲，您好，您的订单已经发货了，预计三到五天送达，请注意查收，有问题随时联系我们哦"},
		{"phone", "亲，您可以拨打一三八一二三四五六七八联系快递员，订单号 20261206 已发货"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				Text(tc.text)
			}
		})
	}
}
