package commitment

import (
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

func newDetector(t testing.TB) *Detector {
	t.Helper()
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDetect(t *testing.T) {
	d := newDetector(t)
	tests := []detectortest.KindCase{
		// guarantee
		{Name: "zh tomorrow", In: "亲，放心，保证明天到", Want: []string{"guarantee"}},
		{Name: "zh never breaks", In: "这款百分百不会坏的", Want: []string{"guarantee"}},
		{Name: "zh no problem", In: "绝对没问题，您放心下单", Want: []string{"guarantee"}},
		{Name: "zh refund", In: "不喜欢肯定能退", Want: []string{"guarantee"}},
		{Name: "zh solve", In: "这个问题一定给您解决", Want: []string{"guarantee"}},
		{Name: "zh 100%", In: "100%不会出问题", Want: []string{"guarantee"}},
		{Name: "traditional", In: "我們保證明天到貨", Want: []string{"guarantee"}},
		{Name: "spaced", In: "保 证 明 天 到", Want: []string{"guarantee"}},
		{Name: "en promise", In: "I promise it will arrive tomorrow", Want: []string{"guarantee"}},
		{Name: "en definitely", In: "It definitely will be fixed by the update", Want: []string{"guarantee"}},
		{Name: "en guaranteed delivery", In: "Guaranteed delivery by Friday!", Want: []string{"guarantee"}},
		{Name: "en 100%", In: "100% guaranteed, no worries", Want: []string{"guarantee"}},
		// compensation
		{Name: "zh review rebate", In: "亲，好评返现5元哦", Want: []string{"compensation"}},
		{Name: "zh five star gift", In: "五星好评送小礼品", Want: []string{"compensation"}},
		{Name: "zh review red packet", In: "给好评后联系客服领红包", Want: []string{"compensation"}},
		{Name: "zh private cash", In: "我自己掏钱赔您", Want: []string{"compensation"}},
		{Name: "zh private rebate", In: "可以私下返现给您", Want: []string{"compensation"}},
		{Name: "zh compensate 50", In: "给您补偿50元", Want: []string{"compensation"}},
		{Name: "zh fake ten", In: "假一赔十", Want: []string{"compensation"}},
		{Name: "zh refund plus", In: "全额退款+赔偿", Want: []string{"compensation"}},
		{Name: "zh return three", In: "退一赔三", Want: []string{"compensation"}},
		{Name: "en personal refund", In: "I'll refund you personally", Want: []string{"compensation"}},
		{Name: "en review", In: "I'll give you $20 for a 5-star review", Want: []string{"compensation"}},
		{Name: "en cashback", In: "cashback for a good review", Want: []string{"compensation"}},
		// absolute_claim
		{Name: "zh lowest", In: "这是全网最低价", Want: []string{"absolute_claim"}},
		{Name: "zh cheapest", In: "我们家最便宜", Want: []string{"absolute_claim"}},
		{Name: "zh national", In: "国家级品质", Want: []string{"absolute_claim"}},
		{Name: "zh world class", In: "世界级工艺，顶级面料", Want: []string{"absolute_claim"}},
		{Name: "zh best", In: "最佳选购方案", Want: []string{"absolute_claim"}},
		{Name: "zh sales first", In: "销量第一的品牌", Want: []string{"absolute_claim"}},
		{Name: "zh 100% effective", In: "百分百有效", Want: []string{"absolute_claim"}},
		{Name: "traditional top", In: "頂級品質", Want: []string{"absolute_claim"}},
		{Name: "en best in world", In: "This is the best in the world", Want: []string{"absolute_claim"}},
		{Name: "en number one", In: "We are the number one brand", Want: []string{"absolute_claim"}},
		{Name: "en lowest", In: "Lowest price guaranteed", Want: []string{"absolute_claim"}},
		{Name: "mixed", In: "全网最低价，保证明天到，好评返现", Want: []string{"absolute_claim", "guarantee", "compensation"}},
		// traps
		{Name: "polite be sure", In: "请一定注意查收", Want: nil},
		{Name: "polite try", In: "我们一定会尽力", Want: nil},
		{Name: "try to solve", In: "我们一定会尽力为您解决", Want: nil},
		{Name: "cannot guarantee", In: "我们不能保证明天到", Want: nil},
		{Name: "not necessarily", In: "不一定能到", Want: nil},
		{Name: "deposit", In: "保证金已退回", Want: nil},
		{Name: "first time", In: "我是第一次买", Want: nil},
		{Name: "first day", In: "第一天就发货了", Want: nil},
		{Name: "recently", In: "最近物流比较慢", Want: nil},
		{Name: "had better", In: "最好您先确认一下地址", Want: nil},
		{Name: "had better is", In: "最好是周末前下单", Want: nil},
		{Name: "ask for review", In: "麻烦您给个好评哦", Want: nil},
		{Name: "reissue", In: "给您补发一件", Want: nil},
		{Name: "no rebate", In: "平台禁止好评返现", Want: nil},
		{Name: "en look into", In: "I'll definitely look into it", Want: nil},
		{Name: "en help", In: "I can certainly help you with that", Want: nil},
		{Name: "en regards", In: "Best regards, the support team", Want: nil},
		{Name: "en best way", In: "the best way to reach us is chat", Want: nil},
		{Name: "en first", In: "First, please check your order number", Want: nil},
		{Name: "en no guarantee", In: "There's no guarantee it will arrive tomorrow", Want: nil},
		{Name: "en try", In: "We will definitely try to get it fixed", Want: nil},
		{Name: "en book", In: "I can definitely book that for you", Want: nil},
		{Name: "cotton", In: "这件是100%棉的", Want: nil},
	}
	detectortest.RunKinds(t, d, tests)
}

func TestSpans(t *testing.T) {
	d := newDetector(t)
	tests := []detectortest.SpanCase{
		{In: "亲，放心，保證明天到", Start: 5, End: 10, Evidence: "保證明天到", Severity: detectors.Medium},
		{In: "亲，好评返现5元哦", Start: 2, End: 5, Evidence: "好评返", Severity: detectors.High},
		{In: "I'll give you $20 for a 5-star review", Start: 5, End: 37, Evidence: "give you $20 for a 5-star review", Severity: detectors.High},
		{In: "这是全网最低价", Start: 2, End: 7, Evidence: "全网最低价", Severity: detectors.Medium},
		{In: "给您补偿50元", Start: 0, End: 4, Evidence: "给您补偿", Severity: detectors.Medium},
	}
	detectortest.RunSpans(t, d, tests)
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(newDetector(t), Kinds(), "保证明天到", "好评返现", "全网最低价", "I promise it will arrive tomorrow"); err != nil {
		t.Error(err)
	}
}

func TestNewRejectsBadLexicon(t *testing.T) {
	f := lexicon.File{Entries: []lexicon.Entry{{ID: "x", Kind: "contact", Terms: []string{"x"}}}}
	if _, err := New(f); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("New with kind contact: err = %v", err)
	}
}

func TestVersion(t *testing.T) {
	d := newDetector(t)
	if d.Version() == "" || d.Name() != "commitment" {
		t.Errorf("Version %q Name %q", d.Version(), d.Name())
	}
}

const (
	benchZH = "亲，您好！非常抱歉给您带来不便，您的包裹已经在路上了，我们保证明天一定送到。这款是全网最低价，质量绝对没问题，收到后给个五星好评返现五元，祝您生活愉快，有问题随时联系我们哦！"
	benchEN = "Hi, sorry for the delay! Your parcel is on its way and I promise it will arrive tomorrow. We offer the lowest price, and we give cashback for a good review."
)

func BenchmarkCommitment(b *testing.B) {
	d := newDetector(b)
	n := normalize.Default()
	for _, bc := range []struct{ name, in string }{{"zh", benchZH}, {"en", benchEN}} {
		b.Run(bc.name, func(b *testing.B) {
			t := n.Normalize(bc.in)
			dst := make([]detectors.Finding, 0, 8)
			b.ReportAllocs()
			for b.Loop() {
				dst = d.Detect(t, dst[:0])
			}
		})
	}
}
