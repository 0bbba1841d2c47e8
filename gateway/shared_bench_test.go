package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
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
// state, on Redis (XUNJIAN_TEST_REDIS) and on a Redis Cluster
// (XUNJIAN_TEST_REDIS_CLUSTER), in the same run: the difference is what
// sharing the state adds per draft (two round trips; in the cluster the
// first goes to the agent's bucket's node and the conversation's at
// once). Events are off, so the commit carries the conversation only;
// alerts ride in the same script, and so does sampling once the agent has
// its daily minimum.
func BenchmarkDraft(b *testing.B) {
	for _, store := range []string{"local", "redis", "cluster"} {
		b.Run(store, func(b *testing.B) {
			var cfg config.Config
			cfg.Stream.Disabled = true
			cfg.Limits.Rates = ratelimit.Rates{AgentRate: 1e9}
			env := map[string]string{"redis": redistest.Env, "cluster": redistest.ClusterEnv}[store]
			if env != "" {
				addrs := os.Getenv(env)
				if addrs == "" {
					b.Skip(env + " not set")
				}
				cfg.SharedState = redisstate.Config{Addrs: strings.Split(addrs, ","), Cluster: store == "cluster",
					KeyPrefix: fmt.Sprintf("bench:%d:", time.Now().UnixNano()), Timeout: duration.Duration(50 * time.Millisecond)}
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
			i, degraded := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				m := message{text: "您好，您的订单已经发货了，请耐心等待", role: "agent", conversation: fmt.Sprintf("c%d", i%100), agent: "a1"}
				v, ok := s.verdict(&ctx, p, in, m)
				if !ok {
					b.Fatalf("draft %d: %s", i, ctx.Response.Body())
				}
				if v.Degraded {
					degraded++
				}
			}
			// A draft served on the gateway's own state (the server slower
			// than the timeout) would make the figure the fallback's.
			if degraded > 0 {
				b.Fatalf("%d of %d drafts degraded: the shared state did not answer within its timeout, so this is not its cost", degraded, i)
			}
		})
	}
}
