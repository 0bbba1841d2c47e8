//go:build kafka

package kafkatest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/internal/kafkasec"
	"github.com/xunjian/xunjian/internal/testpki"
	"github.com/xunjian/xunjian/internal/testproc"
)

// secureGateway is a gateway process (xunjian serve) whose agent port
// speaks TLS and whose events go to the broker's SASL_SSL listener with
// SCRAM-SHA-512, the password given in XJ_KAFKA_PASSWORD.
type secureGateway struct {
	agent, admin string
	client       *http.Client // trusts the agent port's CA
	topics       [3]string    // findings, alerts, samples
	logs         *testproc.Buffer
	done         chan struct{}
}

func startSecureGateway(t *testing.T, sec Secure, password string) *secureGateway {
	t.Helper()
	bin, err := testproc.Xunjian()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := testpki.NewCA(t, "gateway CA")
	certFile, keyFile := ca.Issue(t, "gateway", "127.0.0.1").Write(t, dir, "agent")
	base := fmt.Sprintf("xj-sasl-%d", time.Now().UnixNano())
	g := &secureGateway{
		agent: testproc.FreeAddr(t), admin: testproc.FreeAddr(t), logs: &testproc.Buffer{}, done: make(chan struct{}),
		topics: [3]string{base + ".findings", base + ".alerts", base + ".samples"},
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}},
	}
	cfg := fmt.Sprintf(`listen: %s
admin_listen: %s
tls:
  agent: {cert_file: %s, key_file: %s}
limits: {inspect_timeout: 2s}
stream:
  brokers: [%s]
  topics: {findings: %s, alerts: %s, samples: %s}
  spool: {dir: %s, fsync: interval, fsync_interval: 20ms}
  batch_timeout: 5ms
  tls: {enabled: true, ca_file: %s}
  sasl: {mechanism: SCRAM-SHA-512, username: %s, password_env: XJ_KAFKA_PASSWORD}
`, g.agent, g.admin, certFile, keyFile, strings.Join(sec.Brokers, ", "), g.topics[0], g.topics[1], g.topics[2],
		filepath.Join(dir, "spool"), sec.CAFile, sec.User)
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", path)
	cmd.Env = append(os.Environ(), "XJ_KAFKA_PASSWORD="+password)
	cmd.Stdout, cmd.Stderr = g.logs, g.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			cmd.Process.Signal(syscall.SIGKILL)
			<-g.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + g.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		select {
		case <-g.done:
			t.Fatalf("gateway exited at start:\n%s", g.logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready in 30s:\n%s", g.logs)
		}
	}
}

// ready returns the gateway's /readyz body (it says whether Kafka is
// reachable and how many events wait in the spool), for failure messages.
func (g *secureGateway) ready() string {
	resp, err := http.Get("http://" + g.admin + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// check sends a draft over HTTPS and returns its decision id.
func (g *secureGateway) check(t *testing.T, conv, text string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": text, "conversation_id": conv, "agent_id": "a1"})
	resp, err := g.client.Post("https://"+g.agent+"/v1/check", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		DecisionID string `json:"decision_id"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil || v.DecisionID == "" {
		t.Fatalf("check: %d %s", resp.StatusCode, b)
	}
	return v.DecisionID
}

// TestGatewaySASLSSL: a gateway ships its events to the real broker's
// SASL_SSL listener (TLS verified with the script's CA, SCRAM-SHA-512),
// creating its topics there, and a consumer reading through the same
// listener with SCRAM-SHA-256 gets every one; drafts reach the gateway
// over TLS too.
func TestGatewaySASLSSL(t *testing.T) {
	sec := SecureBrokers(t)
	g := startSecureGateway(t, sec, sec.Password)
	want := map[string]bool{}
	for i := range 30 {
		want[g.check(t, fmt.Sprintf("sasl-c%02d", i%5), fmt.Sprintf("第%d条：您的手机号139%08d已登记", i, i))] = true
	}
	cl := sec.Client(t, kafkasec.SCRAMSHA256)
	r := Reader(t, cl.Dialer("xunjian-test", 0), sec.Brokers, g.topics[0])
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for len(want) > 0 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("%d events missing: %v\ngateway /readyz: %s\ngateway logs:\n%s", len(want), cl.Explain(err), g.ready(), g.logs)
		}
		e, err := event.Parse(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		delete(want, e.EventID)
	}
	if strings.Contains(g.logs.String(), sec.Password) {
		t.Errorf("the Kafka password in the gateway's logs:\n%s", g.logs)
	}
	if !strings.Contains(g.logs.String(), `"kafka_security":"SASL_SSL SCRAM-SHA-512 user `+sec.User+`"`) {
		t.Errorf("the start log does not say how Kafka is reached:\n%s", g.logs)
	}
}

// TestGatewayWrongKafkaPassword: with a password Kafka refuses the gateway
// still inspects and answers (events wait in the spool), and /readyz and
// the log say within seconds that the credentials were refused, never the
// password.
func TestGatewayWrongKafkaPassword(t *testing.T) {
	sec := SecureBrokers(t)
	const wrong = "wrong-gateway-password"
	g := startSecureGateway(t, sec, wrong)
	g.check(t, "sasl-wrong", "您的手机号13900001111已登记")
	want := fmt.Sprintf("the brokers refused the credentials of Kafka user %q (SASL SCRAM-SHA-512): check sasl.username and the password in XJ_KAFKA_PASSWORD", sec.User)
	var ready struct {
		Status string `json:"status"`
		Kafka  struct {
			Reachable bool   `json:"reachable"`
			Error     string `json:"error"`
		} `json:"kafka"`
		SpoolEvents int64 `json:"spool_events"`
	}
	var raw []byte
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		json.Unmarshal(raw, &ready)
		if !ready.Kafka.Reachable && strings.Contains(ready.Kafka.Error, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after 15s: %s\nwant kafka unreachable with %q", raw, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ready.SpoolEvents == 0 || ready.Status != "ready" {
		t.Errorf("/readyz: want ready (Kafka away alone does not make the gateway unready) with the event waiting in the spool: %s", raw)
	}
	// The gateway's log comes through a pipe: the line may arrive a
	// moment after /readyz says it.
	for !strings.Contains(g.logs.String(), "refused the credentials") {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say why:\n%s", g.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := g.logs.String() + string(raw); strings.Contains(s, wrong) || strings.Contains(s, sec.Password) {
		t.Errorf("a password in the logs or /readyz:\n%s", s)
	}
}
