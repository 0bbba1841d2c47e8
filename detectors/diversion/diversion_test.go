package diversion

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
		// contact: explicit invitations
		{Name: "zh invite", In: "亲，有问题可以加我微信，方便沟通", Want: []string{"contact"}},
		{Name: "zh invite with id", In: "亲，加我V信：wxid_abc123，给您优惠", Want: []string{"contact"}},
		{Name: "zh my wechat is", In: "我的微信号是 abc_12345，私聊", Want: []string{"contact"}},
		{Name: "zh qr code", In: "扫我的二维码，给您发优惠券", Want: []string{"contact"}},
		{Name: "zh scan to add", In: "扫码加我，拉您进群", Want: []string{"contact"}},
		{Name: "zh private chat", In: "这个问题私聊我吧", Want: []string{"contact"}},
		{Name: "en add me", In: "Please add me on WhatsApp so we can talk faster", Want: []string{"contact"}},
		{Name: "en message me", In: "message me on Telegram @shopguy for a discount", Want: []string{"contact"}},
		{Name: "en text me", In: "text me at 415-555-0123 and I'll sort it out", Want: []string{"contact"}},
		{Name: "en personal number", In: "my personal number is easier to reach", Want: []string{"contact"}},
		{Name: "en let's talk", In: "let's talk on whatsapp", Want: []string{"contact"}},
		// public service numbers are official channels, not a private contact
		{Name: "alipay hotline", In: "支付宝客服95188", Want: nil},
		{Name: "alipay hotline spaced", In: "请联系支付宝官方客服 95188 处理退款", Want: nil},
		{Name: "complaint hotline", In: "您也可以拨打12315反映", Want: nil},
		{Name: "bank hotline", In: "银行客服电话95588", Want: nil},
		{Name: "private mobile after hotline", In: "别打95188了，直接加我微信 13812345678", Want: []string{"contact"}},
		// contact: app name next to an id token
		{Name: "qq number", In: "QQ：12345678", Want: []string{"contact"}},
		{Name: "telegram handle", In: "telegram: @shop_deals", Want: []string{"contact"}},
		{Name: "whatsapp phone", In: "WhatsApp +1 415 555 0123", Want: []string{"contact"}},
		{Name: "id before app", In: "abc_12345 是我的微信", Want: []string{"contact"}},
		{Name: "dingtalk", In: "钉钉 shop_88 找我", Want: []string{"contact"}},
		// contact: evasions
		{Name: "vx", In: "加vx：shop_2024", Want: []string{"contact"}},
		{Name: "wei xin lookalike", In: "加我薇信，号码 abc_123", Want: []string{"contact"}},
		{Name: "spaced", In: "加 我 威 信", Want: []string{"contact"}},
		{Name: "kou kou full-width digits", In: "扣扣：１２３４５６７８", Want: []string{"contact"}},
		{Name: "chinese numerals", In: "企鹅号 一二三四五六七八", Want: []string{"contact"}},
		{Name: "glued qq", In: "QQ12345678", Want: []string{"contact"}},
		{Name: "traditional", In: "加我的微信號：abc_888", Want: []string{"contact"}},
		{Name: "feiji", In: "飞机 @deal_shop", Want: []string{"contact"}},
		{Name: "star inside", In: "加*我*微*信", Want: []string{"contact"}},
		// payment
		{Name: "zh direct transfer", In: "您直接转账给我就行，便宜十块", Want: []string{"payment"}},
		{Name: "zh wechat transfer", In: "可以微信转账，不走平台", Want: []string{"payment"}},
		{Name: "zh card", In: "钱打到我卡上就行", Want: []string{"payment"}},
		{Name: "zh alipay to me", In: "用支付宝转给我吧", Want: []string{"payment"}},
		{Name: "zh private deal", In: "我们私下交易可以便宜点", Want: []string{"payment"}},
		{Name: "zh offline", In: "线下付款更划算", Want: []string{"payment"}},
		{Name: "traditional private", In: "我們私下交易吧", Want: []string{"payment"}},
		{Name: "zfb", In: "zfb转给我", Want: []string{"payment"}},
		{Name: "en pay directly", In: "You can pay me directly and skip the platform fee", Want: []string{"payment", "payment"}},
		{Name: "en paypal", In: "just send the money to my PayPal", Want: []string{"payment"}},
		{Name: "en venmo", In: "Venmo me and I'll ship today", Want: []string{"payment"}},
		{Name: "en bank", In: "do a bank transfer to my account", Want: []string{"payment"}},
		{Name: "both", In: "加我微信 abc_123，微信转账给我", Want: []string{"contact", "payment"}},
		// traps: warnings, official channels, ordinary checkout
		{Name: "warning stranger", In: "请勿添加陌生人微信，谨防诈骗", Want: nil},
		{Name: "warning private contact", In: "不要相信私下联系您的人", Want: nil},
		{Name: "no wechat pay", In: "本店不支持微信支付", Want: nil},
		{Name: "no private transfer", In: "请不要私下转账，以免上当受骗", Want: nil},
		{Name: "scam warning", In: "有骗子冒充客服让您加微信，请注意", Want: nil},
		{Name: "en never", In: "We will never ask you to pay outside the platform.", Want: nil},
		{Name: "en do not add", In: "Do not add anyone on WhatsApp who claims to be us.", Want: nil},
		{Name: "official account", In: "欢迎关注我们的官方微信公众号，领取优惠", Want: nil},
		{Name: "mini program", In: "您也可以在微信小程序下单", Want: nil},
		{Name: "alipay checkout", In: "您可以使用支付宝付款", Want: nil},
		{Name: "wechat pay checkout", In: "支持微信支付和支付宝支付", Want: nil},
		{Name: "stay on platform", In: "请在平台内沟通，我们会尽快处理", Want: nil},
		{Name: "app without id", In: "这款耳机可以连接微信和QQ语音", Want: nil},
		{Name: "count not qq", In: "我们在抖音上有100000人关注", Want: nil},
		{Name: "order number", In: "您的订单号是 2023112212345678，支付宝已到账", Want: nil},
		{Name: "line as word", In: "Line 12345 is busy, please hold", Want: nil},
		{Name: "forwarding", In: "我帮您转给我们的技术同事", Want: nil},
		{Name: "en signal", In: "the signal was weak at 12345 Main St", Want: nil},
		{Name: "en contact us", In: "please contact us at support@shop.com", Want: nil},
		{Name: "added to order", In: "已经帮您加我们的赠品了", Want: nil},
	}
	detectortest.RunKinds(t, d, tests)
}

func TestSpans(t *testing.T) {
	d := newDetector(t)
	tests := []detectortest.SpanCase{
		{In: "亲，加我V信：wxid_abc123，给您优惠", Start: 2, End: 18, Evidence: "加我V信：wxid_abc123", Severity: detectors.High},
		{In: "扣扣：１２３４５６７８", Start: 0, End: 11, Evidence: "扣扣：１２３４５６７８", Severity: detectors.High},
		{In: "Please add me on WhatsApp", Start: 7, End: 25, Evidence: "add me on WhatsApp", Severity: detectors.High},
		{In: "钱打到我卡上就行", Start: 1, End: 5, Evidence: "打到我卡", Severity: detectors.Critical},
		{In: "我们私下交易可以便宜点", Start: 2, End: 6, Evidence: "私下交易", Severity: detectors.High},
	}
	detectortest.RunSpans(t, d, tests)
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(newDetector(t), Kinds(), "加我V信 wxid_abc123", "QQ12345678", "微信转账给我", "abc_12345是我的微信"); err != nil {
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
