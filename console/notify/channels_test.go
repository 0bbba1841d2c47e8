package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testChannel returns the sender of cc (defaults filled), reading
// testEnv, on clock.
func testChannel(t *testing.T, cc ChannelConfig, clock Clock) sender {
	t.Helper()
	cfg := testConfig(cc)
	cfg.Defaults()
	r := &renderer{consoleURL: "https://console.example.com", loc: time.UTC}
	ch, err := newChannel(cfg.Channels[0], env(testEnv), &http.Client{}, clock, r)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// alertDelivery returns the delivery of n on channel in lang.
func alertDelivery(n Notification, channel, lang string) *Delivery {
	return &Delivery{Key: n.Key(channel), Channel: channel, Lang: lang, Notification: &n}
}

// The generic webhook: the notification as JSON, signed over
// "<timestamp>.<body>" with HMAC-SHA256, with the idempotency key.
func TestWebhookFormat(t *testing.T) {
	rc := newReceiver(t, reply(http.StatusNoContent, ""))
	clock := newFakeClock()
	ch := testChannel(t, webhookChannel(rc.URL+"/xunjian?src=console"), clock)
	n := sample()
	if err := ch.Send(context.Background(), alertDelivery(n, "hook", "en")); err != nil {
		t.Fatal(err)
	}
	h := rc.Hits()[0]
	if h.path != "/xunjian" || h.query != "src=console" {
		t.Errorf("posted to %s?%s", h.path, h.query)
	}
	ts := h.header.Get("X-Xunjian-Timestamp")
	if ts != strconv.FormatInt(t0.Unix(), 10) {
		t.Errorf("timestamp %q, want %d", ts, t0.Unix())
	}
	// Recomputed here from the documented algorithm, not with
	// WebhookSignature.
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(ts + "." + string(h.body)))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); h.header.Get("X-Xunjian-Signature") != want {
		t.Errorf("signature %q, want %q", h.header.Get("X-Xunjian-Signature"), want)
	}
	if got := h.header.Get("Idempotency-Key"); got != n.Key("hook") || !strings.HasPrefix(got, "n1-") {
		t.Errorf("Idempotency-Key %q, want %q", got, n.Key("hook"))
	}
	var b struct {
		Schema, Type, Channel, Lang, URL, Text string
		Key                                    string `json:"idempotency_key"`
		Alert                                  struct {
			EventID        string `json:"event_id"`
			ConversationID string `json:"conversation_id"`
			Level, Kind    string
			Message, Team  string
			Risk           float64
			Context        []struct {
				Role       string
				TextMasked string `json:"text_masked"`
				Action     string
				Delivered  bool
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(h.body)))
	if err := dec.Decode(&b); err != nil {
		t.Fatal(err)
	}
	a := b.Alert
	switch {
	case b.Schema != "xunjian.notify/v1" || b.Type != "alert" || b.Channel != "hook" || b.Lang != "en" || b.Key != n.Key("hook"):
		t.Errorf("envelope %+v", b)
	case a.EventID != n.EventID || a.ConversationID != "conv-42" || a.Level != "high" || a.Kind != "complaint" || a.Team != "vip" || a.Risk != 0.82:
		t.Errorf("alert %+v", a)
	case a.Message != n.Message || len(a.Context) != 3 || a.Context[2].TextMasked != n.Context[2].TextMasked:
		t.Errorf("masked text changed: %+v", a)
	case a.Context[1].Action != "block" || a.Context[1].Delivered || a.Context[1].Role != "agent":
		t.Errorf("the blocked draft: %+v", a.Context[1])
	case b.URL != "https://console.example.com/conversations/conv-42?event="+n.EventID:
		t.Errorf("url %q", b.URL)
	case !strings.Contains(b.Text, "Xunjian alert · high · complaint") || !strings.Contains(b.Text, "139****1234"):
		t.Errorf("text %q", b.Text)
	}
}

// DingTalk: markdown, the token in access_token, and the 加签 signature:
// timestamp in ms + "\n" + secret, HmacSHA256 keyed with the secret,
// Base64, URL-encoded.
func TestDingTalkFormat(t *testing.T) {
	rc := newReceiver(t, reply(http.StatusOK, `{"errcode":0,"errmsg":"ok"}`))
	clock := newFakeClock()
	for _, signed := range []bool{true, false} {
		cc := ChannelConfig{Name: "ding", Type: TypeDingTalk, BaseURL: rc.URL + "/robot/send", TokenEnv: "XJ_TOKEN"}
		if signed {
			cc.SecretEnv = "XJ_SECRET"
		}
		ch := testChannel(t, cc, clock)
		if err := ch.Send(context.Background(), alertDelivery(sample(), "ding", "zh")); err != nil {
			t.Fatal(err)
		}
	}
	hits := rc.Hits()
	for i, h := range hits {
		q, err := url.ParseQuery(h.query)
		if err != nil || h.path != "/robot/send" || q.Get("access_token") != testToken {
			t.Fatalf("posted to %s?%s", h.path, h.query)
		}
		if i == 1 {
			if q.Has("timestamp") || q.Has("sign") {
				t.Errorf("unsigned robot got %q", h.query)
			}
			continue
		}
		ts := q.Get("timestamp")
		if ts != strconv.FormatInt(t0.UnixMilli(), 10) {
			t.Errorf("timestamp %q, want ms %d", ts, t0.UnixMilli())
		}
		m := hmac.New(sha256.New, []byte(testSecret))
		m.Write([]byte(ts + "\n" + testSecret))
		if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); q.Get("sign") != want {
			t.Errorf("sign %q, want %q", q.Get("sign"), want)
		}
		// Base64's + / = are percent-encoded in the raw query.
		if raw := h.query[strings.Index(h.query, "sign=")+5:]; strings.ContainsAny(strings.Split(raw, "&")[0], "+/=") {
			t.Errorf("sign not URL-encoded: %q", raw)
		}
	}
	var b struct {
		MsgType  string `json:"msgtype"`
		Markdown struct{ Title, Text string }
	}
	if err := json.Unmarshal(hits[0].body, &b); err != nil {
		t.Fatal(err)
	}
	if b.MsgType != "markdown" || b.Markdown.Title != "巡检告警·高·complaint" {
		t.Errorf("msgtype %q, title %q", b.MsgType, b.Markdown.Title)
	}
	for _, want := range []string{
		"### 巡检告警·高·complaint\n\n客户威胁投诉（手机 138\\*\\*\\*\\*5678）\n\n**级别**: 高",
		"**租户**: acme", "**团队**: vip", "**会话**: conv-42", "**投诉风险**: 0.82",
		"> 坐席 09:59:50 〔已拦截·未送达〕: 加我微信 wx\\_\\*\\*\\*\\* 私聊",
		"[在控制台查看会话](https://console.example.com/conversations/conv-42?event=" + sample().EventID + ")",
	} {
		if !strings.Contains(b.Markdown.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, b.Markdown.Text)
		}
	}
}

// WeCom: markdown content, the key in the query, no signature.
func TestWeComFormat(t *testing.T) {
	rc := newReceiver(t, reply(http.StatusOK, `{"errcode":0,"errmsg":"ok"}`))
	ch := testChannel(t, ChannelConfig{Name: "wx", Type: TypeWeCom, BaseURL: rc.URL + "/cgi-bin/webhook/send", TokenEnv: "XJ_TOKEN"}, newFakeClock())
	if err := ch.Send(context.Background(), alertDelivery(sample(), "wx", "en")); err != nil {
		t.Fatal(err)
	}
	h := rc.Hits()[0]
	if q, _ := url.ParseQuery(h.query); h.path != "/cgi-bin/webhook/send" || q.Get("key") != testToken || len(q) != 1 {
		t.Errorf("posted to %s?%s", h.path, h.query)
	}
	var b struct {
		MsgType  string `json:"msgtype"`
		Markdown struct{ Content string }
	}
	if err := json.Unmarshal(h.body, &b); err != nil {
		t.Fatal(err)
	}
	if b.MsgType != "markdown" || len(b.Markdown.Content) > 4096 {
		t.Errorf("msgtype %q, %d bytes", b.MsgType, len(b.Markdown.Content))
	}
	for _, want := range []string{
		"### Xunjian alert · high · complaint\n",
		"\n**Tenant**: acme\n",
		"\n> Agent 09:59:50 \\[blocked · not delivered\\]: ",
		"\n> Customer 10:00:00: ",
	} {
		if !strings.Contains(b.Markdown.Content, want) {
			t.Errorf("content lacks %q:\n%s", want, b.Markdown.Content)
		}
	}
}

// Feishu: post, with timestamp (seconds) and sign: HMAC-SHA256 keyed with
// timestamp + "\n" + secret over an empty message, Base64.
func TestFeishuFormat(t *testing.T) {
	rc := newReceiver(t, func(i int, w http.ResponseWriter, _ *http.Request) {
		if i == 0 {
			_, _ = w.Write([]byte(`{"code":0,"data":{},"msg":"success"}`))
		} else {
			_, _ = w.Write([]byte(`{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`))
		}
	})
	ch := testChannel(t, ChannelConfig{Name: "fs", Type: TypeFeishu, BaseURL: rc.URL + "/open-apis/bot/v2/hook", TokenEnv: "XJ_TOKEN", SecretEnv: "XJ_SECRET"}, newFakeClock())
	n := sample()
	for _, lang := range []string{"zh", "en"} {
		if err := ch.Send(context.Background(), alertDelivery(n, "fs", lang)); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
	}
	for i, h := range rc.Hits() {
		if h.path != "/open-apis/bot/v2/hook/"+testToken || h.query != "" {
			t.Errorf("posted to %s?%s", h.path, h.query)
		}
		var b struct {
			Timestamp, Sign string
			MsgType         string `json:"msg_type"`
			Content         struct {
				Post map[string]struct {
					Title   string
					Content [][]struct{ Tag, Text, Href string }
				}
			}
		}
		if err := json.Unmarshal(h.body, &b); err != nil {
			t.Fatal(err)
		}
		if b.Timestamp != strconv.FormatInt(t0.Unix(), 10) {
			t.Errorf("timestamp %q, want seconds %d", b.Timestamp, t0.Unix())
		}
		m := hmac.New(sha256.New, []byte(b.Timestamp+"\n"+testSecret))
		if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); b.Sign != want {
			t.Errorf("sign %q, want %q", b.Sign, want)
		}
		lang := []string{"zh_cn", "en_us"}[i]
		post, ok := b.Content.Post[lang]
		if b.MsgType != "post" || !ok || len(b.Content.Post) != 1 {
			t.Fatalf("msg_type %q, post %v", b.MsgType, b.Content.Post)
		}
		var texts []string
		var link string
		for _, row := range post.Content {
			for _, node := range row {
				switch node.Tag {
				case "text":
					texts = append(texts, node.Text)
				case "a":
					link = node.Href
				default:
					t.Errorf("tag %q", node.Tag)
				}
			}
		}
		all := strings.Join(texts, "\n")
		// Text nodes are shown as written: the masks are not escaped.
		for _, want := range []string{n.Message, n.Context[0].TextMasked, n.Context[1].TextMasked} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: texts lack %q:\n%s", lang, want, all)
			}
		}
		if link != "https://console.example.com/conversations/conv-42?event="+n.EventID {
			t.Errorf("link %q", link)
		}
		if want := []string{"巡检告警·高·complaint", "Xunjian alert · high · complaint"}[i]; post.Title != want {
			t.Errorf("title %q, want %q", post.Title, want)
		}
	}
}

// Slack: text and blocks, mrkdwn with &, < and > escaped; "ok" is success.
func TestSlackFormat(t *testing.T) {
	rc := newReceiver(t, reply(http.StatusOK, "ok"))
	slackEnv := map[string]string{"SLACK_URL": ""}
	rcURL := rc.URL + "/services/T000/B000/" + testToken
	slackEnv["SLACK_URL"] = rcURL
	cfg := testConfig(ChannelConfig{Name: "sl", Type: TypeSlack, URLEnv: "SLACK_URL"})
	cfg.Defaults()
	ch, err := newChannel(cfg.Channels[0], env(slackEnv), &http.Client{}, newFakeClock(), &renderer{consoleURL: "https://console.example.com", loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	n := sample()
	n.Message = "a <b> & c 138****5678"
	if err := ch.Send(context.Background(), alertDelivery(n, "sl", "en")); err != nil {
		t.Fatal(err)
	}
	h := rc.Hits()[0]
	if h.path != "/services/T000/B000/"+testToken {
		t.Errorf("posted to %s", h.path)
	}
	var b struct {
		Text   string
		Blocks []struct {
			Type   string
			Text   *struct{ Type, Text string }
			Fields []struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal(h.body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Text != "Xunjian alert · high · complaint: a &lt;b&gt; &amp; c 138****5678" {
		t.Errorf("text %q", b.Text)
	}
	var all []string
	for _, bl := range b.Blocks {
		if bl.Type != "section" {
			t.Errorf("block type %q", bl.Type)
		}
		if bl.Text != nil {
			if bl.Text.Type != "mrkdwn" || len([]rune(bl.Text.Text)) > 3000 {
				t.Errorf("section %+v", bl.Text)
			}
			all = append(all, bl.Text.Text)
		}
		if len(bl.Fields) > 10 {
			t.Errorf("%d fields", len(bl.Fields))
		}
		for _, f := range bl.Fields {
			all = append(all, f.Text)
		}
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		"*Xunjian alert · high · complaint*",
		"a &lt;b&gt; &amp; c 138****5678",
		"*Tenant*\nacme",
		"> *Agent 09:59:50 [blocked · not delivered]*: 加我微信 wx_**** 私聊",
		"<https://console.example.com/conversations/conv-42?event=" + n.EventID + "|Open the conversation in the console>",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("blocks lack %q:\n%s", want, text)
		}
	}
}

// The platforms' failures: which are retried, with which code and wait;
// and no error quotes a secret, even when the platform echoes it.
func TestPlatformErrors(t *testing.T) {
	type want struct {
		retryable  bool
		status     int
		code       int
		msg        string
		retryAfter time.Duration
	}
	cases := []struct {
		name   string
		cc     ChannelConfig
		status int
		header map[string]string
		body   string
		want   want
	}{
		{"dingtalk sign", ChannelConfig{Type: TypeDingTalk, SecretEnv: "XJ_SECRET"}, 200, nil, `{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}`, want{code: 310000, msg: "sign not match"}},
		{"dingtalk too fast", ChannelConfig{Type: TypeDingTalk}, 200, nil, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`, want{retryable: true, code: 130101, retryAfter: time.Minute}},
		{"dingtalk busy", ChannelConfig{Type: TypeDingTalk}, 200, nil, `{"errcode":-1,"errmsg":"系统繁忙"}`, want{retryable: true, code: -1}},
		{"dingtalk echoes the token", ChannelConfig{Type: TypeDingTalk}, 200, nil, `{"errcode":300001,"errmsg":"token is not exist: ` + testToken + `"}`, want{code: 300001, msg: "token is not exist: [redacted]"}},
		{"dingtalk 200 garbage", ChannelConfig{Type: TypeDingTalk}, 200, nil, `<html>portal</html>`, want{status: 200, msg: "answer without a readable code"}},
		{"dingtalk 502", ChannelConfig{Type: TypeDingTalk}, 502, nil, `<html>bad gateway</html>`, want{retryable: true, status: 502}},
		{"wecom bad key", ChannelConfig{Type: TypeWeCom}, 200, nil, `{"errcode":93000,"errmsg":"invalid webhook url, hint: [1700000000_1], from ip: 127.0.0.1"}`, want{code: 93000, msg: "invalid webhook url"}},
		{"wecom freq", ChannelConfig{Type: TypeWeCom}, 200, nil, `{"errcode":45009,"errmsg":"api freq out of limit"}`, want{retryable: true, code: 45009, retryAfter: time.Minute}},
		{"feishu sign", ChannelConfig{Type: TypeFeishu, SecretEnv: "XJ_SECRET"}, 200, nil, `{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}`, want{code: 19021, msg: "sign match fail"}},
		{"feishu frequency", ChannelConfig{Type: TypeFeishu}, 400, nil, `{"code":11232,"data":{},"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}`, want{retryable: true, status: 400, code: 11232, retryAfter: time.Minute}},
		{"feishu bad request", ChannelConfig{Type: TypeFeishu}, 400, nil, `{"code":9499,"msg":"Bad Request","data":{}}`, want{status: 400, code: 9499}},
		{"slack archived", ChannelConfig{Type: TypeSlack}, 410, nil, `channel_is_archived`, want{status: 410, msg: "channel_is_archived"}},
		{"slack rate limited", ChannelConfig{Type: TypeSlack}, 429, map[string]string{"Retry-After": "30"}, `rate_limited`, want{retryable: true, status: 429, msg: "rate_limited", retryAfter: 30 * time.Second}},
		{"slack 200 not ok", ChannelConfig{Type: TypeSlack}, 200, nil, `invalid_token`, want{status: 200, msg: "invalid_token"}},
		{"slack 500", ChannelConfig{Type: TypeSlack}, 500, nil, `rollup_error`, want{retryable: true, status: 500, msg: "rollup_error"}},
		{"webhook 400", ChannelConfig{Type: TypeWebhook}, 400, nil, `{"echo":"` + testSecret + `"}`, want{status: 400}},
		{"webhook 408", ChannelConfig{Type: TypeWebhook}, 408, nil, ``, want{retryable: true, status: 408}},
		{"webhook 429 date", ChannelConfig{Type: TypeWebhook}, 429, map[string]string{"Retry-After": t0.Add(90 * time.Second).Format(http.TimeFormat)}, ``, want{retryable: true, status: 429, retryAfter: 90 * time.Second}},
		{"webhook 301", ChannelConfig{Type: TypeWebhook}, 301, map[string]string{"Location": "https://elsewhere.example/"}, ``, want{status: 301}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			})
			cc := c.cc
			cc.Name = "ch"
			slackEnv := map[string]string{"XJ_TOKEN": testToken, "XJ_SECRET": testSecret, "SLACK_URL": rc.URL + "/services/" + testToken}
			switch cc.Type {
			case TypeWebhook:
				cc.URL, cc.SecretEnv = rc.URL, "XJ_SECRET"
			case TypeSlack:
				cc.URLEnv = "SLACK_URL"
			default:
				cc.BaseURL, cc.TokenEnv = rc.URL+"/send", "XJ_TOKEN"
			}
			cfg := testConfig(cc)
			cfg.Defaults()
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			ch, err := newChannel(cfg.Channels[0], env(slackEnv), hc, newFakeClock(), &renderer{loc: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			err = ch.Send(context.Background(), alertDelivery(sample(), "ch", "zh"))
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SendError", err)
			}
			got := want{retryable: se.Retryable, status: se.Status, code: se.Code, retryAfter: se.RetryAfter}
			if c.want.msg != "" {
				got.msg = c.want.msg
				if !strings.Contains(se.Msg, c.want.msg) {
					t.Errorf("msg %q, want it to hold %q", se.Msg, c.want.msg)
				}
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			for _, secret := range []string{testToken, testSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes a secret: %v", err)
				}
			}
		})
	}
}

// A failure to connect or a timeout is retryable and its error holds no
// URL (which holds the token).
func TestTransportErrorsHideTheURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	hang := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(100 * time.Millisecond):
		}
	})
	for name, base := range map[string]string{"refused": "http://" + addr + "/robot/send", "timeout": hang.URL + "/robot/send"} {
		ch := testChannel(t, ChannelConfig{Name: "ding", Type: TypeDingTalk, BaseURL: base, TokenEnv: "XJ_TOKEN", SecretEnv: "XJ_SECRET"}, newFakeClock())
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := ch.Send(ctx, alertDelivery(sample(), "ding", "zh"))
		cancel()
		var se *SendError
		if !errors.As(err, &se) || !se.Retryable || se.Status != 0 {
			t.Errorf("%s: err = %#v, want a retryable *SendError without status", name, err)
			continue
		}
		if name == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("timeout: err = %v, want context.DeadlineExceeded", err)
		}
		for _, s := range []string{testToken, testSecret, "access_token", "sign="} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the error quotes %q: %v", name, s, err)
			}
		}
	}
}
