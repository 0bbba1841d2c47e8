package link

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

func evidence(fs []detectors.Finding) []string {
	var ev []string
	for _, f := range fs {
		if f.Detector != "link" || f.Kind != "external" {
			ev = append(ev, "BAD:"+f.Name())
		}
		ev = append(ev, f.Evidence)
	}
	return ev
}

func TestDetect(t *testing.T) {
	d := newDetector(t)
	n := normalize.Default()
	tests := []struct {
		name string
		in   string
		want []string // evidence of each finding, in order
	}{
		{"https", "亲，详情看 https://www.example.com/item?id=1 哦", []string{"https://www.example.com/item?id=1"}},
		{"http in chinese", "点这里http://evil-shop.cn/x领取优惠", []string{"http://evil-shop.cn/x"}},
		{"www", "请访问www.jd.com查看", []string{"www.jd.com"}},
		{"bare domain with path", "去 pdd.com/abc 下单更便宜", []string{"pdd.com/abc"}},
		{"bare domain", "see example.org for details", []string{"example.org"}},
		{"shortener", "点击 t.cn/A6xYz 领券", []string{"t.cn/A6xYz"}},
		{"bitly", "Check bit.ly/3abcDE now.", []string{"bit.ly/3abcDE"}},
		{"telegram link", "join t.me/deal_shop", []string{"t.me/deal_shop"}},
		{"lookalike domain", "登录 https://evil-taobao.com/login", []string{"https://evil-taobao.com/login"}},
		{"suffix trick", "http://taobao.com.evil.cn/x", []string{"http://taobao.com.evil.cn/x"}},
		{"ip with scheme", "http://192.168.1.10:8080/pay", []string{"http://192.168.1.10:8080/pay"}},
		{"full-width", "ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ", []string{"ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ"}},
		{"upper case", "HTTPS://EXAMPLE.COM/A", []string{"HTTPS://EXAMPLE.COM/A"}},
		{"trailing punctuation", "Go to https://example.com/a.", []string{"https://example.com/a"}},
		{"in parens", "(see https://example.com/a)", []string{"https://example.com/a"}},
		{"two links", "a.com 和 b.net", []string{"a.com", "b.net"}},
		{"userinfo", "https://taobao.com@evil.com/x", []string{"https://taobao.com@evil.com/x"}},
		// allowed hosts
		{"taobao", "商品链接 https://item.taobao.com/item.htm?id=123", nil},
		{"tmall bare", "tmall.com/abc 有活动", nil},
		{"tb short", "复制 https://m.tb.cn/h.5abc 打开淘宝", nil},
		{"alipay", "请在 www.alipay.com 查询", nil},
		// not links
		{"email", "请发邮件到 john@gmail.com", nil},
		{"email with tld-like local", "mail john.me@gmail.com", nil},
		{"spelled email", "john at gmail dot com", nil},
		{"version", "请升级到 2.3.1 版本", nil},
		{"bare ip", "1.2.3.4", nil},
		{"price", "价格是12.50元", nil},
		{"sentence", "Thanks.See you", nil},
		{"eg", "e.g. the order number", nil},
		{"file", "请上传 photo.jpg 文件", nil},
		{"comcast word", "abc.comx", nil},
		{"spelled dot", "taobao点com", nil},
		{"no dot", "您好，请稍等", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evidence(d.Detect(n.Normalize(tt.in), nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Detect(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSeverityAndSpan(t *testing.T) {
	d := newDetector(t)
	n := normalize.Default()
	tests := []struct {
		in         string
		start, end int
		sev        detectors.Severity
		lex        string
	}{
		{"点击 t.cn/A6xYz 领券", 3, 13, detectors.High, "external.shortener"},
		{"详情：https://example.com/a", 3, 24, detectors.Medium, "external.url"},
		{"看 https://sub.bit.ly/x", 2, 22, detectors.High, "external.shortener"},
	}
	for _, tt := range tests {
		got := d.Detect(n.Normalize(tt.in), nil)
		if len(got) != 1 {
			t.Errorf("Detect(%q) = %v, want one finding", tt.in, got)
			continue
		}
		f := got[0]
		if f.Start != tt.start || f.End != tt.end || f.Severity != tt.sev || f.Lexicon != tt.lex {
			t.Errorf("Detect(%q) = [%d,%d) %v %s, want [%d,%d) %v %s", tt.in, f.Start, f.End, f.Severity, f.Lexicon, tt.start, tt.end, tt.sev, tt.lex)
		}
	}
}

func TestWithAllow(t *testing.T) {
	d := newDetector(t)
	n := normalize.Default()
	in := n.Normalize("see https://shop.example.com/a and https://evil.com/b")
	if got := len(d.Detect(in, nil)); got != 2 {
		t.Fatalf("default detector: %d findings, want 2", got)
	}
	d2, err := d.WithAllow([]string{"https://Example.com/whatever", "*.foo.org"})
	if err != nil {
		t.Fatal(err)
	}
	if got := evidence(d2.Detect(in, nil)); !slices.Equal(got, []string{"https://evil.com/b"}) {
		t.Errorf("WithAllow detector: %q, want only evil.com", got)
	}
	if got := len(d.Detect(in, nil)); got != 2 {
		t.Errorf("WithAllow changed the original detector: %d findings", got)
	}
	if d2.Version() == d.Version() {
		t.Error("WithAllow kept the version")
	}
	if !d2.Allowed("a.foo.org") || d2.Allowed("evilfoo.org") {
		t.Error("foo.org allowlist: wrong subdomain matching")
	}
	if _, err := d.WithAllow([]string{"淘宝.com"}); err == nil {
		t.Error("WithAllow accepted a non-ASCII host")
	}
	if _, err := d.WithAllow([]string{" "}); err == nil {
		t.Error("WithAllow accepted an empty host")
	}
}

func TestTenantLexicon(t *testing.T) {
	f, err := DefaultLexicon()
	if err != nil {
		t.Fatal(err)
	}
	f.Sets = map[string][]string{"allow_host": {"mystore.com"}, "tld": f.Sets["tld"]}
	d, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.Default()
	if got := evidence(d.Detect(n.Normalize("mystore.com/a taobao.com/b"), nil)); !slices.Equal(got, []string{"taobao.com/b"}) {
		t.Errorf("tenant allowlist: %q, want only taobao.com/b", got)
	}
	f.Sets["tld"] = []string{"c0m"}
	if _, err := New(f); err == nil || !strings.Contains(err.Error(), "tld") {
		t.Errorf("New accepted tld c0m: %v", err)
	}
	bad := lexicon.File{Entries: []lexicon.Entry{{ID: "x", Kind: "phone", Terms: []string{"x"}}}}
	if _, err := New(bad); err == nil {
		t.Error("New accepted kind phone")
	}
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(newDetector(t), Kinds(), "https://evil.com", "t.cn/abc", "www.", "http://", "a.com.", "https://[::1]/x"); err != nil {
		t.Error(err)
	}
}

const (
	benchZH = "亲，您好！您拍下的宝贝已经发货了，物流信息可以在淘宝App里查看。活动详情请点击 https://item.taobao.com/item.htm?id=123 或者 t.cn/A6xYz 领取优惠券，有问题随时联系我们哦！"
	benchEN = "Hi! Your order has shipped. You can track it at https://track.example.com/o/123 or see our deals at bit.ly/3abcDE. Thanks for shopping!"
)

func BenchmarkLink(b *testing.B) {
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

func TestDetectDoesNotAllocate(t *testing.T) {
	d := newDetector(t)
	txt := normalize.Default().Normalize(benchEN)
	dst := make([]detectors.Finding, 0, 8)
	if allocs := testing.AllocsPerRun(100, func() { dst = d.Detect(txt, dst[:0]) }); allocs != 0 {
		t.Errorf("Detect allocates %.0f times per call, want 0", allocs)
	}
}
