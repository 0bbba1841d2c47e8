package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/console/store/storetest"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// alertEvent is the event of an agent draft in conversation conv that
// raised a complaint alert, as the gateway publishes it to the alerts
// topic.
func alertEvent(t *testing.T, conv string) (id string, value []byte) {
	t.Helper()
	ts := time.Now().Truncate(time.Millisecond)
	e := &event.Event{
		EventID: uuid.Must(uuid.NewV7()).String(), TS: ts, Tenant: "default", ConversationID: conv, AgentID: "a1",
		Role: event.RoleAgent, Action: event.ActionBlock, Findings: []event.Finding{}, Reasons: []event.Reason{},
		Alerts: []event.Alert{{Level: "high", Kind: "complaint", Message: "顾客威胁投诉或升级"}}, Shadow: []event.Reason{},
		PolicyRevision: "r1", TextMasked: "打138****5678找我",
		Context: []event.Turn{{Role: event.RoleCustomer, TS: ts.Add(-time.Second), TextMasked: "我要投诉", Delivered: true}},
	}
	b, err := e.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.EventID, b
}

// publish writes values to topic.
func publish(t *testing.T, broker, topic string, values ...[]byte) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint(i)), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleRestart: alerts published to the topics reach the chat
// channel once each, signed, and the wall (its list and its live stream,
// within a second); alerts published while the console is down are posted
// after it restarts on the same database, and none is posted twice.
func TestConsoleRestart(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) { testConsoleRestart(t, storetest.DSN(t, d)) })
	}
}

func testConsoleRestart(t *testing.T, dsn string) {
	b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Topics: []string{"t.alerts", "t.findings", "t.samples"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	robot := newDingTalk(t)

	var ids []string
	batch := func(n int) {
		var values [][]byte
		for range n {
			id, v := alertEvent(t, fmt.Sprintf("conv%03d", len(ids)))
			ids = append(ids, id)
			values = append(values, v)
		}
		publish(t, b.Addr(), "t.alerts", values...)
		publish(t, b.Addr(), "t.findings", values...) // the findings copy: stored once, no second alert
	}
	posted := func(n int) func() bool {
		return func() bool { return len(robot.events()) >= n }
	}

	first := serve(t, consoleConfig(dsn, []string{b.Addr()}, "t.", robot))
	batch(5)
	waitFor(t, "5 alerts posted", posted(5))
	live := first.stream(t)
	time.Sleep(100 * time.Millisecond) // the stream is subscribed
	batch(1)
	select {
	case id := <-live:
		if id != ids[5] {
			t.Errorf("the stream announced %s, want %s", id, ids[5])
		}
	case <-time.After(time.Second):
		t.Error("the new alert was not on the live stream within a second")
	}
	waitFor(t, "6 alerts posted", posted(6))
	first.stop()

	batch(5) // while the console is down
	second := serve(t, consoleConfig(dsn, []string{b.Addr()}, "t.", robot))
	waitFor(t, "11 alerts posted", posted(11))
	time.Sleep(500 * time.Millisecond) // room for a duplicate to show
	p, refused := robot.counts()
	if len(refused) > 0 {
		t.Errorf("the robot refused %d posts: %v", len(refused), refused)
	}
	for key, n := range p {
		if n != 1 {
			t.Errorf("alert %s posted %d times, want once", key, n)
		}
	}
	listed, events := second.alertEvents(t, "default"), robot.events()
	for _, id := range ids {
		if events[id] != 1 || listed[id] != 1 {
			t.Errorf("event %s: %d alerts posted, %d listed on the wall, want 1 and 1", id, events[id], listed[id])
		}
	}
	if len(events) != len(ids) {
		t.Errorf("%d events posted, want %d", len(events), len(ids))
	}
	// Operations see the consumer, the deliveries and the streams.
	resp, err := http.Get(second.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`xunjian_console_consumer_lag{partition="0",topic="t.alerts"}`,
		`xunjian_console_events_total{result="stored",topic="t.alerts"}`,
		`xunjian_console_deliveries_total{channel="ops",result="delivered"}`,
		`xunjian_console_sse_clients`,
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
