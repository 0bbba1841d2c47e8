package api_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/store"
)

// panicky is a store whose Counters panics.
type panicky struct{ *store.Store }

func (panicky) Counters(context.Context, string, []string, time.Time) (store.Counts, error) {
	panic("boom")
}

// failing is a store whose Conversation fails.
type failing struct{ *store.Store }

func (failing) Conversation(context.Context, string, string) (store.Conversation, error) {
	return store.Conversation{}, errors.New("database on fire")
}

// TestOperations: health, readiness, metrics, the UI's mount, unknown
// paths, a panic and a failure.
func TestOperations(t *testing.T) {
	var logs bytes.Buffer
	ready := errors.New("consumer has not joined its group")
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ui:" + r.URL.Path)) })
	e := setup(t, testConfig(), func(o *api.Options) {
		o.Ready = func(context.Context) error { return ready }
		o.UI = ui
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.Store = panicky{o.Store.(*store.Store)}
	})

	if r := e.do(req{path: "/healthz"}); r.status != 200 || !strings.Contains(string(r.body), `"ok"`) {
		t.Errorf("/healthz: %d %s", r.status, r.body)
	}
	if r := e.do(req{path: "/readyz"}); r.status != 503 || !strings.Contains(string(r.body), "has not joined") {
		t.Errorf("/readyz not ready: %d %s", r.status, r.body)
	}
	ready = nil
	if r := e.do(req{path: "/readyz"}); r.status != 200 {
		t.Errorf("/readyz ready: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/", "/conversations/conv-ann", "/assets/app.js"} {
		if r := e.do(req{path: p}); r.status != 200 || string(r.body) != "ui:"+p {
			t.Errorf("UI %s: %d %s", p, r.status, r.body)
		}
	}
	wantError(t, "unknown API path", e.do(req{path: "/api/nope", hdr: key(keyAdminAcme)}), 404, "not_found")
	wantError(t, "wrong method", e.do(req{method: "PUT", path: "/api/alerts", hdr: key(keyAdminAcme)}), 404, "not_found")

	// A panic is a 500 of the contract, logged; the server goes on.
	wantError(t, "panic", e.do(req{path: "/api/counters", hdr: key(keyAdminAcme)}), 500, "internal")
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("the panic was not logged: %s", logs.String())
	}
	if r := e.do(req{path: "/api/me", hdr: key(keyAdminAcme)}); r.status != 200 {
		t.Errorf("after the panic: %d", r.status)
	}
	for _, secret := range []string{keyAdminAcme, keySupRed, jwtSecret, string(sessionKey)} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a secret was logged: %s", logs.String())
		}
	}

	// The metrics of what happened.
	r := e.do(req{path: "/metrics"})
	for _, want := range []string{
		`xunjian_console_http_requests_total{code="200",route="GET /api/me"}`,
		`xunjian_console_http_requests_total{code="500",route="GET /api/counters"}`,
		`xunjian_console_http_requests_total{code="200",route="ui"}`,
		`xunjian_console_sse_clients 0`,
		`xunjian_console_sse_dropped_total 0`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	_, cancel := e.sse(key(keySupRed))
	defer cancel()
	eventually(t, time.Second, "a client", func() bool { return e.hub.Clients() == 1 })
	if r := e.do(req{path: "/metrics"}); !strings.Contains(string(r.body), "xunjian_console_sse_clients 1") {
		t.Error("/metrics does not count the open stream")
	}
	if r := e.do(req{method: "POST", path: "/api/alerts/" + itoa(e.alerts["ann critical"].ID) + "/transition", hdr: key(keySupRed),
		body: `{"to":"resolved","version":9}`}); r.status != 409 {
		t.Fatalf("stale transition: %d", r.status)
	}
	if r := e.do(req{path: "/metrics"}); !strings.Contains(string(r.body), `xunjian_console_alert_transitions_total{result="conflict",to="resolved"} 1`) {
		t.Errorf("/metrics does not count the conflict: %s", r.body)
	}
}

// TestInternalError: a store failure is a 500 whose message says nothing
// of it; the log has it.
func TestInternalError(t *testing.T) {
	var logs bytes.Buffer
	e := setup(t, testConfig(), func(o *api.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.Store = failing{o.Store.(*store.Store)}
	})
	r := e.do(req{path: "/api/conversations/conv-ann", hdr: key(keyAdminAcme)})
	wantError(t, "store failure", r, 500, "internal")
	if strings.Contains(string(r.body), "fire") || !strings.Contains(logs.String(), "fire") {
		t.Errorf("body %s, log %s", r.body, logs.String())
	}
}

// TestNoUI: without a UI, other paths are not found.
func TestNoUI(t *testing.T) {
	e := setup(t, testConfig(), nil)
	wantError(t, "no UI", e.do(req{path: "/"}), 404, "not_found")
	if r := e.do(req{path: "/metrics"}); r.status != 200 {
		t.Errorf("/metrics: %d", r.status)
	}
}
