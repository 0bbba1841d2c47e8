package normalize

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	n := Default()
	tests := []normCase{
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
		{"qq penguin emoji", "加我🐧,🐧号,🐧:12345", "加我qq,qq号,qq:12345"},
		{"qq penguin emoji between han", "我的🐧是,加🐧号", "我的qq是,加qq号"},
		{"other emoji between han go", "傻😀逼", "傻逼"},
		{"spaced qq", "Q Q 12345,q q", "qq 12345,qq"},
		{"spaced q inside words", "faq qa", "faq qa"},
		{"telegram lookalikes", "飞机 TG", "telegram telegram"},
		{"tg inside a word", "stgx", "stgx"},
		{"spelled email", "john at gmail dot com", "john@gmail.com"},
		{"chinese spelled email", "12345艾特qq点com", "12345@qq.com"},
		{"bracket email", "john(at)gmail(dot)com", "john@gmail.com"},
		{"at in a sentence", "meet me at 5 pm", "meet me at 5 pm"},
		{"at home", "I'm at home. Thanks", "i'm at home. thanks"},
		{"dot in time", "2点30分", "2点30分"},
		{"cat", "cat dot com", "cat.com"},
		{"at before a shop's site", "You can order at shop.example.com", "you can order at shop.example.com"},
		{"at before a marketplace", "available at amazon.com", "available at amazon.com"},
		{"at before a login page", "login at accounts.example.com", "login at accounts.example.com"},
		{"at before a site, find me", "find me at example.com", "find me at example.com"},
		{"at before a mail provider", "zhang at qq.com", "zhang@qq.com"},
		{"at before a mail provider, upper case", "John at Gmail.com", "john@gmail.com"},
		{"at before a numeric mail provider", "wang at 163.com", "wang@163.com"},
		{"at before spelled dots", "zhang at example dot com", "zhang@example.com"},
		{"bracket at before any domain", "zhang(at)example.com", "zhang@example.com"},
		{"chinese at before any domain", "zhang艾特example.com", "zhang@example.com"},
		{"invalid utf8", "a\xffb", "a\ufffdb"},
		{"empty", "", ""},
	}
	checkNormalize(t, n, tests)
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
		{"mailhost replacement differs", "", "gmail\tqq\tmailhost\n"},
		{"mailhost not a label", "", "g.mail\tg.mail\tmailhost\n"},
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

// invisibles are code points of every class normalization must look
// through: controls (C0 but tab, newline and carriage return; DEL; C1),
// format characters (zero-width, bidi, interlinear annotation, tags),
// private-use (BMP and planes 15 and 16), unassigned code points, variation
// selectors and the object replacement character.
var invisibles = []rune{
	0x0000, 0x0001, 0x0008, 0x000B, 0x000C, 0x001B, 0x001F, 0x007F, 0x0080, 0x0085, 0x009F,
	0x00AD, 0x061C, 0x200B, 0x200D, 0x200E, 0x202E, 0x2060, 0x2066, 0xFEFF,
	0xFFF9, 0xFFFA, 0xFFFB, 0xFFFC,
	0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD,
	0x0378, 0x1FFFF, 0x2FFFE, 0x50000, 0xE0000, 0xFFFF,
	0xFE00, 0xFE0F, 0xE0100, 0xE01EF,
	0xE0001, 0xE0020, 0xE0041, 0xE007F,
}

func TestInvisible(t *testing.T) {
	n := Default()
	tests := []normCase{
		{"nul in a contact word", "加我微\u0000信abc123", "加我微信abc123"},
		{"nul between phone groups", "电话138\u00001234\u00005678", "电话13812345678"},
		{"soh in an insult", "你是不是\u0001傻", "你是不是傻"},
		{"del", "傻\u007f逼", "傻逼"},
		{"c1 control", "微\u0085信", "微信"},
		{"interlinear annotation", "13\ufff98\ufffa1234\ufffb5678", "13812345678"},
		{"object replacement", "加\ufffc微信", "加微信"},
		{"private use", "加\ue000微\U000F0000信\U0010FFFD", "加微信"},
		{"unassigned", "傻\u0378逼\U0001FFFF", "傻逼"},
		{"tags", "V\U000E0041信", "微信"},
		{"variation selector supplement", "1\U000E01003800", "13800"},
		{"tab stays a separator", "hello\tworld", "hello\tworld"},
		{"tab between digits", "138\t1234\t5678", "13812345678"},
		{"newline stays", "第一行\n第二行", "第一行第二行"},
		{"newline in english", "line one\nline two", "line one\nline two"},
		{"carriage return stays", "a\r\nb", "a\r\nb"},
		{"replacement character stays", "a\ufffdb", "a\ufffdb"},
	}
	checkNormalize(t, n, tests)
	for _, r := range invisibles {
		if !n.isInvisible(r) {
			t.Errorf("U+%04X is not folded out", r)
		}
	}
	for _, r := range []rune{'\t', '\n', '\r', ' ', 'a', '1', '微', 0x3000, 0xFFFD, 0x1F600, 0x20000, 0x2028} {
		if n.isInvisible(r) {
			t.Errorf("U+%04X is folded out, want it kept", r)
		}
	}
}

// TestInvisibleOpensNoGap checks that a hidden code point belongs to the next
// visible one in the offset map, so a number keeps its groups: detectors tell
// "138 1234 5678" from "13812345678" by gaps in the map.
func TestInvisibleOpensNoGap(t *testing.T) {
	n := Default()
	for _, in := range []string{"13812345678", "138\u200b12345678", "1381234\x005678", "138\U000E0020\U000E007F12345678"} {
		txt := n.Normalize(in)
		for i := 1; i < len(txt.Norm); i++ {
			_, e0 := txt.Span(i-1, i)
			s1, _ := txt.Span(i, i+1)
			if s1 != e0 {
				t.Errorf("%q: gap before byte %d of %q", in, i, txt.Norm)
			}
		}
		if s, e := txt.Span(0, len(txt.Norm)); txt.OrigText(s, e) != in {
			t.Errorf("%q: span of the number = %q", in, txt.OrigText(s, e))
		}
	}
}

func TestNormRange(t *testing.T) {
	n := Default()
	tests := []struct {
		in         string
		start, end int
		want       string
	}{
		{"电话 138 1234 5678 谢谢", 3, 16, "13812345678"},
		{"电话 138 1234 5678 谢谢", 0, 2, "电话"},
		{"请加我V信：wx", 3, 5, "微信"},
		{"john at gmail dot com", 0, 21, "john@gmail.com"},
		{"一三八一二三四五六七八", 3, 7, "1234"},
		{"138 1234", 3, 4, ""}, // the dropped space
		{"abc", 5, 9, ""},
	}
	for _, tt := range tests {
		txt := n.Normalize(tt.in)
		nb, ne := txt.NormRange(tt.start, tt.end)
		if got := txt.Norm[nb:ne]; got != tt.want {
			t.Errorf("%q: NormRange(%d, %d) = %q, want %q", tt.in, tt.start, tt.end, got, tt.want)
		}
	}
}

// hiddenCategory reports whether r is of general category Cc (but tab,
// newline, carriage return), Cf, Co or Cn.
func hiddenCategory(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' || utf16.IsSurrogate(r) {
		return false
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// FuzzInvisible checks that inserting a code point of a hidden class (Cc
// but tab, newline and carriage return; Cf; Co; Cn; variation selectors)
// anywhere in a draft leaves its normalized text unchanged, so no detector
// loses a finding to it.
func FuzzInvisible(f *testing.F) {
	for i, s := range []string{
		"加我微信abc123", "电话13812345678", "你是不是傻", "亲，加我V信 wxid_abc123 私聊",
		"手机 138 1234 5678", "john at gmail dot com", "身份证110101199003074514",
		"一三八一二三四五六七八", "傻 逼", "①③⑧①②③④⑤⑥⑦⑧", "12345艾特qq点com", "meet me at 5 pm",
	} {
		f.Add(s, uint(i), uint(i))
	}
	n := Default()
	f.Fuzz(func(t *testing.T, s string, pos, which uint) {
		want := n.Normalize(s).Norm
		// Insert at a code point boundary of s.
		var bounds []int
		for i := range s {
			bounds = append(bounds, i)
		}
		bounds = append(bounds, len(s))
		at := bounds[pos%uint(len(bounds))]
		r := invisibles[which%uint(len(invisibles))]
		if which%2 == 1 {
			// Any code point of the hidden categories, by the Unicode
			// tables rather than the normalizer's own bitset.
			r = rune(which / 2 % (unicode.MaxRune + 1))
			if !hiddenCategory(r) {
				return
			}
		}
		in := s[:at] + string(r) + s[at:]
		got := n.Normalize(in)
		checkOffsets(t, got)
		if got.Norm != want {
			t.Fatalf("inserting U+%04X at byte %d of %q: Norm = %q, want %q", r, at, s, got.Norm, want)
		}
	})
}

// normCase is one normalization to check: in normalizes to want.
type normCase struct{ name, in, want string }

// checkNormalize runs each case as a subtest: the normalized text and the
// offset map back to the original.
func checkNormalize(t *testing.T, n *Normalizer, tests []normCase) {
	t.Helper()
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
