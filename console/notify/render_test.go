package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// The templates in both languages: the plain flavour shows what every
// platform shows.
func TestTemplates(t *testing.T) {
	r := &renderer{consoleURL: "https://console.example.com", loc: time.FixedZone("CST", 8*3600)}
	n := sample()
	want := map[string]string{
		"zh": `巡检告警·高·complaint
客户威胁投诉（手机 138****5678）
级别: 高
类型: complaint
租户: acme
团队: vip
坐席: agent-7
会话: conv-42
时间: 2026-03-01 18:00:00
投诉风险: 0.82
最近对话
> 客户 17:59:40: 我的手机 138****5678 一直收不到验证码
> 坐席 17:59:50 〔已拦截·未送达〕: 加我微信 wx_**** 私聊
> 客户 18:00:00: 再不处理就投诉到12315，另一个号 139****1234
在控制台查看会话: https://console.example.com/conversations/conv-42?event=0190f3b2-7c4e-7a00-8000-000000000001`,
		"en": `Xunjian alert · high · complaint
客户威胁投诉（手机 138****5678）
Level: high
Kind: complaint
Tenant: acme
Team: vip
Agent: agent-7
Conversation: conv-42
Time: 2026-03-01 18:00:00
Complaint risk: 0.82
Recent turns
> Customer 17:59:40: 我的手机 138****5678 一直收不到验证码
> Agent 17:59:50 [blocked · not delivered]: 加我微信 wx_**** 私聊
> Customer 18:00:00: 再不处理就投诉到12315，另一个号 139****1234
Open the conversation in the console: https://console.example.com/conversations/conv-42?event=0190f3b2-7c4e-7a00-8000-000000000001`,
	}
	for lang, w := range want {
		if got := plain(r.alert(&n, lang, 5)); got != w {
			t.Errorf("%s:\n%s\nwant:\n%s", lang, got, w)
		}
	}
	// Fewer turns: the latest are kept. A draft released with a warning
	// but not taken by the backend shows both marks; no console URL, no
	// link; no team, no team line.
	n.Context = append(n.Context, event.Turn{Role: event.RoleAgent, TS: t0.Add(time.Second), TextMasked: "好的", Action: "warn", Delivered: false})
	n.Team = ""
	r.consoleURL = ""
	got := plain(r.alert(&n, "zh", 2))
	if !strings.HasSuffix(got, "最近对话\n> 客户 18:00:00: 再不处理就投诉到12315，另一个号 139****1234\n> 坐席 18:00:01 〔提醒·未送达〕: 好的") || strings.Contains(got, "团队") {
		t.Errorf("two turns, no link, no team:\n%s", got)
	}
	if got := plain(r.alert(&n, "zh", 0)); strings.Contains(got, "最近对话") {
		t.Errorf("no turns:\n%s", got)
	}
}

func TestEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"138****5678 与 139****1234":    `138\*\*\*\*5678 与 139\*\*\*\*1234`,
		"wx_**** [link](http://x) `c`": "wx\\_\\*\\*\\*\\* \\[link\\](http://x) \\`c\\`",
		`<font color="info">x</font>`:  `\<font color="info"\>x\</font\>`,
		"a\\b ~~s~~ | t":               `a\\b \~\~s\~\~ \| t`,
		"line one\nline two\r\n# h":    "line one line two  # h",
	} {
		if got := md(in); got != want {
			t.Errorf("md(%q) = %q, want %q", in, got, want)
		}
		// CommonMark's backslash escapes undo it: the text is as given.
		if un := unescapeMD(md(in)); un != flatten(in) {
			t.Errorf("unescape(md(%q)) = %q", in, un)
		}
	}
	for in, want := range map[string]string{
		"a <b> & c":               "a &lt;b&gt; &amp; c",
		"<!here>":                 "&lt;!here&gt;",
		"138****5678 *bold* _it_": "138****5678 *bold* _it_",
	} {
		if got := mrkdwn(in); got != want {
			t.Errorf("mrkdwn(%q) = %q, want %q", in, got, want)
		}
	}
}

// unescapeMD undoes CommonMark's backslash escapes of ASCII punctuation.
func unescapeMD(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestCut(t *testing.T) {
	if got := cut("一二三四五", 3); got != "一二…" {
		t.Errorf("cut = %q", got)
	}
	if got := cut("abc", 3); got != "abc" {
		t.Errorf("cut = %q", got)
	}
	if got := cut("a\xffb", 5); got != "a\uFFFDb" {
		t.Errorf("cut of invalid UTF-8 = %q", got)
	}
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abcdef", 6, "abcdef"},
		{"一二三四", 8, "一…"},          // 3 bytes a character, "…" too
		{`abcd\*efgh`, 8, `abcd…`}, // never half an escape
		{`abc\\*efgh`, 8, `abc\\…`},
	} {
		if got := cutBytes(c.in, c.n); got != c.want || len(got) > c.n || !utf8.ValidString(got) {
			t.Errorf("cutBytes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// A long conversation meets each platform's limit by showing fewer turns,
// the latest kept.
func TestLengthLimits(t *testing.T) {
	n := sample()
	n.Message = strings.Repeat("长", 300)
	n.Context = nil
	for i := range 12 {
		n.Context = append(n.Context, event.Turn{Role: event.RoleCustomer, TS: t0, TextMasked: strings.Repeat("字", 400) + string(rune('A'+i)), Delivered: true})
	}
	last := strings.Repeat("字", 400) + "L"
	r := &renderer{consoleURL: "https://console.example.com", loc: time.UTC}
	p := poster{r: r, maxTurns: 12, digestTop: 5, clock: newFakeClock()}
	d := alertDelivery(n, "c", "zh")

	wecom := (&weCom{poster: p}).body
	ding := (&dingTalk{poster: p}).body
	for name, c := range map[string]struct {
		body  func(*Delivery) ([]byte, error)
		limit int
	}{"wecom": {wecom, weComMaxContent}, "dingtalk": {ding, dingTalkMaxText}} {
		b, err := c.body(d)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Markdown struct{ Content, Text string }
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		text := v.Markdown.Content + v.Markdown.Text
		if len(text) > c.limit || !utf8.ValidString(text) {
			t.Errorf("%s: %d bytes, limit %d", name, len(text), c.limit)
		}
		if !strings.Contains(text, last) || strings.Contains(text, strings.Repeat("字", 400)+"A") {
			t.Errorf("%s: the latest turn dropped or the oldest kept", name)
		}
		if !strings.Contains(text, "在控制台查看会话") {
			t.Errorf("%s: the link was dropped", name)
		}
	}
	fb, err := (&feishu{poster: p, secret: testSecret}).body(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(fb) > feishuMaxBody || !strings.Contains(string(fb), last) {
		t.Errorf("feishu: %d bytes, latest turn kept: %v", len(fb), strings.Contains(string(fb), last))
	}
	sb, err := (&slack{poster: p}).body(d)
	if err != nil {
		t.Fatal(err)
	}
	var s slackBody
	if err := json.Unmarshal(sb, &s); err != nil {
		t.Fatal(err)
	}
	if !fits(s.Blocks) || !strings.Contains(string(sb), last) {
		t.Errorf("slack: sections over 3000 characters, or the latest turn dropped")
	}
	// Huge ids alone overflow WeCom: the text is cut, still valid.
	n.Context, n.Tenant = nil, strings.Repeat("租", 199)
	n.AgentID, n.ConversationID, n.Team = n.Tenant, n.Tenant, n.Tenant
	n.Message = strings.Repeat("*", 3000) // cut to 1000 characters
	b, _ := wecom(alertDelivery(n, "c", "zh"))
	var v struct{ Markdown struct{ Content string } }
	if err := json.Unmarshal(b, &v); err != nil || len(v.Markdown.Content) > weComMaxContent || !utf8.ValidString(v.Markdown.Content) {
		t.Errorf("cut content: %d bytes, %v", len(v.Markdown.Content), err)
	}
}

// Every platform gets the masked text as given (escaped for markdown
// where the platform reads markdown, never otherwise changed), and no
// secret in any body.
func TestMaskedTextOnly(t *testing.T) {
	bodies := map[string][]byte{}
	rcs := map[string]*receiver{}
	for _, typ := range []string{TypeWebhook, TypeDingTalk, TypeWeCom, TypeFeishu, TypeSlack} {
		var body string
		switch typ {
		case TypeDingTalk, TypeWeCom:
			body = `{"errcode":0,"errmsg":"ok"}`
		case TypeFeishu:
			body = `{"code":0,"msg":"success","data":{}}`
		case TypeSlack:
			body = "ok"
		}
		rcs[typ] = newReceiver(t, reply(http.StatusOK, body))
	}
	slackURL := rcs[TypeSlack].URL + "/services/" + testToken
	cfg := testConfig(
		webhookChannel(rcs[TypeWebhook].URL),
		ChannelConfig{Name: "ding", Type: TypeDingTalk, BaseURL: rcs[TypeDingTalk].URL, TokenEnv: "XJ_TOKEN", SecretEnv: "XJ_SECRET"},
		ChannelConfig{Name: "wx", Type: TypeWeCom, BaseURL: rcs[TypeWeCom].URL, TokenEnv: "XJ_TOKEN"},
		ChannelConfig{Name: "fs", Type: TypeFeishu, BaseURL: rcs[TypeFeishu].URL, TokenEnv: "XJ_TOKEN", SecretEnv: "XJ_SECRET"},
		ChannelConfig{Name: "sl", Type: TypeSlack, URLEnv: "SLACK_URL"},
	)
	clock := newFakeClock()
	d, err := New(cfg, Options{Getenv: env(map[string]string{"XJ_TOKEN": testToken, "XJ_SECRET": testSecret, "SLACK_URL": slackURL}), Clock: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := sample()
	if err := d.Submit(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for typ, rc := range rcs {
		hits := rc.Hits()
		if len(hits) != 1 {
			t.Fatalf("%s: %d posts", typ, len(hits))
		}
		bodies[typ] = hits[0].body
	}
	masked := []string{n.Message, n.Context[0].TextMasked, n.Context[1].TextMasked, n.Context[2].TextMasked}
	for typ, b := range bodies {
		var text string
		switch typ {
		case TypeDingTalk, TypeWeCom:
			var v struct {
				Markdown struct{ Text, Content string }
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			md := v.Markdown.Text + v.Markdown.Content
			if !strings.Contains(md, `138\*\*\*\*5678`) {
				t.Errorf("%s: the mask is not escaped for markdown:\n%s", typ, md)
			}
			text = unescapeMD(md)
		default:
			// JSON strings hold the text itself.
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			text = strings.Join(strs(v), "\n")
		}
		for _, m := range masked {
			if !strings.Contains(text, m) {
				t.Errorf("%s: %q not sent as given:\n%s", typ, m, text)
			}
		}
		// No secret in a body, and no mask lost its stars.
		for _, s := range []string{testToken, testSecret, "1385678", "1391234"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s: the body holds %q", typ, s)
			}
		}
	}
}

// strs returns every string in a decoded JSON value.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, strs(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, strs(e)...)
		}
		return out
	}
	return nil
}
