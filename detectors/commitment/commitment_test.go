package commitment

import (
	"slices"
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

func kinds(fs []detectors.Finding) []string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, f.Kind)
	}
	return ks
}

func TestDetect(t *testing.T) {
	d := newDetector(t)
	n := normalize.Default()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		// guarantee
		{"zh tomorrow", "亲，放心，保证明天到", []string{"guarantee"}},
		{"zh never breaks", "这款百分百不会坏的", []string{"guarantee"}},
		{"zh no problem", "绝对没问题，您放心下单", []string{"guarantee"}},
		{"zh refund", "不喜欢肯定能退", []string{"guarantee"}},
		{"zh solve", "这个问题一定给您解决", []string{"guarantee"}},
		{"zh 100%", "100%不会出问题", []string{"guarantee"}},
		{"traditional", "我們保證明天到貨", []string{"guarantee"}},
		{"spaced", "保 证 明 天 到", []string{"guarantee"}},
		{"en promise", "I promise it will arrive tomorrow", []string{"guarantee"}},
		{"en definitely", "It definitely will be fixed by the update", []string{"guarantee"}},
		{"en guaranteed delivery", "Guaranteed delivery by Friday!", []string{"guarantee"}},
		{"en 100%", "100% guaranteed, no worries", []string{"guarantee"}},
		// compensation
		{"zh review rebate", "亲，好评返现5元哦", []string{"compensation"}},
		{"zh five star gift", "五星好评送小礼品", []string{"compensation"}},
		{"zh review red packet", "给好评后联系客服领红包", []string{"compensation"}},
		{"zh private cash", "我自己掏钱赔您", []string{"compensation"}},
		{"zh private rebate", "可以私下返现给您", []string{"compensation"}},
		{"zh compensate 50", "给您补偿50元", []string{"compensation"}},
		{"zh fake ten", "假一赔十", []string{"compensation"}},
		{"zh refund plus", "全额退款+赔偿", []string{"compensation"}},
		{"zh return three", "退一赔三", []string{"compensation"}},
		{"en personal refund", "I'll refund you personally", []string{"compensation"}},
		{"en review", "I'll give you $20 for a 5-star review", []string{"compensation"}},
		{"en cashback", "cashback for a good review", []string{"compensation"}},
		// absolute_claim
		{"zh lowest", "这是全网最低价", []string{"absolute_claim"}},
		{"zh cheapest", "我们家最便宜", []string{"absolute_claim"}},
		{"zh national", "国家级品质", []string{"absolute_claim"}},
		{"zh world class", "世界级工艺，顶级面料", []string{"absolute_claim"}},
		{"zh best", "最佳选购方案", []string{"absolute_claim"}},
		{"zh sales first", "销量第一的品牌", []string{"absolute_claim"}},
		{"zh 100% effective", "百分百有效", []string{"absolute_claim"}},
		{"traditional top", "頂級品質", []string{"absolute_claim"}},
		{"en best in world", "This is the best in the world", []string{"absolute_claim"}},
		{"en number one", "We are the number one brand", []string{"absolute_claim"}},
		{"en lowest", "Lowest price guaranteed", []string{"absolute_claim"}},
		{"mixed", "全网最低价，保证明天到，好评返现", []string{"absolute_claim", "guarantee", "compensation"}},
		// traps
		{"polite be sure", "请一定注意查收", nil},
		{"polite try", "我们一定会尽力", nil},
		{"try to solve", "我们一定会尽力为您解决", nil},
		{"cannot guarantee", "我们不能保证明天到", nil},
		{"not necessarily", "不一定能到", nil},
		{"deposit", "保证金已退回", nil},
		{"first time", "我是第一次买", nil},
		{"first day", "第一天就发货了", nil},
		{"recently", "最近物流比较慢", nil},
		{"had better", "最好您先确认一下地址", nil},
		{"had better is", "最好是周末前下单", nil},
		{"ask for review", "麻烦您给个好评哦", nil},
		{"reissue", "给您补发一件", nil},
		{"no rebate", "平台禁止好评返现", nil},
		{"en look into", "I'll definitely look into it", nil},
		{"en help", "I can certainly help you with that", nil},
		{"en regards", "Best regards, the support team", nil},
		{"en best way", "the best way to reach us is chat", nil},
		{"en first", "First, please check your order number", nil},
		{"en no guarantee", "There's no guarantee it will arrive tomorrow", nil},
		{"en try", "We will definitely try to get it fixed", nil},
		{"en book", "I can definitely book that for you", nil},
		{"cotton", "这件是100%棉的", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.Detect(n.Normalize(tt.in), nil)
			if !slices.Equal(kinds(got), tt.want) {
				t.Errorf("Detect(%q) = %v, want kinds %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSpans(t *testing.T) {
	d := newDetector(t)
	n := normalize.Default()
	tests := []struct {
		in         string
		start, end int
		evidence   string
		sev        detectors.Severity
	}{
		{"亲，放心，保證明天到", 5, 10, "保證明天到", detectors.Medium},
		{"亲，好评返现5元哦", 2, 5, "好评返", detectors.High},
		{"I'll give you $20 for a 5-star review", 5, 37, "give you $20 for a 5-star review", detectors.High},
		{"这是全网最低价", 2, 7, "全网最低价", detectors.Medium},
		{"给您补偿50元", 0, 4, "给您补偿", detectors.Medium},
	}
	for _, tt := range tests {
		got := d.Detect(n.Normalize(tt.in), nil)
		if len(got) != 1 {
			t.Errorf("Detect(%q) = %v, want one finding", tt.in, got)
			continue
		}
		f := got[0]
		if f.Start != tt.start || f.End != tt.end || f.Evidence != tt.evidence || f.Severity != tt.sev || f.Detector != "commitment" {
			t.Errorf("Detect(%q) = [%d,%d) %q %v, want [%d,%d) %q %v", tt.in, f.Start, f.End, f.Evidence, f.Severity, tt.start, tt.end, tt.evidence, tt.sev)
		}
	}
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(newDetector(t), "保证明天到", "好评返现", "全网最低价", "I promise it will arrive tomorrow"); err != nil {
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
