package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/internal/draftgen"
)

// BenchmarkHandler is one draft's whole way through the agent port's
// handler, HTTP parsing and the reply included, with the event stream on
// (its spool on disk, shipped to the built-in broker by the running
// gateway): /v1/check with a JSON body, dev credentials from loopback.
// "unique" drafts are each new text (the traffic the findings cache
// cannot help); "repeated" cycle through 10 texts; "unique-nocache" has
// the caches off. 256 conversations, 32 agents. retained-B/op is the heap
// still live after the run per draft (what the caches keep: the garbage
// collector scans it on every cycle).
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
				text := draftgen.Unique(i)
				if tc.repeated {
					text = draftgen.Unique(i % draftgen.Templates)
				}
				b, _ := json.Marshal(map[string]string{"text": text, "conversation_id": fmt.Sprintf("conv-%d", i%256), "agent_id": fmt.Sprintf("agent-%d", i%32)})
				return b
			}
			remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
			var req fasthttp.Request
			var rc fasthttp.RequestCtx
			i := 0
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
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
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(i), "retained-B/op")
		})
	}
}
