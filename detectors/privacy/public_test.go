package privacy

import (
	"slices"
	"testing"

	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// TestPublicServiceNumbersNotPrivate runs chat lines that quote hotlines,
// carriers' and banks' service numbers and corporate 400/800 lines, in the
// forms people type them, alone and next to a private number: the public
// numbers raise no finding and Redact leaves them as typed, while the
// private number beside them is still found and masked.
func TestPublicServiceNumbersNotPrivate(t *testing.T) {
	d := detectortest.Build(t, Default)
	for _, tc := range []struct {
		name, in string
		kinds    []string // findings expected, in order; nil means none
		redacted string   // Redact's output; "" means the input unchanged
	}{
		// Customers quoting hotlines at the agent.
		{"customer threatens 12315", "再不处理我就打12315投诉你们", nil, ""},
		{"12315 with phone keyword", "我已经拨打12315投诉电话了", nil, ""},
		{"12345 government hotline", "我要打12345市长热线反映", nil, ""},
		{"12345 with city area code", "我打了0571-12345", nil, ""},
		{"full-width 12315", "电话：１２３１５，我马上打", nil, ""},
		{"spaced 12315", "投诉电话 123 15", nil, ""},
		{"chinese numerals 12315", "我要打一二三一五投诉电话", nil, ""},
		{"yao for one", "投诉电话幺二三幺五", nil, ""},
		{"emergency", "再这样我就报警打110，受伤了打120", nil, ""},
		{"traffic police", "车被撞了已经打了122", nil, ""},
		// Agents giving service lines.
		{"agent quotes 12315", "如对处理结果不满意，您可以拨打12315反映", nil, ""},
		{"400 dashed", "请拨打400-820-8820", nil, ""},
		{"400 spaced with keyword", "客服电话 400 820 8820，工作日9点到18点", nil, ""},
		{"400 glued", "请拨打4008208820咨询", nil, ""},
		{"400 full-width dashed", "拨打４００－８２０－８８２０", nil, ""},
		{"400 chinese numerals", "电话 四零零八二零八八二零", nil, ""},
		{"400 with +86", "海外用户请拨打+86 400 820 8820", nil, ""},
		{"400 with 86 dashed", "电话 86-400-820-8820", nil, ""},
		{"800 line", "固话用户拨打800-820-8820免费", nil, ""},
		{"alipay", "支付宝客服95188", nil, ""},
		{"alipay with keyword", "支付宝客服电话95188，按0转人工", nil, ""},
		{"bank short number", "工商银行客服95588，信用卡请拨4006695588", nil, ""},
		{"96 local service", "上海公积金热线021-96166", nil, ""},
		{"carriers", "移动10086、联通10010、电信10000都可以查", nil, ""},
		{"railway", "退票问题请拨打12306", nil, ""},
		{"english", "call our hotline 400 820 8820 or 95188", nil, ""},
		// Other markets' hotlines and toll-free lines.
		{"taiwan consumer hotline", "消費者服務專線1950", nil, ""},
		{"taiwan toll-free", "免付費電話 0800 211 111", nil, ""},
		{"taiwan toll-free 0809", "客服電話 0809-090-101", nil, ""},
		{"hong kong government hotline", "政府熱線1823", nil, ""},
		{"hong kong toll-free", "請致電 800-908-888", nil, ""},
		{"us toll-free", "Call our toll-free line +1-800-555-0199", nil, ""},
		// Without the +, 1-866-… is also a mainland mobile (186…): masked.
		{"us toll-free shape of a mainland mobile", "手机 1-866-220-5701", []string{"phone"}, ""},
		{"us toll-free 888", "call 888-555-0199, it's toll free", nil, ""},
		{"us toll-free with +1", "call +1 888 555 0199", nil, ""},
		{"uk freephone", "Freephone 0800 123 4567", nil, ""},
		// A private number next to public ones is still masked.
		{"mixed", "打12315也没用，我手机13812345678", []string{"phone"}, "打12315也没用，我手机138****5678"},
		{"mixed space-separated", "电话12315 13812345678", []string{"phone"}, "电话12315 138****5678"},
		{"mixed glued", "投诉电话1231513812345678", []string{"phone"}, "投诉电话12315138****5678"},
		{"mobile glued before hotline", "我手机1381234567812315", []string{"phone"}, "我手机138****567812315"},
		{"mixed 400 and mobile", "拨打4008208820，或者加我13812345678", []string{"phone"}, "拨打4008208820，或者加我138****5678"},
		{"mixed full-width", "打１２３１５没用，我手机１３８１２３４５６７８", []string{"phone"}, "打１２３１５没用，我手机１３８****５６７８"},
		{"mixed chinese numerals", "打一二三一五没用，我手机一三八一二三四五六七八", []string{"phone"}, "打一二三一五没用，我手机一三八****五六七八"},
		{"mixed toll-free and mobile", "免付費電話0800-211-111，我手機0912345678", []string{"phone"}, ""},
		{"mixed us toll-free and cell", "toll free +1-800-555-0199 or my cell 415-555-0123", []string{"phone"}, ""},
		// Shapes that are not public numbers stay private.
		{"mainland mobile in 180", "手机 180-0555-0199", []string{"phone"}, "手机 180-****-0199"},
		{"mainland mobile in 188", "手机18885550199", []string{"phone"}, "手机188****0199"},
		{"landline", "门店电话010-12345678", []string{"phone"}, ""},
		{"mobile", "手机13812345678", []string{"phone"}, "手机138****5678"},
		{"seven-digit local after 86", "电话8612345", []string{"phone"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nt := normalize.Default().Normalize(tc.in)
			fs := d.Detect(nt, nil)
			if got := kindsOf(fs); !slices.Equal(got, tc.kinds) {
				t.Fatalf("Detect(%q) kinds = %v, want %v (findings %+v)", tc.in, got, tc.kinds, fs)
			}
			want := tc.redacted
			if want == "" {
				want = tc.in
			}
			if tc.kinds != nil && tc.redacted == "" {
				return // masked as before: only the kind is the point
			}
			if got := d.Redact(nt, fs); got != want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, want)
			}
		})
	}
}

func TestPublicNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"12315", true},
		{"12345", true},
		{"12306", true},
		{"12121", true},
		{"95188", true},
		{"95588", true},
		{"96166", true},
		{"110", true},
		{"120", true},
		{"119", true},
		{"122", true},
		{"10086", true},
		{"10010", true},
		{"10000", true},
		{"400-820-8820", true},
		{"4008208820", true},
		{"800 820 8820", true},
		{"+86 400 820 8820", true},
		{"0086 95188", true},
		{"+86 12315", true},
		{"86-400-820-8820", true},
		{"0571-12345", true},
		{"021-96166", true},
		{"010 12315", true},
		{"１２３１５", true},
		{"一二三一五", true},
		{"幺二三幺五", true},
		{"壹贰叁壹伍", true},
		{"四零零 八二零 八八二零", true},
		{"١٢٣١٥", true},         // Arabic-Indic digits
		{"𝟗𝟓𝟏𝟖𝟖", true},         // mathematical bold
		{"123\u200b15", true},   // zero-width space
		{"0800-211-111", true},  // Taiwan toll-free
		{"0809-090-101", true},  // Taiwan toll-free
		{"0800 123 4567", true}, // UK freephone
		{"0808 123 4567", true}, // UK freephone
		{"800 908 888", true},   // Hong Kong toll-free
		{"+852 800 908 888", true},
		{"+886 800 211 111", true},
		{"+1 888 555 0199", true}, // North American toll-free
		{"+1-800-555-0199", true},
		{"+1 833 555 0199", true},
		// Not public.
		{"13812345678", false},
		{"138 1234 5678", false},
		{"8612345", false}, // a local number, or 86 and a hotline without +
		{"1234567890", false},
		{"12315 13812345678", false},
		{"123150", false},
		{"1231", false},
		{"40082088201", false},
		{"400820882", false},
		{"95105888", false}, // eight digits: the shape of a Hong Kong mobile
		{"9612 3456", false},
		{"010-12345678", false},
		{"0571110", false},
		{"①②③①⑤", false}, // circled: not decimal digits
		{"12315号", false},
		{"1-800-555-0199", false}, // without +1, 1800… is a mainland mobile's shape
		{"888-555-0199", false},   // and 888… an Indian mobile's
		{"0912345678", false},     // a Taiwan mobile
		{"0800-21111", false},
		{"8009088", false},
		{"+1 415 555 0199", false},
		{"+1 899 555 0199", false},
		{"+852 9123 4567", false},
		{"", false},
		{"+", false},
		{"12 315 12 315 12 315 12 315", false},
	} {
		if got := PublicNumber(tc.in); got != tc.want {
			t.Errorf("PublicNumber(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPublicNumberAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		PublicNumber("四零零-八二零-八八二零")
		PublicNumber("+86 400 820 8820")
	})
	if n != 0 {
		t.Errorf("PublicNumber allocates %v times a call, want 0", n)
	}
}
