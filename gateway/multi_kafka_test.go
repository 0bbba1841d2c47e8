//go:build kafka

package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/internal/redisstate"
	"github.com/xunjian/xunjian/gateway/internal/redisstate/redistest"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/alerting"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
	"github.com/xunjian/xunjian/gateway/stream/sampling"
)

// TestMultiInstance runs three gateways on loopback behind a round-robin
// client, sharing a real Redis and a real Kafka broker (KAFKA_BROKERS),
// and checks that together they decide as one gateway would: risk
// accumulates across them, each (conversation, kind) alerts as one
// gateway's deduplication admits, an ack is good once on any, the
// per-agent sampling minimum and rate limit hold for all three (not three
// times over), and every event arrives once by event_id. Then Redis stops
// for 5 s mid-run: no request outlasts its deadline, degrade serves
// flagged drafts and fail_closed refuses them, and once Redis is back the
// gateways share again without a restart.
func TestMultiInstance(t *testing.T) {
	brokers := strings.TrimSpace(os.Getenv("KAFKA_BROKERS"))
	if brokers == "" {
		t.Fatal("KAFKA_BROKERS is not set: the kafka build tag needs a broker (scripts/kafka.sh start)")
	}
	srv := redistest.Start(t)
	run := fmt.Sprintf("mi%d", time.Now().UnixNano())
	topics := stream.Topics{Findings: run + ".findings", Alerts: run + ".alerts", Samples: run + ".samples"}
	const window = time.Hour
	cfg := func(mode string) config.Config {
		var c config.Config
		c.Stream.Brokers = strings.Split(brokers, ",")
		c.Stream.Topics = topics
		c.Stream.Alerts = alerting.Config{Window: duration.Duration(window)}
		c.Stream.Sampling = sampling.Config{HighRiskAt: 1, AgentDailyMin: 2}
		c.Ack.SecretEnv = "ACK_SECRET"
		// Ten drafts per agent in all, then one per 100 s.
		c.Limits.Rates = ratelimit.Rates{AgentRate: 0.01, AgentBurst: 10, CredentialRate: 1000}
		// Generous deadlines for a busy machine; the outage check holds
		// every request to them.
		c.Limits.InspectTimeout = duration.Duration(500 * time.Millisecond)
		c.SharedState = redisstate.Config{Addrs: []string{srv.Addr}, KeyPrefix: run + ":", Mode: mode,
			Timeout: duration.Duration(100 * time.Millisecond), BreakerOpen: duration.Duration(200 * time.Millisecond)}
		return c
	}
	gws := []*gw{
		start(t, cfg(redisstate.ModeDegrade), "", sharedEnv),
		start(t, cfg(redisstate.ModeDegrade), "", sharedEnv),
		start(t, cfg(redisstate.ModeDegrade), "", sharedEnv),
	}
	closed := start(t, cfg(redisstate.ModeFailClosed), "", sharedEnv)
	// One gateway alone, without Redis or events: what the three together
	// must decide.
	var bc config.Config
	bc.Stream.Disabled = true
	bc.Limits.InspectTimeout = duration.Duration(500 * time.Millisecond)
	baseline := start(t, bc, "", nil)

	var next atomic.Int64
	rr := func() *gw { return gws[next.Add(1)%3] }
	var (
		mu        sync.Mutex
		decisions = map[string]bool{} // decision ids whose event must reach the findings topic
		dedup     = alerting.New(alerting.Config{Window: duration.Duration(window)})
		admitted  = map[string]int{} // "conv/kind" → alerts one gateway admits
	)
	// send posts one message round-robin and the same to the baseline,
	// and requires the same decision of both.
	send := func(path, conv, agent, role, text string) reply {
		t.Helper()
		body := fmt.Sprintf(`{"type":"message","conversation_id":%q,"agent_id":%q,"role":%q,"text":%q}`, conv, agent, role, text)
		if path == "/v1/check" {
			body = fmt.Sprintf(`{"conversation_id":%q,"agent_id":%q,"role":%q,"text":%q}`, conv, agent, role, text)
		}
		r := do(t, "POST", rr().agent+path, body)
		b := do(t, "POST", baseline.agent+path, body)
		if r.Status != b.Status || alertsOf(r) != alertsOf(b) || r.Body["action"] != b.Body["action"] {
			t.Errorf("%s %s %q: gateways %d %s alerts %q; one gateway %d %s alerts %q", conv, role, text, r.Status, r.Body["action"], alertsOf(r), b.Status, b.Body["action"], alertsOf(b))
		}
		if r.Body["degraded"] != nil {
			t.Errorf("%s: degraded with Redis up: %s", conv, r.Raw)
		}
		mu.Lock()
		defer mu.Unlock()
		if id, _ := r.Body["decision_id"].(string); id != "" {
			fs, _ := r.Body["findings"].([]any)
			if len(fs) > 0 || r.Body["action"] != "allow" {
				decisions[id] = true
			}
			as, _ := r.Body["alerts"].([]any)
			for _, a := range as {
				m := a.(map[string]any)
				kind, level := m["kind"].(string), m["level"].(string)
				if ok, _ := dedup.Admit("", conv, kind, level, time.Now()); ok {
					admitted[conv+"/"+kind]++
				}
			}
		}
		return r
	}

	// Customers escalating across the three gateways, one agent each
	// conversation answering.
	customer := []string{"我的快递一周了还没到，怎么回事", "再不退款我就去12315投诉", "我已经找了律师，还要去消协曝光你们"}
	for c := range 6 {
		conv, agent := fmt.Sprintf("%s-c%d", run, c), fmt.Sprintf("agent%d", c)
		for _, text := range customer {
			send("/v1/events", conv, agent, "customer", text)
		}
		send("/v1/check", conv, agent, "agent", "非常抱歉，马上为您处理")
	}

	// The sampling minimum: one agent's six conversations, two sampled in
	// all.
	for c := range 6 {
		send("/v1/check", fmt.Sprintf("%s-s%d", run, c), "sampled-agent", "agent", "您好，订单已发货")
	}

	// An ack issued by one gateway is good once, on any other.
	const promise = "保证明天一定送到，百分百没问题"
	ackOnce := func(conv string) {
		t.Helper()
		body := fmt.Sprintf(`{"conversation_id":%q,"agent_id":"acker","text":%q%%s}`, conv, promise)
		token, _ := do(t, "POST", gws[0].agent+"/v1/check", fmt.Sprintf(body, "")).Body["ack"].(string)
		if r := do(t, "POST", gws[1].agent+"/v1/check", fmt.Sprintf(body, `,"ack":"`+token+`"`)); r.Status != 200 || r.Body["acked"] != true {
			t.Errorf("%s: ack of gateway 0 on gateway 1: %d %s", conv, r.Status, r.Raw)
		}
		if r := do(t, "POST", gws[2].agent+"/v1/check", fmt.Sprintf(body, `,"ack":"`+token+`"`)); r.Status != 403 || r.errCode() != "ack_used" {
			t.Errorf("%s: second use on gateway 2: %d %s, want 403 ack_used", conv, r.Status, r.Raw)
		}
	}
	ackOnce(run + "-ack1")

	// The rate limit: burst 10 for the agent across the three gateways.
	limitOnce := func(agent string) {
		t.Helper()
		ok := 0
		for i := range 20 {
			if r := do(t, "POST", rr().agent+"/v1/check", fmt.Sprintf(`{"text":"您好","agent_id":%q,"conversation_id":"%s-r%d"}`, agent, run, i)); r.Status == 200 {
				ok++
			} else if r.Status != 429 {
				t.Errorf("rate limit: %d %s", r.Status, r.Raw)
			}
		}
		if ok != 10 {
			t.Errorf("agent %s: %d of 20 drafts allowed across the gateways, want the burst of 10", agent, ok)
		}
	}
	limitOnce("busy1")

	// Redis away for 5 s while drafts keep coming: none outlasts its
	// deadline; degrade answers flagged drafts, fail_closed 503.
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := 500*time.Millisecond + 3*100*time.Millisecond + 700*time.Millisecond // inspection, three calls, slack
	var outage struct {
		sync.Mutex
		slowest             time.Duration
		degraded, refused   int
		other               []string
		degradedDecisionIDs []string
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			g := gws[i%3]
			if i%4 == 3 {
				g = closed
			}
			start := time.Now()
			resp, err := client.Post(g.agent+"/v1/check", "application/json",
				strings.NewReader(fmt.Sprintf(`{"text":"您好 13812345678","agent_id":"out%d","conversation_id":"%s-o%d"}`, i, run, i%5)))
			d := time.Since(start)
			outage.Lock()
			outage.slowest = max(outage.slowest, d)
			if err != nil {
				outage.other = append(outage.other, err.Error())
			} else {
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r := reply{Status: resp.StatusCode, Raw: string(raw)}
				switch {
				case g == closed && r.Status == 503 && strings.Contains(r.Raw, "state_unavailable"):
					outage.refused++
				case g != closed && r.Status == 200 && strings.Contains(r.Raw, `"degraded":true`):
					outage.degraded++
					if i := strings.Index(r.Raw, `"decision_id":"`); i >= 0 {
						outage.degradedDecisionIDs = append(outage.degradedDecisionIDs, r.Raw[i+15:i+15+36])
					}
				case r.Status == 200:
				default:
					outage.other = append(outage.other, fmt.Sprintf("%d %s", r.Status, r.Raw))
				}
			}
			outage.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	})
	time.Sleep(300 * time.Millisecond)
	srv.Stop()
	time.Sleep(5 * time.Second)
	srv.Restart()
	time.Sleep(2 * time.Second) // the gateways find it again by themselves
	close(stop)
	wg.Wait()
	if outage.slowest > deadline || len(outage.other) > 0 || outage.degraded == 0 || outage.refused == 0 {
		t.Errorf("during the outage: slowest %v (deadline %v), %d degraded, %d refused, others %q", outage.slowest, deadline, outage.degraded, outage.refused, outage.other)
	}
	t.Logf("outage: slowest request %v; %d degraded, %d refused 503", outage.slowest, outage.degraded, outage.refused)

	// Back, and empty: shared again, across the gateways.
	ackOnce(run + "-ack2")
	limitOnce("busy2")

	// The topics: every finding once by event_id, one alert per
	// conversation and kind as one gateway admits, two sampled
	// conversations of the sampled agent, degraded events flagged.
	broker := strings.Split(brokers, ",")[0]
	findings := map[string]*event.Event{}
	consume(t, broker, topics.Findings, func(e *event.Event) bool {
		findings[e.EventID] = e
		for id := range decisions {
			if findings[id] == nil {
				return false
			}
		}
		for _, id := range outage.degradedDecisionIDs {
			if findings[id] == nil {
				return false
			}
		}
		return true
	})
	for id := range decisions {
		if findings[id] == nil {
			t.Errorf("decision %s has no event on the findings topic", id)
		}
	}
	for _, id := range outage.degradedDecisionIDs {
		if e := findings[id]; e == nil || !e.Degraded {
			t.Errorf("degraded decision %s: event %+v, want it flagged degraded", id, e)
		}
	}
	alerts := map[string]int{}
	seen := map[string]bool{}
	wantAlerts := 0
	for _, n := range admitted {
		wantAlerts += n
	}
	got := 0
	consume(t, broker, topics.Alerts, func(e *event.Event) bool {
		if !seen[e.EventID] && strings.HasPrefix(e.ConversationID, run+"-c") {
			seen[e.EventID] = true
			for _, a := range e.Alerts {
				alerts[e.ConversationID+"/"+a.Kind]++
				got++
			}
		}
		return got >= wantAlerts
	})
	time.Sleep(time.Second) // any alert past the count would be a duplicate: let it come
	consume(t, broker, topics.Alerts, func(e *event.Event) bool {
		if !seen[e.EventID] && strings.HasPrefix(e.ConversationID, run+"-c") {
			seen[e.EventID] = true
			for _, a := range e.Alerts {
				alerts[e.ConversationID+"/"+a.Kind]++
			}
		}
		return false
	}, 2*time.Second)
	if fmt.Sprint(alerts) != fmt.Sprint(admitted) {
		t.Errorf("alerts per conversation and kind:\n got %v\nwant %v (one gateway's deduplication)", alerts, admitted)
	}
	sampled := map[string]bool{}
	consume(t, broker, topics.Samples, func(e *event.Event) bool {
		if e.AgentID == "sampled-agent" {
			sampled[e.ConversationID] = true
		}
		return false
	}, 5*time.Second)
	if len(sampled) != 2 {
		t.Errorf("%d conversations of the sampled agent sampled (%v), want its daily minimum of 2", len(sampled), sampled)
	}
}

// consume reads topic from its start (a consumer group of its own) and
// hands each event to done until done says so, for at most 30 s or the
// given time.
func consume(t *testing.T, broker, topic string, done func(*event.Event) bool, within ...time.Duration) {
	t.Helper()
	limit := 30 * time.Second
	if len(within) > 0 {
		limit = within[0]
	}
	r := kafkatest.Reader(t, nil, []string{broker}, topic)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if len(within) == 0 {
				t.Errorf("%s: %v before every awaited event came", topic, err)
			}
			return
		}
		e, err := event.Parse(m.Value)
		if err != nil {
			t.Fatalf("event on %s: %v", topic, err)
		}
		if done(e) {
			return
		}
	}
}
