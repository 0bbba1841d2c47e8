package api_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/store"
)

// synthetic returns an alert of tenant and team as the consumer would
// publish it.
func synthetic(id int64, tenant, team, message string) store.Alert {
	return store.Alert{ID: id, EventID: fmt.Sprintf("ev-%d", id), Tenant: tenant, Team: team, AgentID: "a", ConversationID: "c",
		Level: store.LevelHigh, Kind: "complaint", Message: message, State: store.StateNew, Version: 1,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
}

// TestStreamScope: a subscriber gets a published alert within a second,
// and never one of another tenant or team; a transition's update reaches
// the streams that see it.
func TestStreamScope(t *testing.T) {
	e := setup(t, testConfig(), nil)
	red, closeRed := e.sse(key(keySupRed))
	defer closeRed()
	admin, closeAdmin := e.sse(key(keyAdminAcme))
	defer closeAdmin()
	none, closeNone := e.sse(key(keySupNone))
	defer closeNone()
	eventually(t, time.Second, "3 clients", func() bool { return e.hub.Clients() == 3 })

	// Published in this order; each stream keeps the order, so an alert it
	// should not see would come before the one it should.
	start := time.Now()
	e.hub.Publish(synthetic(101, "globex", "red", "globex red"), api.KindAlert)
	e.hub.Publish(synthetic(102, "acme", "blue", "acme blue"), api.KindAlert)
	e.hub.Publish(synthetic(103, "acme", "", "acme teamless"), api.KindAlert)
	e.hub.Publish(synthetic(104, "acme", "red", "acme red"), api.KindAlert)
	for _, tc := range []struct {
		name string
		ch   <-chan sseMsg
		want []string
	}{
		{"supervisor red", red, []string{"acme red"}},
		{"supervisor of no team", none, []string{"acme teamless"}},
		{"admin acme", admin, []string{"acme blue", "acme teamless", "acme red"}},
	} {
		for _, w := range tc.want {
			kind, a := next(t, tc.ch, time.Second)
			if kind != "alert" || a.Message != w || a.Tenant != "acme" {
				t.Errorf("%s: %s %q, want alert %q", tc.name, kind, a.Message, w)
			}
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the alerts took %s to arrive", d)
	}

	// A transition publishes the update to those who see the alert.
	a := e.alerts["ann critical"]
	r := e.do(req{method: "POST", path: "/api/alerts/" + itoa(a.ID) + "/transition", hdr: key(keySupRed2), body: `{"to":"acknowledged","version":1}`})
	if r.status != 200 {
		t.Fatalf("transition: %d %s", r.status, r.body)
	}
	for name, ch := range map[string]<-chan sseMsg{"red": red, "admin": admin} {
		kind, got := next(t, ch, time.Second)
		if kind != "update" || got.ID != a.ID || got.State != "acknowledged" || got.Version != 2 {
			t.Errorf("%s: %s %+v, want the update", name, kind, got)
		}
	}
	// The supervisor of no team gets nothing of it: the next thing it
	// sees is the next teamless alert.
	e.hub.Publish(synthetic(105, "acme", "", "acme teamless 2"), api.KindAlert)
	if _, got := next(t, none, time.Second); got.Message != "acme teamless 2" {
		t.Errorf("supervisor of no team: %q", got.Message)
	}

	defer func() {
		if recover() == nil {
			t.Error("Publish of an unknown kind did not panic")
		}
	}()
	e.hub.Publish(synthetic(106, "acme", "", "x"), "alarm")
}

// TestStreamByCookie: a browser's stream (EventSource sends the cookie,
// no header) ends when the session expires.
func TestStreamByCookie(t *testing.T) {
	e := setup(t, testConfig(), nil)
	exp := e.t0.Add(time.Second)
	c, _ := e.signIn(bearerHdr(token(t, hs256, claims(e.t0, set("exp", exp.Unix())), jwtSecret)))
	ch, cancel := e.sse(map[string]string{"Cookie": c.Name + "=" + c.Value})
	defer cancel()
	first := <-ch
	if first.retry != "3000" {
		t.Errorf("first message %+v, want retry: 3000", first)
	}
	e.hub.Publish(synthetic(201, "acme", "red", "for li.wei"), api.KindAlert)
	if _, a := next(t, ch, time.Second); a.Message != "for li.wei" {
		t.Errorf("got %q", a.Message)
	}
	// The stream's timer is set from the handler's clock: 1 s of real
	// time at most (the clock stands still at t0).
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				if e.hub.Clients() != 0 {
					t.Errorf("%d clients after the session expired", e.hub.Clients())
				}
				return
			}
			if m.event != "" {
				t.Errorf("event after expiry? %+v", m)
			}
		case <-deadline:
			t.Fatal("the stream outlived its session")
		}
	}
}

// TestStreamPing: an idle stream gets a ping comment.
func TestStreamPing(t *testing.T) {
	e := setup(t, testConfig(), func(o *api.Options) { o.Hub = api.NewHub(api.HubConfig{Ping: 30 * time.Millisecond}) })
	ch, cancel := e.sse(key(keySupRed))
	defer cancel()
	deadline := time.After(time.Second)
	for pings := 0; pings < 2; {
		select {
		case m := <-ch:
			if m.comment == "ping" {
				pings++
			}
		case <-deadline:
			t.Fatalf("%d pings in a second, want 2", pings)
		}
	}
}

// TestStreamSlowClient: a client that stops reading is dropped; Publish
// never waits for it, and the other clients keep their stream.
func TestStreamSlowClient(t *testing.T) {
	e := setup(t, testConfig(), func(o *api.Options) {
		o.Hub = api.NewHub(api.HubConfig{Buffer: 4, WriteTimeout: 200 * time.Millisecond})
	})
	// The slow client: asks for the stream and never reads.
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/stream HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nConnection: close\r\n\r\n", e.srv.Listener.Addr(), keyAdminAcme)
	eventually(t, time.Second, "the slow client subscribed", func() bool { return e.hub.Clients() == 1 })
	fast, cancel := e.sse(key(keySupRed))
	defer cancel()
	eventually(t, time.Second, "the fast client subscribed", func() bool { return e.hub.Clients() == 2 })

	// 200 alerts of 256 KiB, 50 MiB in all: more than the socket buffers
	// hold, so the slow client's writer blocks and its queue fills.
	big := strings.Repeat("长", 256<<10/3)
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range 200 {
			e.hub.Publish(synthetic(int64(1000+i), "acme", "blue", big), api.KindAlert)
		}
	}()
	select {
	case <-published:
	case <-time.After(3 * time.Second):
		t.Fatal("Publish is blocked by the slow client")
	}
	if e.hub.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", e.hub.Dropped())
	}
	eventually(t, time.Second, "the slow client gone", func() bool { return e.hub.Clients() == 1 })

	// The fast client (red) saw none of blue's, and still streams.
	e.hub.Publish(synthetic(2000, "acme", "red", "still here"), api.KindAlert)
	if _, a := next(t, fast, time.Second); a.Message != "still here" {
		t.Errorf("fast client got %q", a.Message)
	}
	// The slow client's connection was let go: reading it now comes to
	// an end instead of waiting for ever.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the slow client's stream did not end")
		}
	}
}

// TestStreamCleanup: a client that goes is unsubscribed; Hub.Close ends
// every stream and refuses new ones.
func TestStreamCleanup(t *testing.T) {
	e := setup(t, testConfig(), nil)
	ch1, cancel1 := e.sse(key(keySupRed))
	ch2, cancel2 := e.sse(key(keyAdminAcme))
	defer cancel2()
	eventually(t, time.Second, "2 clients", func() bool { return e.hub.Clients() == 2 })
	cancel1()
	eventually(t, 2*time.Second, "the client that left unsubscribed", func() bool { return e.hub.Clients() == 1 })
	for range ch1 { // drained and closed
	}

	e.h.Close()
	ended := time.After(2 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch2:
		case <-ended:
			t.Fatal("Hub.Close left a stream open")
		}
	}
	if n := e.hub.Clients(); n != 0 {
		t.Errorf("%d clients after Close", n)
	}
	wantError(t, "stream after Close", e.do(req{path: "/api/stream", hdr: key(keySupRed)}), http.StatusServiceUnavailable, "unavailable")
	e.hub.Publish(synthetic(1, "acme", "red", "after close"), api.KindAlert) // does nothing, does not block
}

// TestStreamLimit: streams beyond MaxClients are refused.
func TestStreamLimit(t *testing.T) {
	e := setup(t, testConfig(), func(o *api.Options) { o.Hub = api.NewHub(api.HubConfig{MaxClients: 1}) })
	_, cancel := e.sse(key(keySupRed))
	defer cancel()
	wantError(t, "second stream", e.do(req{path: "/api/stream", hdr: key(keySupRed)}), http.StatusServiceUnavailable, "unavailable")
}
