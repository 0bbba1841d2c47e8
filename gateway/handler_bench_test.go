package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
)

// draftTemplates are agent drafts as agents write them: order numbers,
// amounts, names, dates and phones vary from one to the next, so almost
// no two drafts are the same text. A few break the rules (a phone in
// clear, diversion, impatience), as on a real desk.
var draftTemplates = []string{
	"您好，您的订单%[1]d已经发货了，预计%[2]d月%[3]d日送达，请耐心等待",
	"亲，退款%[4]d.%[3]02d元已经原路退回，一般1-3个工作日到账哦",
	"%[5]s您好，这边帮您查询到包裹在%[6]s中转站，明天派送",
	"您的手机号是138%08[1]d对吧？我帮您登记一下",
	"这个问题我已经说了%[3]d遍了，您自己看订单%[1]d的详情",
	"亲，加我微信%[5]s%[2]d，我私下给您补%[4]d元",
	"Hi %[5]s, your order #%[1]d ships on %[2]d/%[3]d; the refund of $%[4]d is on its way.",
	"不好意思让您久等了，订单%[1]d的发票我们%[3]d个工作日内开好发到您邮箱",
	"您好，核对一下收货地址：%[6]s路%[3]d号，收件人%[5]s，对吗？",
	"我保证今天之内给您全额退款%[4]d元，不满意随时找我",
}

var names = []string{"王先生", "李女士", "张小姐", "陈先生", "Alice", "Bob", "刘阿姨", "赵同学"}
var places = []string{"杭州", "上海浦东", "广州白云", "成都双流", "北京朝阳", "深圳南山"}

// uniqueDraft returns the i-th unique draft text.
func uniqueDraft(i int) string {
	t := draftTemplates[i%len(draftTemplates)]
	return fmt.Sprintf(t, 202612000000+i*7919%1000000, 1+i%12, 1+i%28, 10+i*37%990, names[i%len(names)], places[i%len(places)])
}

// BenchmarkHandler is one draft's whole way through the agent port's
// handler, HTTP parsing and the reply included, with the event stream on
// (its spool on disk, shipped to the built-in broker by the running
// gateway): /v1/check with a JSON body, dev credentials from loopback.
// "unique" drafts are each new text (the traffic the findings cache
// cannot help); "repeated" cycle through 10 texts; "unique-nocache" has
// the caches off. 256 conversations, 32 agents.
func BenchmarkHandler(b *testing.B) {
	for _, tc := range []struct {
		name     string
		repeated bool
		nocache  bool
	}{
		{"unique", false, false},
		{"repeated", true, false},
		{"unique-nocache", false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var cfg config.Config
			cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
			cfg.Stream.Spool.Dir = b.TempDir()
			cfg.Stream.EmbeddedBroker = "127.0.0.1:0"
			cfg.Limits.Rates = ratelimit.Rates{AgentRate: 1e9}
			cfg.Cache.Disabled = tc.nocache
			cfg.Defaults()
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			s, err := New(context.Background(), &cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx) }()
			defer func() {
				cancel()
				<-done
				s.Close()
			}()
			body := func(i int) []byte {
				text := uniqueDraft(i)
				if tc.repeated {
					text = uniqueDraft(i % len(draftTemplates))
				}
				b, _ := json.Marshal(map[string]string{"text": text, "conversation_id": fmt.Sprintf("conv-%d", i%256), "agent_id": fmt.Sprintf("agent-%d", i%32)})
				return b
			}
			remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
			var req fasthttp.Request
			var rc fasthttp.RequestCtx
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				req.Reset()
				req.Header.SetMethod(fasthttp.MethodPost)
				req.SetRequestURI("/v1/check")
				req.Header.SetContentType("application/json")
				// Made here, not before the loop, since the loop's length is
				// not known: marshalling costs about 1 µs of the figure.
				req.SetBody(body(i))
				rc.Init(&req, remote, nil)
				s.handleAgent(&rc)
				if c := rc.Response.StatusCode(); c != fasthttp.StatusOK && c != fasthttp.StatusUnprocessableEntity {
					b.Fatalf("draft %d: %d %s", i, c, rc.Response.Body())
				}
				i++
			}
		})
	}
}
