package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/xunjian/xunjian/console/notify"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// The console turns an alert event into notifications and hands them to
// a Dispatcher, which routes, throttles, signs and posts them. Here a
// local server stands in for a SIEM's webhook and checks the signature as
// a receiver would.
func ExampleDispatcher() {
	const secret = "example-signing-secret" // from the environment in the console
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(notify.HeaderTimestamp)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + string(body)))
		ok := hmac.Equal([]byte(r.Header.Get(notify.HeaderSignature)), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
		var b notify.WebhookBody
		_ = json.Unmarshal(body, &b)
		fmt.Println("signature ok:", ok)
		fmt.Println(b.Type, b.Alert.Level, b.Alert.Kind, b.Alert.Message)
		fmt.Println(b.URL)
	}))
	defer srv.Close()

	cfg := notify.Config{
		ConsoleURL: "https://console.example.com",
		Channels: []notify.ChannelConfig{
			{Name: "siem", Type: notify.TypeWebhook, URL: srv.URL + "/xunjian", SecretEnv: "SIEM_SECRET"},
		},
		Routes: []notify.RouteConfig{
			{Tenants: []string{"acme"}, MinLevel: "high", Channels: []string{"siem"}},
		},
	}
	ledger := &notify.MemLedger{} // the console's database in production
	d, err := notify.New(cfg, notify.Options{
		Getenv: func(string) string { return secret }, // os.Getenv in the console
		Ledger: ledger,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	e := &event.Event{
		EventID: "0190f3b2-7c4e-7a00-8000-0000000000aa", TS: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Tenant: "acme", ConversationID: "conv-42", AgentID: "agent-7",
		Alerts: []event.Alert{{Level: "high", Kind: "complaint", Message: "客户威胁投诉（手机 138****5678）"}},
	}
	ns, err := notify.FromEvent(e, "vip")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range ns {
		if err := d.Submit(context.Background(), n); err != nil {
			fmt.Println(err)
		}
	}
	// Close drains the queue: the post is made before it returns.
	if err := d.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println("done:", ledger.IsDone(ns[0].Key("siem")))
	// Output:
	// signature ok: true
	// alert high complaint 客户威胁投诉（手机 138****5678）
	// https://console.example.com/conversations/conv-42?event=0190f3b2-7c4e-7a00-8000-0000000000aa
	// done: true
}
