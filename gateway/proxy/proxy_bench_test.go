package proxy

import (
	"context"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// typicalBody is a ~300-byte send-message body.
const typicalBody = `{"conversation_id":"conv-7f3a9c2e-1b4d-4e8a-9c7d-2f1e0a3b5c6d","agent":{"id":"agent-0042","name":"Li Wei","team":"billing"},` +
	`"role":"agent","client_msg_id":"m-20250101-000123","message":{"type":"text","text":"您好，您的订单已经发货，快递单号 SF1234567890，请注意查收。如有问题请拨打 13800138000。"},"ts":1735689600123}`

func benchRoute(b *testing.B) *Compiled {
	return mustRoute(b, Route{Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent/id", Role: "/role"})
}

func BenchmarkMatch(b *testing.B) {
	p, err := New([]Route{
		{Path: "/api/messages/send", Upstream: "http://h", Text: "/t"},
		{Path: "/api/messages/edit", Upstream: "http://h", Text: "/t"},
		{Method: "PUT", Path: "/api/messages/send", Upstream: "http://h", Text: "/t"},
	})
	if err != nil {
		b.Fatal(err)
	}
	m, path := []byte("POST"), []byte("/api/messages/send")
	b.ReportAllocs()
	for b.Loop() {
		if p.Match(m, path) == nil {
			b.Fatal("no match")
		}
	}
}

func BenchmarkExtract(b *testing.B) {
	r := benchRoute(b)
	body := []byte(typicalBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Extract(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWithText(b *testing.B) {
	r := benchRoute(b)
	body := []byte(typicalBody)
	masked := "您好，您的订单已经发货，快递单号 SF**********，请注意查收。如有问题请拨打 138****8000。"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.WithText(body, masked); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendWithText(b *testing.B) {
	r := benchRoute(b)
	body := []byte(typicalBody)
	masked := "您好，您的订单已经发货，快递单号 SF**********，请注意查收。如有问题请拨打 138****8000。"
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = r.AppendWithText(buf[:0], body, masked); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForward is one loopback round trip to a fasthttp upstream.
func BenchmarkForward(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"ok":true}`) }}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	defer srv.Shutdown()
	r := mustRoute(b, Route{Upstream: "http://" + ln.Addr().String(), Text: "/message/text"})
	req := &fasthttp.Request{}
	req.Header.SetMethod("POST")
	req.SetRequestURI("/api/messages/send?x=1")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer t")
	body := []byte(typicalBody)
	ip := net.IPv4(10, 1, 2, 3)
	var resp fasthttp.Response
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Forward(context.Background(), req, ip, body, &resp); err != nil {
			b.Fatal(err)
		}
	}
}
