package inspect

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/rules"
)

// TestMaskedHidesContactHandles: the masked text of a draft that hands out a
// private contact (what becomes the conversation's recent turns, the
// event's text_masked and context, and Verdict.Redacted on a redact) hides
// the handle, and shows it exactly as MaskContact shows the finding's
// evidence.
func TestMaskedHidesContactHandles(t *testing.T) {
	in := defaultInspector(t)
	// A policy that redacts everything, so Redacted is set whatever the
	// findings: the bundle's own policy blocks these drafts.
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	redactAll, err := New(p, Options{Decide: func(context.Context, *rules.Input) (rules.Decision, error) {
		return rules.Decision{Action: rules.Redact}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redactAll.Close() })
	tests := []struct {
		name, role, text string
		secrets          []string // must not survive masking
	}{
		{"wechat id", "", "加我微信 wxid_secrethandle", []string{"secrethandle", "wxid_"}},
		{"wechat id in a sentence", "", "亲，加我V信：wxid_abc123，给您优惠", []string{"wxid_abc123", "abc123"}},
		{"qq number", "", "QQ 1234567890", []string{"1234567890", "123456"}},
		{"qq with an invitation", "", "加我QQ 1234567890 给您返现", []string{"1234567890", "123456"}},
		{"qq glued to the app name", "", "qq12345678", []string{"12345678", "1234"}},
		{"qq full-width", "", "扣扣：１２３４５６７８", []string{"１２３４５６７８", "１２３４"}},
		{"telegram handle", "", "telegram @secret_handle", []string{"secret_handle", "secret"}},
		{"handle before the app", "", "abc_12345是我的微信", []string{"abc_12345", "_12345"}},
		{"customer hands out a handle", RoleCustomer, "加我微信 wxid_secrethandle 私聊", []string{"secrethandle"}},
		{"handle and phone", "", "加我微信 wxid_secrethandle，电话13812345678", []string{"secrethandle", "12345678"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := &Conversation{ID: "c1"}
			v, err := inspectInto(in, context.Background(), Request{Text: tt.text, Role: tt.role, ConversationID: "c1"}, conv, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			rv, err := inspectInto(redactAll, context.Background(), Request{Text: tt.text, Role: tt.role}, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sc, err := in.Screen(Request{Text: tt.text, Role: tt.role})
			if err != nil {
				t.Fatal(err)
			}
			recent := conv.Recent[len(conv.Recent)-1].Text
			for name, masked := range map[string]string{"recent turn": recent, "redacted": rv.Redacted, "screening": sc.Masked} {
				for _, sec := range tt.secrets {
					if strings.Contains(masked, sec) {
						t.Errorf("%s %q shows %q in clear", name, masked, sec)
					}
				}
				if utf8.RuneCountInString(masked) != utf8.RuneCountInString(tt.text) {
					t.Errorf("%s %q: %d code points, the text has %d", name, masked, utf8.RuneCountInString(masked), utf8.RuneCountInString(tt.text))
				}
			}
			contacts := 0
			for _, f := range v.Findings {
				if !IsContact(f) {
					continue
				}
				contacts++
				// The span of the masked text is the masked evidence.
				got := string([]rune(recent)[f.Start:f.End])
				if want := MaskContact(f.Evidence); got != want || got == f.Evidence {
					t.Errorf("masked text shows the contact as %q, evidence masks it as %q (raw %q)", got, want, f.Evidence)
				}
			}
			if contacts == 0 {
				t.Fatalf("no diversion.contact finding in %+v", v.Findings)
			}
		})
	}
}

// TestMaskedLeavesOrdinaryText: drafts without contacts or private data
// keep every character.
func TestMaskedLeavesOrdinaryText(t *testing.T) {
	in := defaultInspector(t)
	for _, text := range []string{
		"您好，请问有什么可以帮您？",
		"您的订单 SF1234567890 已发货", // a tracking number is no contact
		"请在平台内联系我们的客服，勿加陌生人微信",
		"Please add me on WhatsApp", // an invitation without a handle hides nothing
	} {
		conv := &Conversation{}
		if _, err := inspectInto(in, context.Background(), Request{Text: text}, conv, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got := conv.Recent[0].Text; got != text {
			t.Errorf("masked %q as %q", text, got)
		}
	}
}

func TestMaskContact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"加我微信 wxid_secrethandle", "加我微信 wx***************"},
		{"加我V信：wxid_abc123", "加我V信：wx*********"},
		{"QQ 1234567890", "QQ ******7890"},
		{"QQ 12345", "QQ ****5"},
		{"QQ 123456789", "QQ *****6789"},
		{"扣扣：１２３４５６７８", "扣扣：****５６７８"},
		{"qq12345678", "qq********"},
		{"telegram @secret_handle", "telegram @s************"},
		{"微信 zhangsan@qq.com", "微信 z*******@qq.com"},
		{"abc_12345是我的微信", "ab*******是我的微信"},
		{"加我微信 wxid_abc123.", "加我微信 wx*********."},                 // the full stop is not the id
		{"QQ 一二三四五六七八九", "QQ *****六七八九"},                           // spelled out
		{"QQ ①②③④⑤⑥⑦⑧", "QQ ****⑤⑥⑦⑧"},                             // circled
		{"Please add me on WhatsApp", "Please add me on WhatsApp"}, // no id
		{"加我微信", "加我微信"},
		{"QQ 1234", "QQ 1234"},
		{"@ab", "@ab"},
		{"", ""},
	} {
		got := MaskContact(tc.in)
		if got != tc.want {
			t.Errorf("MaskContact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if utf8.RuneCountInString(got) != utf8.RuneCountInString(tc.in) {
			t.Errorf("MaskContact(%q) = %q: code points moved", tc.in, got)
		}
		if again := MaskContact(got); again != got {
			t.Errorf("MaskContact not idempotent on %q: %q", got, again)
		}
	}
}
