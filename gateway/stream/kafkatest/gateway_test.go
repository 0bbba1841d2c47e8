//go:build kafka

package kafkatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/event/eventtest"
	"github.com/xunjian/xunjian/internal/testproc"
)

// These tests run the real gateway binary (xunjian serve) against the real
// Kafka broker that scripts/test.sh starts, over loopback HTTP, and check
// from a Kafka consumer's side that nothing is lost: not with 10,000 drafts,
// not across a Kafka outage, not across SIGKILL, not with a torn spool.

// repoRoot is the module root, three levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// gwSpec is what a test gateway needs.
type gwSpec struct {
	brokers  string
	topics   [3]string // findings, alerts, samples
	spoolDir string
	textKey  string // base64 AES-256 key for text_enc
	extra    string // more top-level YAML (auth, routes, tenants)
}

func newSpec(t *testing.T, brokers string) gwSpec {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	base := fmt.Sprintf("xj-e2e-%d", time.Now().UnixNano())
	return gwSpec{
		brokers: brokers, spoolDir: t.TempDir(), textKey: base64.StdEncoding.EncodeToString(key),
		topics: [3]string{base + ".findings", base + ".alerts", base + ".samples"},
	}
}

// gateway is one running gateway process.
type gateway struct {
	cmd          *exec.Cmd
	agent, admin string
	logs         *testproc.Buffer
	done         chan struct{}
}

// startGateway runs xunjian serve with a config for spec and waits until
// /readyz answers 200. The process is killed when the test ends.
func startGateway(t *testing.T, spec gwSpec) *gateway {
	t.Helper()
	bin, err := testproc.Xunjian()
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{agent: testproc.FreeAddr(t), admin: testproc.FreeAddr(t), logs: &testproc.Buffer{}, done: make(chan struct{})}
	cfg := fmt.Sprintf(`listen: %s
admin_listen: %s
limits: {inspect_timeout: 2s}
stream:
  brokers: [%s]
  topics: {findings: %s, alerts: %s, samples: %s}
  spool: {dir: %s, fsync: interval, fsync_interval: 20ms}
  batch_timeout: 5ms
  sampling: {rate: 0.2}
  text_key_env: XJ_E2E_TEXT_KEY
  text_key_id: e2e
`, g.agent, g.admin, spec.brokers, spec.topics[0], spec.topics[1], spec.topics[2], spec.spoolDir) + spec.extra
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(bin, "serve", "--config", path)
	g.cmd.Env = append(os.Environ(), "XJ_E2E_TEXT_KEY="+spec.textKey)
	g.cmd.Stderr = g.logs
	g.cmd.Stdout = g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() { g.kill(syscall.SIGKILL) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		select {
		case <-g.done:
			t.Fatalf("gateway exited at start:\n%s", g.logs.Bytes())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready in 30s:\n%s", g.logs.Bytes())
		}
	}
}

// kill sends sig and waits for the process to end.
func (g *gateway) kill(sig syscall.Signal) {
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Signal(sig)
	<-g.done
}

// draft is one sent draft and what the gateway answered.
type draft struct {
	conv       string
	seq        int
	decisionID string
}

// pii are the private values a sender planted, for the leak scan.
type pii struct {
	mu     sync.Mutex
	values []string
}

func (p *pii) add(v string) {
	p.mu.Lock()
	p.values = append(p.values, v)
	p.mu.Unlock()
}

// sender sends drafts to /v1/check: conversation c gets drafts seq 0, 1, …
// in order (one worker per conversation set), each with a planted phone
// number (and every tenth an e-mail address).
type sender struct {
	agent   string
	client  *http.Client
	pii     *pii
	prefix  string
	mu      sync.Mutex
	ok      []draft
	failed  int
	why     []string // the first failures
	counter int
}

func newSender(agent, prefix string, p *pii) *sender {
	return &sender{agent: agent, prefix: prefix, pii: p, client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16},
	}}
}

// run sends perConv drafts to each of convs conversations with workers
// workers, pacing each worker at one draft per interval (0: as fast as
// possible), and stops early when stop is closed.
func (s *sender) run(convs, perConv, workers int, interval time.Duration, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range perConv {
				for c := w; c < convs; c += workers {
					select {
					case <-stop:
						return
					default:
					}
					s.send(fmt.Sprintf("%s-c%03d", s.prefix, c), seq)
					if interval > 0 {
						time.Sleep(interval)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func (s *sender) send(conv string, seq int) {
	s.mu.Lock()
	s.counter++
	n := s.counter
	s.mu.Unlock()
	phone := fmt.Sprintf("139%08d", (n*7919+seq)%100_000_000)
	text := fmt.Sprintf("第%d条：您的手机号%s已登记", seq, phone)
	s.pii.add(phone)
	if n%10 == 0 {
		email := fmt.Sprintf("zhang.san.%d@example.com", n)
		text += "，邮箱 " + email
		s.pii.add(email)
	}
	body, _ := json.Marshal(map[string]string{"text": text, "conversation_id": conv, "agent_id": "agent-" + conv[len(conv)-1:]})
	resp, err := s.client.Post("http://"+s.agent+"/v1/check", "application/json", bytes.NewReader(body))
	if err != nil {
		s.fail(err.Error())
		return
	}
	defer resp.Body.Close()
	var v struct {
		DecisionID string `json:"decision_id"`
		Action     string `json:"action"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil || v.DecisionID == "" {
		s.fail(fmt.Sprintf("%d %s", resp.StatusCode, b))
		return
	}
	s.mu.Lock()
	s.ok = append(s.ok, draft{conv: conv, seq: seq, decisionID: v.DecisionID})
	s.mu.Unlock()
}

func (s *sender) fail(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
	if len(s.why) < 5 {
		s.why = append(s.why, why)
	}
}

func (s *sender) answered() []draft {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]draft(nil), s.ok...)
}

// got is a consumed event with its raw value.
type got struct {
	ev    *event.Event
	value []byte
	seq   int
}

var seqRE = regexp.MustCompile(`^第(\d+)条`)

// consumeUntil reads topic from the start with a fresh consumer group
// until every id in want has arrived (or d passes), then a little longer.
// It returns the events in arrival order, duplicates included.
func consumeUntil(t *testing.T, brokers, topic string, want map[string]bool, d time.Duration) []got {
	t.Helper()
	start := time.Now()
	r := Reader(t, nil, strings.Split(brokers, ","), topic)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	schema := eventtest.Compile(t, event.Schema())
	var out []got
	missing := len(want)
	seen := map[string]bool{}
	var grace time.Time
	for {
		if missing == 0 && grace.IsZero() {
			grace = time.Now().Add(time.Second)
		}
		if !grace.IsZero() && time.Now().After(grace) {
			break
		}
		rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		m, err := r.FetchMessage(rctx) // no commit: this group reads once
		rcancel()
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			t.Fatalf("read %s: %v", topic, err)
		}
		// Every event produced validates against the published schema.
		if err := schema.Validate(m.Value); err != nil {
			t.Fatalf("%s partition %d offset %d does not validate: %v", topic, m.Partition, m.Offset, err)
		}
		e, err := event.Parse(m.Value)
		if err != nil {
			t.Fatalf("%s partition %d offset %d: %v", topic, m.Partition, m.Offset, err)
		}
		if string(m.Key) != e.ConversationID {
			t.Fatalf("key %q for conversation %q", m.Key, e.ConversationID)
		}
		g := got{ev: e, value: m.Value, seq: -1}
		if sm := seqRE.FindStringSubmatch(e.TextMasked); sm != nil {
			g.seq, _ = strconv.Atoi(sm[1])
		}
		out = append(out, g)
		if want[e.EventID] && !seen[e.EventID] {
			missing--
		}
		seen[e.EventID] = true
	}
	if missing > 0 {
		t.Fatalf("%s: %d of %d events missing after %s", topic, missing, len(want), d)
	}
	t.Logf("%s: %d events in %v", topic, len(out), time.Since(start).Round(time.Millisecond))
	return out
}

// checkDelivery checks that every answered draft has its event (event_id =
// decision_id) and that each conversation's events, first occurrences
// taken (delivery is at-least-once), come in the drafts' order.
func checkDelivery(t *testing.T, drafts []draft, evs []got) {
	t.Helper()
	byID := map[string]draft{}
	for _, d := range drafts {
		byID[d.decisionID] = d
	}
	first := map[string]bool{}
	last := map[string]int{}
	dups := 0
	for _, g := range evs {
		if first[g.ev.EventID] {
			dups++
			continue
		}
		first[g.ev.EventID] = true
		d, ok := byID[g.ev.EventID]
		if !ok {
			continue // a draft whose reply was lost (killed gateway): fine
		}
		if g.seq != d.seq {
			t.Fatalf("event %s: text seq %d, draft seq %d", g.ev.EventID, g.seq, d.seq)
		}
		if prev, ok := last[d.conv]; ok && d.seq <= prev {
			t.Fatalf("conversation %s: draft %d after %d: order broken", d.conv, d.seq, prev)
		}
		last[d.conv] = d.seq
	}
	for id := range byID {
		if !first[id] {
			t.Fatalf("draft %s answered but its event never arrived", id)
		}
	}
	t.Logf("%d drafts answered, %d events consumed (%d duplicates)", len(drafts), len(evs), dups)
}

func ids(drafts []draft) map[string]bool {
	m := make(map[string]bool, len(drafts))
	for _, d := range drafts {
		m[d.decisionID] = true
	}
	return m
}

// scanPII fails if any planted value appears in clear in the haystacks.
func scanPII(t *testing.T, p *pii, what string, haystacks ...[]byte) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range haystacks {
		for _, v := range p.values {
			if bytes.Contains(h, []byte(v)) {
				t.Fatalf("raw private value %q in %s", v, what)
			}
		}
	}
}

// TestKafkaTenThousandDrafts sends 10,000 drafts over 100 conversations and
// finds 10,000 events on the findings topic, in per-conversation order,
// with no private value in clear in any event on any topic or in the
// gateway's log, and the raw text recoverable with the auditors' key.
func TestKafkaTenThousandDrafts(t *testing.T) {
	addrs := Brokers(t)
	spec := newSpec(t, strings.Join(addrs, ","))
	g := startGateway(t, spec)
	p := &pii{}
	s := newSender(g.agent, "ten", p)
	start := time.Now()
	s.run(100, 100, 8, 0, nil)
	drafts := s.answered()
	t.Logf("sent %d drafts in %v (%d failed)", len(drafts), time.Since(start), s.failed)
	if len(drafts) != 10_000 || s.failed != 0 {
		t.Fatalf("%d drafts answered, %d failed (%q); want 10000, 0", len(drafts), s.failed, s.why)
	}
	evs := consumeUntil(t, spec.brokers, spec.topics[0], ids(drafts), 2*time.Minute)
	checkDelivery(t, drafts, evs)
	if n := len(evs); n != 10_000 {
		t.Errorf("%d events on the findings topic, want exactly 10,000 (no crash, so no duplicate)", n)
	}

	// Auditors can open text_enc with the key; nobody else sees the text.
	enc, err := event.NewEncryptor(spec.textKey, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := evs[0].ev.DecryptText(enc)
	if err != nil || !strings.Contains(raw, "139") || !strings.HasPrefix(raw, "第") {
		t.Errorf("text_enc decrypts to %q, %v", raw, err)
	}

	var values [][]byte
	for _, e := range evs {
		values = append(values, e.value)
	}
	// Samples: a fifth of the conversations, whole.
	sampled := map[string]bool{}
	for _, e := range evs {
		if e.ev.Sampled {
			sampled[e.ev.EventID] = true
		}
	}
	if len(sampled) == 0 {
		t.Fatal("no sampled event at rate 0.2")
	}
	for _, e := range consumeUntil(t, spec.brokers, spec.topics[2], sampled, time.Minute) {
		values = append(values, e.value)
	}
	scanPII(t, p, "an event", values...)
	g.kill(syscall.SIGTERM)
	scanPII(t, p, "the gateway's log", g.logs.Bytes())
}

// kafkaScript runs scripts/kafka.sh for a broker of this test's own on
// port (and the next two: controller, SASL_SSL), so stopping it disturbs
// no other test.
func kafkaScript(t *testing.T, port int, cmd string) {
	t.Helper()
	c := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "kafka.sh"), cmd)
	c.Env = append(os.Environ(), fmt.Sprintf("KAFKA_PORT=%d", port), fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", port+1),
		fmt.Sprintf("KAFKA_SCRAM_PORT=%d", port+2))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("kafka.sh %s: %v\n%s", cmd, err, out)
	}
}

// TestKafkaOutage stops the broker in the middle of a run and starts it
// again: the gateway keeps answering, and every event arrives.
func TestKafkaOutage(t *testing.T) {
	Brokers(t) // the suite's broker must be up: this one is extra
	const port = 9192
	kafkaScript(t, port, "start")
	t.Cleanup(func() { kafkaScript(t, port, "stop") })
	spec := newSpec(t, fmt.Sprintf("127.0.0.1:%d", port))
	g := startGateway(t, spec)
	s := newSender(g.agent, "outage", &pii{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(40, 100, 4, 2*time.Millisecond, nil) // 4,000 drafts, ~2k/s at most
	}()
	time.Sleep(500 * time.Millisecond)
	kafkaScript(t, port, "pause")
	time.Sleep(2 * time.Second)
	kafkaScript(t, port, "resume")
	<-done
	drafts := s.answered()
	if s.failed != 0 || len(drafts) != 4000 {
		t.Fatalf("%d answered, %d failed during the outage (%q); want 4000, 0", len(drafts), s.failed, s.why)
	}
	evs := consumeUntil(t, spec.brokers, spec.topics[0], ids(drafts), 2*time.Minute)
	checkDelivery(t, drafts, evs)
	resp, err := http.Get("http://" + g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^xunjian_ship_failures_total [1-9]`).Match(metrics) {
		t.Errorf("the outage left no trace in xunjian_ship_failures_total:\n%s", grep(metrics, "xunjian_ship"))
	}
}

func grep(b []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestKafkaGatewaySIGKILL kills the gateway with SIGKILL in the middle of a
// run and starts it again on the same spool: every answered draft's event
// arrives.
func TestKafkaGatewaySIGKILL(t *testing.T) {
	addrs := Brokers(t)
	spec := newSpec(t, strings.Join(addrs, ","))
	g1 := startGateway(t, spec)
	s1 := newSender(g1.agent, "kill1", &pii{})
	done := make(chan struct{})
	go func() { defer close(done); s1.run(20, 1000, 4, 0, nil) }()
	time.Sleep(1500 * time.Millisecond)
	g1.kill(syscall.SIGKILL)
	<-done
	before := s1.answered()
	if len(before) == 0 || s1.failed == 0 {
		t.Fatalf("kill did not land mid-run: %d answered, %d failed", len(before), s1.failed)
	}
	g2 := startGateway(t, spec)
	s2 := newSender(g2.agent, "kill2", &pii{})
	s2.run(20, 50, 4, 0, nil)
	drafts := append(before, s2.answered()...)
	evs := consumeUntil(t, spec.brokers, spec.topics[0], ids(drafts), 2*time.Minute)
	checkDelivery(t, drafts, evs)
}

// TestKafkaTornSpool spools events with Kafka unreachable, kills the
// gateway, cuts the spool's last record short, and restarts with Kafka:
// the torn record is skipped with a log line and the rest ship.
func TestKafkaTornSpool(t *testing.T) {
	addrs := Brokers(t)
	spec := newSpec(t, "127.0.0.1:1") // nothing listens: everything stays spooled
	g1 := startGateway(t, spec)
	s := newSender(g1.agent, "torn", &pii{})
	s.run(10, 50, 1, 0, nil) // one worker: the last draft is the last record
	drafts := s.answered()
	if len(drafts) != 500 {
		t.Fatalf("%d answered (%q), want 500", len(drafts), s.why)
	}
	g1.kill(syscall.SIGKILL)
	segs, _ := filepath.Glob(filepath.Join(spec.spoolDir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment")
	}
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()-10); err != nil {
		t.Fatal(err)
	}
	spec.brokers = strings.Join(addrs, ",")
	g2 := startGateway(t, spec)
	lost := drafts[len(drafts)-1]
	want := ids(drafts[:len(drafts)-1])
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("restarted gateway's log:\n%s", g2.logs.Bytes())
		}
	})
	evs := consumeUntil(t, spec.brokers, spec.topics[0], want, time.Minute)
	checkDelivery(t, drafts[:len(drafts)-1], evs)
	for _, e := range evs {
		if e.ev.EventID == lost.decisionID {
			t.Fatalf("the torn record %s was shipped", lost.decisionID)
		}
	}
	if !bytes.Contains(g2.logs.Bytes(), []byte("torn")) {
		t.Errorf("no log line about the torn record:\n%s", g2.logs.Bytes())
	}
}
