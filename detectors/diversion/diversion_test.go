package diversion

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
		want []string // kinds, in order
	}{
		// contact: explicit invitations
		{"zh invite", "亲，有问题可以加我微信，方便沟通", []string{"contact"}},
		{"zh invite with id", "亲，加我V信：wxid_abc123，给您优惠", []string{"contact"}},
		{"zh my wechat is", "我的微信号是 abc_12345，私聊", []string{"contact"}},
		{"zh qr code", "扫我的二维码，给您发优惠券", []string{"contact"}},
		{"zh scan to add", "扫码加我，拉您进群", []string{"contact"}},
		{"zh private chat", "这个问题私聊我吧", []string{"contact"}},
		{"en add me", "Please add me on WhatsApp so we can talk faster", []string{"contact"}},
		{"en message me", "message me on Telegram @shopguy for a discount", []string{"contact"}},
		{"en text me", "text me at 415-555-0123 and I'll sort it out", []string{"contact"}},
		{"en personal number", "my personal number is easier to reach", []string{"contact"}},
		{"en let's talk", "let's talk on whatsapp", []string{"contact"}},
		// public service numbers are official channels, not a private contact
		{"alipay hotline", "支付宝客服95188", nil},
		{"alipay hotline spaced", "请联系支付宝官方客服 95188 处理退款", nil},
		{"complaint hotline", "您也可以拨打12315反映", nil},
		{"bank hotline", "银行客服电话95588", nil},
		{"private mobile after hotline", "别打95188了，直接加我微信 13812345678", []string{"contact"}},
		// contact: app name next to an id token
		{"qq number", "QQ：12345678", []string{"contact"}},
		{"telegram handle", "telegram: @shop_deals", []string{"contact"}},
		{"whatsapp phone", "WhatsApp +1 415 555 0123", []string{"contact"}},
		{"id before app", "abc_12345 是我的微信", []string{"contact"}},
		{"dingtalk", "钉钉 shop_88 找我", []string{"contact"}},
		// contact: evasions
		{"vx", "加vx：shop_2024", []string{"contact"}},
		{"wei xin lookalike", "加我薇信，号码 abc_123", []string{"contact"}},
		{"spaced", "加 我 威 信", []string{"contact"}},
		{"kou kou full-width digits", "扣扣：１２３４５６７８", []string{"contact"}},
		{"chinese numerals", "企鹅号 一二三四五六七八", []string{"contact"}},
		{"glued qq", "QQ12345678", []string{"contact"}},
		{"traditional", "加我的微信號：abc_888", []string{"contact"}},
		{"feiji", "飞机 @deal_shop", []string{"contact"}},
		{"star inside", "加*我*微*信", []string{"contact"}},
		// payment
		{"zh direct transfer", "您直接转账给我就行，便宜十块", []string{"payment"}},
		{"zh wechat transfer", "可以微信转账，不走平台", []string{"payment"}},
		{"zh card", "钱打到我卡上就行", []string{"payment"}},
		{"zh alipay to me", "用支付宝转给我吧", []string{"payment"}},
		{"zh private deal", "我们私下交易可以便宜点", []string{"payment"}},
		{"zh offline", "线下付款更划算", []string{"payment"}},
		{"traditional private", "我們私下交易吧", []string{"payment"}},
		{"zfb", "zfb转给我", []string{"payment"}},
		{"en pay directly", "You can pay me directly and skip the platform fee", []string{"payment", "payment"}},
		{"en paypal", "just send the money to my PayPal", []string{"payment"}},
		{"en venmo", "Venmo me and I'll ship today", []string{"payment"}},
		{"en bank", "do a bank transfer to my account", []string{"payment"}},
		{"both", "加我微信 abc_123，微信转账给我", []string{"contact", "payment"}},
		// traps: warnings, official channels, ordinary checkout
		{"warning stranger", "请勿添加陌生人微信，谨防诈骗", nil},
		{"warning private contact", "不要相信私下联系您的人", nil},
		{"no wechat pay", "本店不支持微信支付", nil},
		{"no private transfer", "请不要私下转账，以免上当受骗", nil},
		{"scam warning", "有骗子冒充客服让您加微信，请注意", nil},
		{"en never", "We will never ask you to pay outside the platform.", nil},
		{"en do not add", "Do not add anyone on WhatsApp who claims to be us.", nil},
		{"official account", "欢迎关注我们的官方微信公众号，领取优惠", nil},
		{"mini program", "您也可以在微信小程序下单", nil},
		{"alipay checkout", "您可以使用支付宝付款", nil},
		{"wechat pay checkout", "支持微信支付和支付宝支付", nil},
		{"stay on platform", "请在平台内沟通，我们会尽快处理", nil},
		{"app without id", "这款耳机可以连接微信和QQ语音", nil},
		{"count not qq", "我们在抖音上有100000人关注", nil},
		{"order number", "您的订单号是 2023112212345678，支付宝已到账", nil},
		{"line as word", "Line 12345 is busy, please hold", nil},
		{"forwarding", "我帮您转给我们的技术同事", nil},
		{"en signal", "the signal was weak at 12345 Main St", nil},
		{"en contact us", "please contact us at support@shop.com", nil},
		{"added to order", "已经帮您加我们的赠品了", nil},
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
		{"亲，加我V信：wxid_abc123，给您优惠", 2, 18, "加我V信：wxid_abc123", detectors.High},
		{"扣扣：１２３４５６７８", 0, 11, "扣扣：１２３４５６７８", detectors.High},
		{"Please add me on WhatsApp", 7, 25, "add me on WhatsApp", detectors.High},
		{"钱打到我卡上就行", 1, 5, "打到我卡", detectors.Critical},
		{"我们私下交易可以便宜点", 2, 6, "私下交易", detectors.High},
	}
	for _, tt := range tests {
		got := d.Detect(n.Normalize(tt.in), nil)
		if len(got) != 1 {
			t.Errorf("Detect(%q) = %v, want one finding", tt.in, got)
			continue
		}
		f := got[0]
		if f.Start != tt.start || f.End != tt.end || f.Evidence != tt.evidence || f.Severity != tt.sev || f.Detector != "diversion" {
			t.Errorf("Detect(%q) = [%d,%d) %q %v, want [%d,%d) %q %v", tt.in, f.Start, f.End, f.Evidence, f.Severity, tt.start, tt.end, tt.evidence, tt.sev)
		}
	}
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(newDetector(t), "加我V信 wxid_abc123", "QQ12345678", "微信转账给我", "abc_12345是我的微信"); err != nil {
		t.Error(err)
	}
}

func TestNewRejectsBadLexicon(t *testing.T) {
	f := lexicon.File{Entries: []lexicon.Entry{{ID: "x", Kind: "rude", Terms: []string{"x"}}}}
	if _, err := New(f); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("New with kind rude: err = %v", err)
	}
}

func TestVersion(t *testing.T) {
	d := newDetector(t)
	if d.Version() == "" || d.Name() != "diversion" {
		t.Errorf("Version %q Name %q", d.Version(), d.Name())
	}
}

const (
	benchZH = "亲，您好！您的订单已经发货了，预计三天内送达。如果有任何问题，可以加我V信：wxid_abc123，我们私下交易可以便宜一点，直接转账给我就行，谢谢您的支持，祝您生活愉快！"
	benchEN = "Hi there, your order has shipped and should arrive within three days. If anything goes wrong, add me on WhatsApp +1 415 555 0123."
)

func BenchmarkDiversion(b *testing.B) {
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
