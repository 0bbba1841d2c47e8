package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/console/store/storetest"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// TestConsoleQA: the wiring of the quality audits. Events of a sampled
// conversation published to the samples topic become one review task
// (whatever the redeliveries); the console opens their sealed text with
// the gateway's key from the environment, for the dev admin, and logs it.
func TestConsoleQA(t *testing.T) {
	b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Topics: []string{"q.alerts", "q.findings", "q.samples"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := consoleConfig(storetest.DSN(t, "sqlite"), []string{b.Addr()}, "q.", newDingTalk(t))
	cfg.QA.TextKeyEnv, cfg.QA.TextKeyID = "XJ_TEST_TEXT_KEY", "k1"
	enc, err := event.NewEncryptor(testTextKey, "k1")
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, cfg)

	var values [][]byte
	ts := time.Now().Truncate(time.Millisecond)
	for i, raw := range []string{"我要投诉", "请加我微信 wx-RAW-MARKER"} {
		e := &event.Event{
			EventID: uuid.Must(uuid.NewV7()).String(), TS: ts.Add(time.Duration(i) * time.Second), Tenant: "default", ConversationID: "conv-qa",
			AgentID: "a1", Role: []string{event.RoleCustomer, event.RoleAgent}[i], Findings: []event.Finding{}, Reasons: []event.Reason{},
			Alerts: []event.Alert{}, Shadow: []event.Reason{}, PolicyRevision: "r1", Sampled: true, TextMasked: "masked",
		}
		sealed, err := enc.Encrypt([]byte(raw), []byte(e.EventID))
		if err != nil {
			t.Fatal(err)
		}
		e.TextEnc = &sealed
		v, err := e.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v, v) // and a redelivery
	}
	publish(t, b.Addr(), "q.samples", values...)

	var tasks struct {
		Tasks []struct {
			ID             int64  `json:"id"`
			ConversationID string `json:"conversation_id"`
			Reason         string `json:"reason"`
		} `json:"tasks"`
	}
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(r.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	waitFor(t, "the task", func() bool {
		get("/api/qa/tasks", &tasks)
		return len(tasks.Tasks) > 0
	})
	if len(tasks.Tasks) != 1 || tasks.Tasks[0].ConversationID != "conv-qa" || tasks.Tasks[0].Reason != "agent_min" {
		t.Fatalf("tasks %+v", tasks.Tasks)
	}
	var raw struct {
		Turns []struct {
			Text string `json:"text"`
		} `json:"turns"`
	}
	waitFor(t, "both sealed texts", func() bool {
		get(fmt.Sprintf("/api/qa/tasks/%d/raw", tasks.Tasks[0].ID), &raw)
		return len(raw.Turns) == 2
	})
	if !strings.Contains(raw.Turns[1].Text, "wx-RAW-MARKER") {
		t.Errorf("raw %+v", raw)
	}
	var log struct {
		Entries []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		} `json:"entries"`
	}
	get("/api/qa/audit-log", &log)
	if len(log.Entries) == 0 || log.Entries[0].Actor != "dev" || log.Entries[0].Action != "decrypt" {
		t.Errorf("audit log %+v", log.Entries)
	}
}
