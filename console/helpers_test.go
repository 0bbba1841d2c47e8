package console

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/config"
	"github.com/xunjian/xunjian/console/notify"
	"github.com/xunjian/xunjian/gateway/config/duration"
)

// The DingTalk robot's credentials in the tests' environment.
const (
	dingToken  = "test-robot-token"
	dingSecret = "SECtest0123456789abcdef"
)

func testEnv(name string) string {
	switch name {
	case "DT_TOKEN":
		return dingToken
	case "DT_SECRET":
		return dingSecret
	case "XJ_TEST_TEXT_KEY":
		return testTextKey
	}
	return ""
}

// testTextKey is the gateway's text key in the tests' environment
// (standard base64 of 32 bytes).
const testTextKey = "dGVzdC10ZXh0LWtleS1vZi10aGlydHktdHdvLWJ5dGU="

// dingTalk is a local DingTalk custom robot: it checks each post as the
// platform does (the token, the signature of a fresh timestamp, a
// markdown body) and keeps how many times each alert, by its event id
// (named in the post's link) and kind, was posted. Posts it refuses are
// counted apart. The console posts in English.
type dingTalk struct {
	*httptest.Server
	mu      sync.Mutex
	posts   map[string]int // "event id/kind" → posts
	refused []string
}

var (
	eventInLink = regexp.MustCompile(`\?event=([0-9a-f-]{36})\)`)
	kindField   = regexp.MustCompile(`\*\*Kind\*\*: ([a-z_]+)`)
)

func newDingTalk(t *testing.T) *dingTalk {
	t.Helper()
	d := &dingTalk{posts: map[string]int{}}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		// The robot page's signature, computed here on its own: HmacSHA256
		// keyed with the secret over "timestamp\nsecret", Base64.
		mac := hmac.New(sha256.New, []byte(dingSecret))
		mac.Write([]byte(q.Get("timestamp") + "\n" + dingSecret))
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		var body struct {
			MsgType  string `json:"msgtype"`
			Markdown struct {
				Title string `json:"title"`
				Text  string `json:"text"`
			} `json:"markdown"`
		}
		raw, _ := io.ReadAll(r.Body)
		err := json.Unmarshal(raw, &body)
		d.mu.Lock()
		defer d.mu.Unlock()
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/robot/send" || q.Get("access_token") != dingToken:
			d.refused = append(d.refused, "endpoint or token")
		case q.Get("sign") != want || time.Since(time.UnixMilli(ts)).Abs() > time.Hour:
			d.refused = append(d.refused, "signature")
		case err != nil || body.MsgType != "markdown" || body.Markdown.Title == "" || body.Markdown.Text == "":
			d.refused = append(d.refused, "body")
		default:
			ev, kind := eventInLink.FindStringSubmatch(body.Markdown.Text), kindField.FindStringSubmatch(body.Markdown.Text)
			if ev == nil || kind == nil {
				d.refused = append(d.refused, "no event link or kind: "+body.Markdown.Text)
				break
			}
			d.posts[ev[1]+"/"+kind[1]]++
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
			return
		}
		if len(d.refused) > 0 && strings.HasPrefix(d.refused[len(d.refused)-1], "no event link") {
			io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`) // well formed; the test fails on it
			return
		}
		io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
	}))
	t.Cleanup(d.Close)
	return d
}

// events returns how many alerts of each event id were posted (each kind
// once or more).
func (d *dingTalk) events() map[string]int {
	p, _ := d.counts()
	out := map[string]int{}
	for k := range p {
		ev, _, _ := strings.Cut(k, "/")
		out[ev]++
	}
	return out
}

// counts returns a copy of the posts per "event id/kind" and the
// refusals.
func (d *dingTalk) counts() (map[string]int, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.posts))
	for k, v := range d.posts {
		out[k] = v
	}
	return out, append([]string(nil), d.refused...)
}

// consoleConfig is a console of database dsn reading brokers, with topics
// and group of its own, posting every alert to robot.
func consoleConfig(dsn string, brokers []string, topicPrefix string, robot *dingTalk) *config.Config {
	cfg := &config.Config{Listen: "127.0.0.1:0", Database: dsn}
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Group = topicPrefix + "console"
	cfg.Kafka.Topics.Alerts, cfg.Kafka.Topics.Findings, cfg.Kafka.Topics.Samples = topicPrefix+"alerts", topicPrefix+"findings", topicPrefix+"samples"
	cfg.Notify = notify.Config{
		ConsoleURL: "http://console.example",
		Lang:       "en",
		Channels: []notify.ChannelConfig{{
			Name: "ops", Type: "dingtalk", BaseURL: robot.URL + "/robot/send", TokenEnv: "DT_TOKEN", SecretEnv: "DT_SECRET",
			Throttle: notify.ThrottleConfig{Limit: -1},
		}},
		DefaultRoute: notify.DefaultRoute{Channels: []string{"ops"}},
		Retry:        notify.RetryConfig{Backoff: duration.Duration(20 * time.Millisecond), MaxBackoff: duration.Duration(200 * time.Millisecond)},
	}
	cfg.Defaults()
	return cfg
}

// running is a console serving on a loopback port.
type running struct {
	url  string
	stop func()
}

// serve provisions and serves the console of cfg until stop.
func serve(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), cfg, Options{Getenv: testEnv, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	r := &running{url: "http://" + ln.Addr().String(), stop: stop}
	waitFor(t, "the console ready", func() bool {
		resp, err := http.Get(r.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// alertEvents returns how many alerts of each event id the console lists
// (dev mode: tenant default), all states.
func (r *running) alertEvents(t *testing.T, tenant string) map[string]int {
	t.Helper()
	resp, err := http.Get(r.url + "/api/alerts?state=new,acknowledged,resolved&limit=500")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Alerts []struct {
			EventID string `json:"event_id"`
			Tenant  string `json:"tenant"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/alerts: %d, %v", resp.StatusCode, err)
	}
	out := map[string]int{}
	for _, a := range page.Alerts {
		if a.Tenant != tenant {
			t.Errorf("alert of tenant %q listed to tenant %q", a.Tenant, tenant)
		}
		out[a.EventID]++
	}
	return out
}

// stream opens the console's event stream and sends the event id of every
// alert it announces on the returned channel.
func (r *running) stream(t *testing.T) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/stream: %v %v", resp, err)
	}
	out := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "alert":
				var a struct {
					EventID string `json:"event_id"`
				}
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &a) == nil {
					out <- a.EventID
				}
			}
		}
	}()
	return out
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
