package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/internal/redisstate"
	"github.com/xunjian/xunjian/gateway/internal/redisstate/redistest"
)

// BenchmarkDraft runs a draft's whole way through the gateway but HTTP
// (limits, conversation, inspection, commit, reply) on the in-process
// state and on Redis (XUNJIAN_TEST_REDIS), in the same run: the difference
// is what sharing the state adds per draft (two round trips). Events are
// off, so the commit carries the conversation only; alerts and sampling
// ride in the same script.
func BenchmarkDraft(b *testing.B) {
	for _, store := range []string{"local", "redis"} {
		b.Run(store, func(b *testing.B) {
			var cfg config.Config
			cfg.Stream.Disabled = true
			cfg.Limits.Rates = ratelimit.Rates{AgentRate: 1e9}
			if store == "redis" {
				addr := os.Getenv(redistest.Env)
				if addr == "" {
					b.Skip(redistest.Env + " not set")
				}
				cfg.SharedState = redisstate.Config{Addrs: []string{addr}, KeyPrefix: fmt.Sprintf("bench:%d:", time.Now().UnixNano()),
					Timeout: duration.Duration(50 * time.Millisecond)}
			}
			cfg.Defaults()
			cfg.Limits.InspectTimeout = duration.Duration(time.Second)
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			s, err := New(context.Background(), &cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			in := s.inspector()
			p := auth.Principal{Tenant: auth.DevTenant, Scopes: auth.ScopeAgent}
			var ctx fasthttp.RequestCtx
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				m := message{text: "您好，您的订单已经发货了，请耐心等待", role: "agent", conversation: fmt.Sprintf("c%d", i%100), agent: "a1"}
				if _, ok := s.verdict(&ctx, p, in, m); !ok {
					b.Fatalf("draft %d: %s", i, ctx.Response.Body())
				}
			}
		})
	}
}
