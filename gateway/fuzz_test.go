package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/proxy"
)

// newBareServer builds a Server without listeners, for driving handlers
// directly. Its one proxy route points at a closed port.
func newBareServer(t testing.TB, log *slog.Logger) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	cfg := config.Config{Routes: []proxy.Route{{Method: "POST", Path: "/send", Upstream: dead, Text: "/message/text", Conversation: "/cid", Role: "/role"}}}
	// Events are spooled (nothing ships: no Serve), so the spool fills and
	// the full-spool path is driven too.
	cfg.Stream.Spool.Dir = t.TempDir()
	cfg.Stream.Spool.MaxBytes = 4 << 20
	cfg.Stream.EmbeddedBroker = "127.0.0.1:0"
	cfg.Defaults()
	cfg.Cache.MaxBytes = 1 << 20
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(context.Background(), &cfg, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// FuzzAgentRequest sends arbitrary bodies to every agent endpoint: the
// gateway never panics, always answers JSON, and answers 200/202 or an
// expected client or upstream error, never a 500.
func FuzzAgentRequest(f *testing.F) {
	for _, seed := range []string{
		`{"text":"加我微信 wxid_abc123","conversation_id":"c"}`,
		`{"type":"message","conversation_id":"c","text":"我要投诉"}`,
		`{"message":{"text":"保证明天到"},"cid":"c","role":"agent"}`,
		`{"text":"hi","context":[{"role":"customer","text":"12315","ts":"2026-01-01T00:00:00Z"}]}`,
		`{"text":`, "\xff", `{"text":"a","role":"robot"}`, `[]`, `null`, `{"message":{"text":1}}`,
	} {
		for path := range byte(3) {
			f.Add(path, []byte(seed))
		}
	}
	s := newBareServer(f, nil)
	paths := []string{"/v1/check", "/v1/events", "/send"}
	allowed := map[int]bool{200: true, 202: true, 400: true, 403: true, 409: true, 413: true, 415: true, 422: true, 429: true, 502: true, 503: true}
	f.Fuzz(func(t *testing.T, path byte, body []byte) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(paths[int(path)%len(paths)])
		if path < 128 { // the rest go without a Content-Type (415 on a route)
			ctx.Request.Header.SetContentType("application/json")
		}
		ctx.Request.SetBody(body)
		s.handleAgent(&ctx)
		status := ctx.Response.StatusCode()
		if !allowed[status] {
			t.Fatalf("status %d for %q: %s", status, body, ctx.Response.Body())
		}
		if !json.Valid(ctx.Response.Body()) {
			t.Fatalf("reply is not JSON: %q", ctx.Response.Body())
		}
	})
}

func TestPanicIsA500WithAnID(t *testing.T) {
	var logs bytes.Buffer
	s := newBareServer(t, slog.New(slog.NewJSONHandler(&logs, nil)))
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/boom")
	s.recoverer(func(*fasthttp.RequestCtx) { panic("boom") })(&ctx)
	var reply errorBody
	if err := json.Unmarshal(ctx.Response.Body(), &reply); err != nil {
		t.Fatalf("reply %q: %v", ctx.Response.Body(), err)
	}
	if ctx.Response.StatusCode() != 500 || reply.Error.Code != "internal" || !strings.Contains(reply.Error.Message, "id ") {
		t.Fatalf("reply %d %+v, want 500 internal with an error id", ctx.Response.StatusCode(), reply.Error)
	}
	id := reply.Error.Message[strings.LastIndex(reply.Error.Message, " ")+1:]
	if !strings.Contains(logs.String(), `"error_id":"`+id+`"`) || strings.Contains(reply.Error.Message, "goroutine") {
		t.Errorf("log %q lacks error id %s, or the reply holds a stack", logs.String(), id)
	}
}
