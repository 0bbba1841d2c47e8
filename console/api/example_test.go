package api_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/auth"
)

// The console command's wiring in short: the store, the API with its
// keys, the Hub the consumer publishes to, and a graceful shutdown.
func Example() {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite::memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// From the configuration file: `auth.api_keys` (hashes from
	// `xunjian hash-key`), `auth.jwt`, `auth.session_key_env`, ...
	cfg := api.Config{
		APIKeys: []auth.APIKey{{Name: "night-lead", Tenant: "acme", Role: "supervisor", Teams: []string{"night-shift"},
			Hash: auth.HashKey("xj_example-key-do-not-use")}},
		SessionKeyEnv: "XUNJIAN_CONSOLE_SESSION_KEY",
		SecureCookie:  true,
	}
	addr := "127.0.0.1:0"
	if err := api.CheckListen(addr, cfg.DevMode()); err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := api.New(cfg, api.Options{
		Store:    s,
		Hub:      api.NewHub(api.HubConfig{}),
		Registry: reg,
		Ready:    func(ctx context.Context) error { return nil }, // the database answers, the consumer has joined
		UI:       http.NotFoundHandler(),                         // the embedded web console
		Getenv: func(string) string { // os.Getenv in the command
			return "0123456789abcdef0123456789abcdef"
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The consumer, for each alert it stores:
	//	h.Hub().Publish(alert, api.KindAlert)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	// No WriteTimeout needed for the streams: each of their writes has its
	// own deadline (HubConfig.WriteTimeout).
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/me", nil)
	req.Header.Set("X-API-Key", "xj_example-key-do-not-use")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Printf("%d %s", res.StatusCode, b)

	// Shutdown: end the event streams first, or Shutdown would wait for
	// them.
	h.Close()
	shutdown, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 200 {"subject":"night-lead","tenant":"acme","role":"supervisor","teams":["night-shift"],"dev":false,"agent_id":"","permissions":[]}
}
