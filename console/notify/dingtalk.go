package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
)

// dingTalkMaxText bounds the markdown text, in bytes. The custom robot's
// page gives no limit for markdown; this is the limit DingTalk documents
// for a robot's group message (msgParam, 15,000 bytes), and far more than
// an alert needs.
const dingTalkMaxText = 15000

// DingTalk's errcodes that a later attempt may clear: -1 (system busy),
// 130101 ("send too fast, exceed 20 times per minute") and 410100 (sent
// too fast, throttled).
var (
	dingTalkRetry       = map[int]bool{-1: true, 130101: true, 410100: true}
	dingTalkRateLimited = map[int]bool{130101: true, 410100: true}
)

// dingTalk posts markdown to a DingTalk custom robot (自定义机器人):
// POST {base_url}?access_token=…, with &timestamp=…&sign=… when the
// robot is secured by signature (加签), body {"msgtype": "markdown",
// "markdown": {"title", "text"}}, answer {"errcode": 0, "errmsg": "ok"}.
// The signature is the robot page's: the timestamp in milliseconds, a
// line feed and the secret, signed with HmacSHA256 keyed with the secret,
// then Base64 and URL-encoded
// (https://open.dingtalk.com/document/robots/custom-robot-access). A
// robot secured by keyword instead needs a keyword every message holds:
// the title's 巡检告警 (zh) or Xunjian (en).
type dingTalk struct {
	poster
	base, token, secret string
}

// dingTalkSign returns the sign parameter (before URL encoding) of
// timestamp (milliseconds) for secret.
func dingTalkSign(timestamp, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// endpoint returns the robot's URL with its token and, when signed, the
// timestamp and signature.
func (c *dingTalk) endpoint() string {
	q := url.Values{"access_token": {c.token}}
	if c.secret != "" {
		ts := strconv.FormatInt(c.clock.Now().UnixMilli(), 10)
		q.Set("timestamp", ts)
		q.Set("sign", dingTalkSign(ts, c.secret))
	}
	return c.base + "?" + q.Encode()
}

type dingTalkBody struct {
	MsgType  string           `json:"msgtype"`
	Markdown dingTalkMarkdown `json:"markdown"`
}

type dingTalkMarkdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

func (c *dingTalk) body(d *Delivery) ([]byte, error) {
	text := c.fitText(d, dingTalkMaxText, func(v view) string { return markdown(v, "\n\n") })
	return marshal(dingTalkBody{MsgType: "markdown", Markdown: dingTalkMarkdown{Title: c.view(d, 0).title, Text: text}})
}

// Send posts d. errcode 0 is success; -1, 130101 and 410100 are retried.
func (c *dingTalk) Send(ctx context.Context, d *Delivery) error {
	body, err := c.body(d)
	if err != nil {
		return &SendError{Channel: c.name, Err: err}
	}
	a, err := c.post(ctx, c.endpoint(), body, nil)
	if err != nil {
		return err
	}
	return c.codeAnswer(a, errcode, dingTalkRetry, dingTalkRateLimited)
}

// errcode reads DingTalk's and WeCom's {"errcode", "errmsg"}; ok is false
// when there is no errcode.
func errcode(b []byte) (int, string, bool) {
	var v struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if json.Unmarshal(b, &v) != nil || v.Errcode == nil {
		return 0, "", false
	}
	return *v.Errcode, v.Errmsg, true
}
