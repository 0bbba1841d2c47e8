package consume

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/console/notify"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

var topics = Topics{Alerts: DefaultAlerts, Findings: DefaultFindings, Samples: DefaultSamples}

// broker starts an in-process Kafka-protocol broker with the three topics.
func broker(t *testing.T) string {
	t.Helper()
	b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Topics: []string{topics.Alerts, topics.Findings, topics.Samples}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// publish writes events to topic, keyed by conversation as the gateway does.
func publish(t *testing.T, addr, topic string, values ...[]byte) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte("k"), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// alertEvent is an agent draft's event with one alert per kind.
func alertEvent(tenant, conv string, ts time.Time, kinds ...string) *event.Event {
	e := &event.Event{
		EventID: uuid.Must(uuid.NewV7()).String(), TS: ts.Truncate(time.Millisecond), Tenant: tenant, ConversationID: conv, AgentID: "a1",
		Role: event.RoleAgent, Action: event.ActionBlock, Findings: []event.Finding{}, Reasons: []event.Reason{}, Alerts: []event.Alert{},
		Shadow: []event.Reason{}, PolicyRevision: "r1", TextMasked: "你是不是傻，打138****5678",
		Context: []event.Turn{{Role: event.RoleCustomer, TS: ts.Add(-time.Minute).Truncate(time.Millisecond), TextMasked: "我要投诉", Delivered: true}},
	}
	for _, k := range kinds {
		e.Alerts = append(e.Alerts, event.Alert{Level: "high", Kind: k, Message: k + " alert"})
	}
	return e
}

func marshal(t *testing.T, e *event.Event) []byte {
	t.Helper()
	b, err := e.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hub keeps what was published.
type hub struct {
	mu     sync.Mutex
	alerts []store.Alert
}

func (h *hub) PublishAlert(a store.Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.alerts = append(h.alerts, a)
}

func (h *hub) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.alerts)
}

// notifier keeps what was submitted.
type notifier struct {
	mu sync.Mutex
	ns []notify.Notification
}

func (n *notifier) Submit(_ context.Context, x notify.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ns = append(n.ns, x)
	return nil
}

func (n *notifier) keys() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for _, x := range n.ns {
		out[x.EventID+"/"+x.Kind]++
	}
	return out
}

// flaky fails its first n Ingest calls, as a database that restarts.
type flaky struct {
	*store.Store
	mu sync.Mutex
	n  int
}

func (f *flaky) Ingest(ctx context.Context, ev *event.Event, topic string, partition int, offset int64) (bool, error) {
	f.mu.Lock()
	if f.n > 0 {
		f.n--
		f.mu.Unlock()
		return false, errors.New("database is restarting")
	}
	f.mu.Unlock()
	return f.Store.Ingest(ctx, ev, topic, partition, offset)
}

// run starts a consumer of addr on st until the returned stop is called.
func run(t *testing.T, addr string, st Store, h *hub, n *notifier) (stop func()) {
	t.Helper()
	c, err := New(Config{Brokers: []string{addr}}, st, Options{Publisher: h, Notifier: n, RetryDelay: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumer: events of the three topics are stored; the alerts of the
// alerts topic are published once and offered to the notifier; a message
// that is not an event is skipped, a failing database retried; a second
// consumer of the group after a restart stores nothing twice and
// publishes nothing twice.
func TestConsumer(t *testing.T) {
	addr := broker(t)
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/console.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now().Add(-time.Minute)
	a := alertEvent("t1", "c1", t0, "complaint", "risk")
	b := alertEvent("t2", "c2", t0.Add(time.Second), "wait")
	publish(t, addr, topics.Findings, marshal(t, a), marshal(t, b))
	publish(t, addr, topics.Alerts, []byte(`{"not": "an event"}`), []byte("\xff\xfe"), marshal(t, a), marshal(t, b))

	h, n := &hub{}, &notifier{}
	db := &flaky{Store: st, n: 3}
	stop := run(t, addr, db, h, n)
	waitFor(t, "3 alerts published", func() bool { return h.len() == 3 })
	waitFor(t, "3 alerts offered", func() bool { return len(n.keys()) == 3 })
	stop()
	if k := n.keys(); k[a.EventID+"/complaint"] != 1 || k[a.EventID+"/risk"] != 1 || k[b.EventID+"/wait"] != 1 {
		t.Errorf("offered %v", k)
	}
	for _, tc := range []struct{ tenant, id string }{{"t1", a.EventID}, {"t2", b.EventID}} {
		got, err := st.EventAlerts(context.Background(), tc.tenant, tc.id)
		if err != nil || len(got) == 0 {
			t.Errorf("%s: alerts %v, %v", tc.id, got, err)
		}
	}
	if c, err := st.Conversation(context.Background(), "t1", "c1"); err != nil || len(c.Turns) != 2 {
		t.Errorf("conversation c1: %+v, %v; want the context turn and the draft", c, err)
	}

	// A restart: the group's offsets were committed, so nothing is read
	// again; a new alert is.
	c := alertEvent("t1", "c3", t0.Add(2*time.Second), "complaint")
	publish(t, addr, topics.Alerts, marshal(t, c))
	h2, n2 := &hub{}, &notifier{}
	stop = run(t, addr, st, h2, n2)
	waitFor(t, "the new alert", func() bool { return h2.len() == 1 })
	time.Sleep(300 * time.Millisecond)
	stop()
	if h2.len() != 1 || h2.alerts[0].EventID != c.EventID {
		t.Errorf("after restart published %+v, want only the new alert", h2.alerts)
	}
	// Offsets committed: the old events were not even read again (a read
	// would offer their alerts to the notifier once more).
	if k := n2.keys(); len(k) != 1 || k[c.EventID+"/complaint"] != 1 {
		t.Errorf("after restart offered %v, want only the new alert", k)
	}
}

// TestRecover: the alerts of the window are offered again with the masked
// turns of their conversations up to them.
func TestRecover(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	old := alertEvent("t1", "c0", now.Add(-48*time.Hour), "complaint")
	a := alertEvent("t1", "c1", now.Add(-time.Hour), "complaint")
	for i, e := range []*event.Event{old, a} {
		if _, err := st.Ingest(context.Background(), e, topics.Alerts, 0, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	n := &notifier{}
	c, err := New(Config{Brokers: []string{"127.0.0.1:1"}}, st, Options{Notifier: n})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Recover(context.Background(), now.Add(-24*time.Hour))
	if err != nil || got != 1 {
		t.Fatalf("Recover = %d, %v; want 1", got, err)
	}
	x := n.ns[0]
	if x.EventID != a.EventID || x.Kind != "complaint" || x.Level != notify.LevelHigh || x.Tenant != "t1" || len(x.Context) != 2 ||
		x.Context[0].TextMasked != "我要投诉" || x.Context[1].TextMasked != a.TextMasked {
		t.Errorf("recovered %+v", x)
	}
}
