package replay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

func TestZZScratch(t *testing.T) {
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(p, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []struct{ role, text string }{
		{"agent", "您好，请问有什么可以帮您？"},
		{"agent", "快点说，我很忙"},
		{"agent", "我都说了多少遍了，你能不能认真看？"},
		{"agent", "Hurry up, I don't have all day."},
		{"agent", "I already told you twice, just read it."},
		{"agent", "您的手机 13812345678 已登记"},
		{"agent", "您的身份证号 11010519491231002X 已核实"},
		{"agent", "亲，加我V信 wxid_abc123 私聊"},
		{"agent", "你是不是傻，看不懂字吗"},
		{"agent", "保证明天一定送到"},
		{"agent", "Please send me the verification code you received."},
		{"agent", "Your order has shipped and will arrive Tuesday."},
		{"customer", "我的手机是13912345678，快点处理"},
		{"customer", "我的快递三天了还没到"},
		{"customer", "你们太慢了，什么破服务"},
		{"customer", "真的太差劲了，一直没人管"},
		{"customer", "This is ridiculous, terrible service."},
		{"agent", "Call me at +1 415 555 2671 or email john.smith@example.com"},
		{"agent", "烦不烦啊，自己去看说明书"},
		{"agent", "Whatever, not my problem."},
		{"agent", "赶紧的，别磨蹭"},
	}
	conv := &inspect.Conversation{ID: "c"}
	now := time.Now()
	for _, m := range msgs {
		now = now.Add(time.Minute)
		v, err := in.Inspect(context.Background(), inspect.Request{Text: m.text, Role: m.role}, conv, now)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%-8s %-7s risk=%.2f %q\n", m.role, v.Action, conv.Risk, m.text)
		for _, f := range v.Findings {
			fmt.Printf("    F %s %s %q\n", f.Name(), f.Severity, f.Evidence)
		}
		for _, r := range v.Reasons {
			fmt.Printf("    R %s\n", r.Rule)
		}
		for _, a := range v.Alerts {
			fmt.Printf("    A %s/%s\n", a.Kind, a.Level)
		}
	}
}
