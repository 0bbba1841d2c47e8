package tone

import (
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

func kinds(fs []detectors.Finding) string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, f.Kind)
	}
	return strings.Join(ks, ",")
}

func TestDetect(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	tests := []struct {
		name, in string
		want     string // comma-separated kinds in order of appearance; "" for none
	}{
		// rude
		{"zh stupid", "亲，你是不是傻，页面上写得清清楚楚", "rude"},
		{"zh brain", "你脑子有病吧，七天无理由也要保证商品完好", "rude"},
		{"zh common sense", "这点常识都没有吗？有没有常识啊", "rude"},
		{"zh cannot read", "详情页写了不包邮，看不懂字吗", "rude"},
		{"zh fed up", "真是服了你了，同一个问题问三遍", "rude"},
		{"zh buy or not", "就这个价，爱买不买", "rude"},
		{"zh poor", "穷就别买，别在这讲价", "rude"},
		{"zh traditional", "你腦子有病吧", "rude"},
		{"en stupid", "Are you stupid? The size chart is right there.", "rude"},
		{"en read", "Can't you read? It says final sale.", "rude"},
		{"en curly apostrophe", "Can’t you read the description?", "rude"},
		{"en your problem", "That's your problem, not mine.", "rude"},
		{"en idiot", "What an idiot.", "rude"},
		// dismissive
		{"zh not mine", "这不归我管，你去问物流", "dismissive"},
		{"zh courier", "丢件了你自己去找快递", "dismissive"},
		{"zh no way", "我也没办法，系统就这样", "dismissive"},
		{"zh whoever", "爱找谁找谁", "dismissive"},
		{"zh look yourself", "不知道自己看", "dismissive"},
		{"zh whatever", "随便你", "dismissive"},
		{"zh ask me not", "别问我，我只是客服", "dismissive"},
		{"en job", "Refunds are not my job.", "dismissive"},
		{"en figure", "Figure it out yourself.", "dismissive"},
		{"en deal", "Just deal with it.", "dismissive"},
		{"en go away", "I can't help you, go away.", "dismissive"},
		{"en whatever", "Whatever.", "dismissive"},
		// impatient
		{"zh how many times", "说了多少遍了，发货要48小时", "impatient"},
		{"zh already said", "我已经说过了，不支持退换", "impatient"},
		{"zh faster", "能不能快点，后面还有人排队", "impatient"},
		{"zh what do you want", "你到底要怎样", "impatient"},
		{"zh annoying", "烦不烦啊", "impatient"},
		{"zh scroll up", "自己看上面", "impatient"},
		{"en told", "I already told you, the store closes at 9.", "impatient"},
		{"en how many", "How many times do I have to say it?", "impatient"},
		{"en hurry", "Hurry up and pick one.", "impatient"},
		{"en previous", "Read my previous message.", "impatient"},
		// profanity
		{"zh sb", "你个傻逼", "profanity"},
		{"zh sb spaced", "傻 逼", "profanity"},
		{"zh sb starred", "傻*逼", "profanity"},
		{"zh sb homophone", "煞笔客户", "profanity"},
		{"zh sb homophone 2", "沙比", "profanity"},
		{"zh sb initials", "你是SB吗", "profanity"},
		{"zh sb full-width", "ＳＢ", "profanity"},
		{"zh mother", "他妈的烦死了", "profanity,impatient"},
		{"zh initials", "tmd 又是你", "profanity"},
		{"zh nmsl", "nmsl", "profanity"},
		{"zh wqnmlgb", "wqnmlgb", "profanity"},
		{"zh get out alone", "滚！", "profanity"},
		{"zh get out traditional", "滾！", "profanity"},
		{"zh get out frame", "你给我滚", "profanity"},
		{"zh get out of here", "滚出去", "profanity"},
		{"zh fuck you", "操你", "profanity"},
		{"zh wocao", "卧槽，又退货", "profanity"},
		{"zh die", "去死吧", "profanity"},
		{"zh trash person", "你个垃圾", "profanity"},
		{"zh dog", "狗东西", "profanity"},
		{"en fuck", "What the fuck do you want?", "profanity"},
		{"en fuck star", "f*ck off", "profanity"},
		{"en fuck stars", "f**k this", "profanity"},
		{"en fuk", "fuk you", "profanity"},
		{"en fck", "fck", "profanity"},
		{"en spaced", "f u c k you", "profanity"},
		{"en dotted", "f.u.c.k", "profanity"},
		{"en fucking", "this fucking order", "profanity"},
		{"en shit digit", "sh1t happens", "profanity"},
		{"en bitch", "b1tch", "profanity"},
		{"en asshole dollar", "you a$$hole", "profanity"},
		{"en wtf", "wtf is this", "profanity"},
		{"en stfu", "STFU", "profanity"},
		{"en bastard", "you bastard", "profanity"},
		{"en damn", "damn it", "profanity"},
		{"en full-width", "ｆｕｃｋ", "profanity"},
		// false-positive traps
		{"fp camera", "这款傻瓜相机操作很简单", ""},
		{"fp foolproof", "傻瓜式操作，一键安装", ""},
		{"fp washer", "滚筒洗衣机今天有优惠", ""},
		{"fp scroll", "您往下滚动页面就能看到", ""},
		{"fp you scroll", "麻烦你滚动到页面底部", ""},
		{"fp bearing", "滚珠轴承已发货", ""},
		{"fp tumble", "翻滚过山车门票", ""},
		{"fp operate", "我操作一下后台", ""},
		{"fp worry", "您不用操心，我们来处理", ""},
		{"fp gym", "体操垫有现货", ""},
		{"fp strawberry", "草莓今天到货", ""},
		{"fp grass", "草地上的帐篷", ""},
		{"fp mom", "妈妈的生日礼物可以包装", ""},
		{"fp my mom", "我妈的手机号", ""},
		{"fp bedroom", "卧室灯具八折", ""},
		{"fp trash bag", "送你个垃圾袋", ""},
		{"fp trash bin", "垃圾桶和垃圾分类指南", ""},
		{"fp dead skin", "这款去死皮膏很好用", ""},
		{"fp sister", "你妹妹的快递到了", ""},
		{"fp polite refusal zh", "抱歉，这个问题需要您联系快递，我们帮您催一下", ""},
		{"fp scunthorpe", "Shipping to Scunthorpe takes 2 days.", ""},
		{"fp class", "First class shipping, we assess every parcel.", ""},
		{"fp cocktail", "A cocktail shaker and Dickens novels.", ""},
		{"fp hello", "Hello! Check your shell settings.", ""},
		{"fp shitake", "Shitake mushrooms are in stock.", ""},
		{"fp usb", "The USB cable ships today.", ""},
		{"fp its hit", "it's hit the shelves", ""},
		{"fp go away", "The error will go away after a restart.", ""},
		{"fp polite refusal en", "I'm sorry, I can't help you with that, but I can check your order.", ""},
		{"fp whatever", "Order whatever you like!", ""},
		{"fp as i said", "As I mentioned, your refund is on its way.", ""},
		{"fp digits", "Order 51t7 ships on 3/14.", ""},
		{"fp email", "Write to d1ck@example.com", "profanity"}, // the local part is a word of its own
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kinds(d.Detect(n.Normalize(tt.in), nil))
			if got != tt.want {
				t.Errorf("Detect(%q) kinds = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestCases runs testdata/cases.yaml.
func TestCases(t *testing.T) {
	detectortest.RunCases(t, detectortest.Family[*Detector]{Default: Default, New: New, Kinds: Kinds()}, "testdata/cases.yaml")
}

func TestDetectSpans(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	tests := []struct {
		in, kind, evidence string
		start, end         int
		sev                detectors.Severity
	}{
		{"您好，你是傻 逼吗", "profanity", "傻 逼", 5, 8, detectors.High},
		{"亲，爱買不買", "rude", "爱買不買", 2, 6, detectors.High},
		{"Look: F * C K", "profanity", "F * C K", 6, 13, detectors.High},
		{"ok f*ck off", "profanity", "f*ck", 3, 7, detectors.High},
		{"这不归我管。", "dismissive", "这不归我管", 0, 5, detectors.Medium},
		{"I already told you!", "impatient", "I already told you", 0, 18, detectors.Low},
	}
	for _, tt := range tests {
		fs := d.Detect(n.Normalize(tt.in), nil)
		if tt.kind == "" {
			if len(fs) != 0 {
				t.Errorf("Detect(%q) = %+v, want none", tt.in, fs)
			}
			continue
		}
		if len(fs) != 1 {
			t.Errorf("Detect(%q) = %+v, want one finding", tt.in, fs)
			continue
		}
		f := fs[0]
		if f.Kind != tt.kind || f.Evidence != tt.evidence || f.Start != tt.start || f.End != tt.end || f.Severity != tt.sev || f.Detector != "tone" || f.Lexicon == "" {
			t.Errorf("Detect(%q) = %+v, want %s %q [%d,%d) %v", tt.in, f, tt.kind, tt.evidence, tt.start, tt.end, tt.sev)
		}
	}
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(detectortest.Build(t, Default), Kinds(), "你个傻逼", "滚", "f*ck", "说了多少遍了", "爱找谁找谁", "a$$hole", "f u c k"); err != nil {
		t.Error(err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"unknown kind", "entries: [{id: a, kind: nice, terms: [x]}]", "unknown kind"},
		{"obfuscated word not a term", "entries: [{id: a, kind: profanity, terms: [fuck]}]\nsets: {obfuscated: [shit]}", "not a term"},
		{"obfuscated word too short", "entries: [{id: a, kind: profanity, terms: [fu]}]\nsets: {obfuscated: [fu]}", "at least three"},
		{"vulgar not a term", "entries: [{id: a, kind: profanity, terms: [操]}]\nsets: {vulgar: [屌]}", "not a term"},
		{"vulgar not one character", "entries: [{id: a, kind: profanity, terms: [屌丝]}]\nsets: {vulgar: [屌丝]}", "not one Chinese character"},
		{"vulgar not chinese", "entries: [{id: a, kind: profanity, terms: [x]}]\nsets: {vulgar: [x]}", "not one Chinese character"},
	} {
		f, err := lexicon.Parse([]byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(f); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestVersionAndName(t *testing.T) {
	d := detectortest.Build(t, Default)
	if d.Name() != "tone" || len(d.Version()) == 0 {
		t.Errorf("Name %q Version %q", d.Name(), d.Version())
	}
	f, err := DefaultLexicon()
	if err != nil {
		t.Fatal(err)
	}
	f.Entries[0].Terms = append(f.Entries[0].Terms, "新词")
	d2, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Version() == d.Version() {
		t.Error("changing the lexicon did not change the version")
	}
}

// The messages of the benchmarks: about 100 characters each, with one
// finding, as a typical flagged draft.
const (
	benchZH = "亲，您好！您的订单已经在今天下午发出了，快递单号在订单详情里可以查到。我已经说过了，预计三到五天送达，偏远地区可能会晚一两天，请耐心等待，有问题随时联系我们哦。"
	benchEN = "Hi there, your order shipped this afternoon. I already told you the tracking number is in your order details; delivery takes 3-5 days."
)

// Ordinary English messages with no finding: punctuation, hyphens, emails and
// URLs must not make the obfuscation matcher expensive.
const (
	benchENPlain = "Hi there, thanks for reaching out! Your order has shipped and should arrive by Tuesday. Let me know if you need anything else."
	benchENPunct = "Please check-in at the front desk, e.g. via john@example.com or www.example.com"
)

func TestDetectAllocations(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	for _, in := range []string{benchZH, benchEN} {
		if got := kinds(d.Detect(n.Normalize(in), nil)); got != "impatient" {
			t.Fatalf("bench message %q: kinds %q, want impatient", in, got)
		}
	}
	// The lexicon matcher's own allocations (its Aho-Corasick iterator and
	// sort) are outside this package; Detect may add at most one.
	detectortest.CheckAllocs(t, d, d.Lexicon(), 1, benchZH, benchEN)
}

func BenchmarkTone(b *testing.B) {
	detectortest.Bench(b, detectortest.Build(b, Default),
		detectortest.BenchCase{Name: "zh", In: benchZH}, detectortest.BenchCase{Name: "en", In: benchEN},
		detectortest.BenchCase{Name: "en_plain", In: benchENPlain}, detectortest.BenchCase{Name: "en_punct", In: benchENPunct})
}
