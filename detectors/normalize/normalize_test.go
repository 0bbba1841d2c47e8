package normalize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	n := Default()
	tests := []struct {
		name, in, want string
	}{
		{"full-width", "ＡＢＣ１２３４　ｘ", "abc1234 x"},
		{"traditional", "您說話這個後臺發貨", "您说话这个后台发货"},
		{"traditional insult", "傻瓜滾", "傻瓜滚"},
		{"chinese numerals in a number", "手机一三八一二三四五六七八", "手机13812345678"},
		{"financial numerals", "壹叁捌贰叁肆伍陆柒捌玖", "13823456789"},
		{"yao and liang", "幺三八两两三四", "1382234"},
		{"ling", "一〇八六零", "10860"},
		{"short numerals stay words", "一定第一两个", "一定第一两个"},
		{"three numerals stay", "三五个", "三五个"},
		{"circled", "①③⑧⑴⑵⒈❶➀➊", "138121111"},
		{"superscript", "¹³⁸⁰", "1380"},
		{"keycap", "1️⃣3️⃣8️⃣0️⃣", "1380"},
		{"separators in a number", "138 1234-5678", "13812345678"},
		{"dots and emoji in a number", "138.1234😀5678", "13812345678"},
		{"zero width", "13\u200b8\u200c1234\u200d5678", "13812345678"},
		{"short number keeps its dot", "12.5元", "12.5元"},
		{"mask stars stay", "138****5678", "138****5678"},
		{"plus stays", "+86 138 1234 5678", "+8613812345678"},
		{"spaces between han", "傻 逼", "傻逼"},
		{"star between han", "傻*逼", "傻逼"},
		{"wechat lookalikes", "加V信,加vx,加薇信,加威信,加徽信", "加微信,加微信,加微信,加微信,加微信"},
		{"wechat lookalikes with spaces", "加 V信 加 vx", "加 微信加 微信"},
		{"vx needs a word boundary", "vxlan", "vxlan"},
		{"qq lookalikes", "扣扣,企鹅,Q号", "qq,qq,qq号"},
		{"telegram lookalikes", "飞机 TG", "telegram telegram"},
		{"tg inside a word", "stgx", "stgx"},
		{"spelled email", "john at gmail dot com", "john@gmail.com"},
		{"chinese spelled email", "12345艾特qq点com", "12345@qq.com"},
		{"bracket email", "john(at)gmail(dot)com", "john@gmail.com"},
		{"at in a sentence", "meet me at 5 pm", "meet me at 5 pm"},
		{"at home", "I'm at home. Thanks", "i'm at home. thanks"},
		{"dot in time", "2点30分", "2点30分"},
		{"cat", "cat dot com", "cat.com"},
		{"invalid utf8", "a\xffb", "a\ufffdb"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := n.Normalize(tt.in)
			if got.Norm != tt.want {
				t.Errorf("Normalize(%q).Norm = %q, want %q", tt.in, got.Norm, tt.want)
			}
			checkOffsets(t, got)
		})
	}
}

func TestSpanPointsAtOriginal(t *testing.T) {
	n := Default()
	tests := []struct {
		in, find, wantOrig string
	}{
		{"请加我V信：wx_123", "微信", "V信"},
		{"电话 138 1234 5678 谢谢", "13812345678", "138 1234 5678"},
		{"手机一三八一二三四五六七八", "13812345678", "一三八一二三四五六七八"},
		{"您這個傻 逼", "傻逼", "傻 逼"},
		{"ＱＱ号：１２３４５", "qq号:12345", "ＱＱ号：１２３４５"},
		{"mail john at gmail dot com now", "john@gmail.com", "john at gmail dot com"},
		{"1️⃣3️⃣8️⃣0️⃣", "1380", "1️⃣3️⃣8️⃣0"},
	}
	for _, tt := range tests {
		got := n.Normalize(tt.in)
		i := strings.Index(got.Norm, tt.find)
		if i < 0 {
			t.Fatalf("Normalize(%q).Norm = %q, missing %q", tt.in, got.Norm, tt.find)
		}
		s, e := got.Span(i, i+len(tt.find))
		if orig := got.OrigText(s, e); orig != tt.wantOrig {
			t.Errorf("%q: span of %q = [%d,%d) %q, want %q", tt.in, tt.find, s, e, orig, tt.wantOrig)
		}
	}
}

func TestNormalizeIntoReuses(t *testing.T) {
	n := Default()
	var (
		txt Text
		buf Buffer
	)
	for _, s := range []string{"加我V信 138 1234 5678", "您好", "傻 逼"} {
		n.NormalizeInto(&txt, &buf, s)
		if want := n.Normalize(s).Norm; txt.Norm != want {
			t.Errorf("NormalizeInto(%q) = %q, want %q", s, txt.Norm, want)
		}
		checkOffsets(t, &txt)
	}
	allocs := testing.AllocsPerRun(100, func() { n.NormalizeInto(&txt, &buf, "您好，请加我V信 138 1234 5678，發貨") })
	if allocs > 1 {
		t.Errorf("NormalizeInto allocates %.0f times per call, want at most 1 (the string)", allocs)
	}
}

func TestNewRejectsBadTables(t *testing.T) {
	for _, tt := range []struct{ name, t2s, folds string }{
		{"t2s one column", "說\n", ""},
		{"t2s two chars", "說話\t说\n", ""},
		{"folds context", "", "vx\t微信\tsomewhere\n"},
		{"folds columns", "", "vx\t微信\n"},
	} {
		if _, err := New([]byte(tt.t2s), []byte(tt.folds)); err == nil {
			t.Errorf("%s: New accepted a bad table", tt.name)
		}
	}
}

// checkOffsets asserts the offset map's invariants: every normalized byte
// maps to a non-empty, in-bounds range of original code points, and starts
// never go backwards.
func checkOffsets(t *testing.T, txt *Text) {
	t.Helper()
	if len(txt.src) != len(txt.Norm) {
		t.Fatalf("offset map has %d entries for %d bytes", len(txt.src), len(txt.Norm))
	}
	n := utf8.RuneCountInString(txt.Orig)
	if txt.Len() != n {
		t.Fatalf("Len() = %d, want %d", txt.Len(), n)
	}
	prev := int32(0)
	for i, sp := range txt.src {
		if sp.start < 0 || sp.end > int32(n) || sp.start >= sp.end {
			t.Fatalf("byte %d maps to invalid range [%d,%d) of %d", i, sp.start, sp.end, n)
		}
		if sp.start < prev {
			t.Fatalf("byte %d maps to start %d before %d", i, sp.start, prev)
		}
		prev = sp.start
	}
	if !utf8.ValidString(txt.Norm) {
		t.Fatalf("Norm %q is not valid UTF-8", txt.Norm)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "加我V信 138 1234 5678", "john at gmail dot com", "傻 逼", "a\xffb", "①③⑧", "1️⃣", "12345艾特qq点com", "壹贰叁肆"} {
		f.Add(s)
	}
	n := Default()
	f.Fuzz(func(t *testing.T, s string) {
		txt := n.Normalize(s)
		checkOffsets(t, txt)
		for i := 0; i <= len(txt.Norm); i++ {
			st, en := txt.Span(i, i+3)
			if st > en || en > txt.Len() {
				t.Fatalf("Span(%d) = [%d,%d)", i, st, en)
			}
			_ = txt.OrigText(st, en)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	n := Default()
	for _, bc := range []struct{ name, text string }{
		{"zh", "亲，您好！您的订单已经发货了，快递单号是YT1234567890，预计明天下午送达。如有问题请随时联系我们，祝您购物愉快，感谢您对本店的支持！"},
		{"en", "Hi there, thanks for reaching out! Your order has shipped and should arrive by Tuesday. Let me know if you need anything else."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var (
				txt Text
				buf Buffer
			)
			b.ReportAllocs()
			for b.Loop() {
				n.NormalizeInto(&txt, &buf, bc.text)
			}
		})
	}
}
