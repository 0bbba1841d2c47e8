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

// feishuMaxBody is the custom bot's documented limit on the request body,
// 20 KB.
const feishuMaxBody = 20_000

// Feishu's codes that a later attempt may clear: 11232 (frequency
// limited: 100 messages a minute, 5 a second).
var (
	feishuRetry       = map[int]bool{11232: true}
	feishuRateLimited = map[int]bool{11232: true}
)

// feishu posts rich text to a Feishu or Lark custom bot (自定义机器人):
// POST {base_url}{hook id}, body {"timestamp", "sign", "msg_type": "post",
// "content": {"post": {"zh_cn" | "en_us": {"title", "content": [[nodes]]}}}},
// answer {"code": 0, "msg": "success"} (older bots: {"StatusCode": 0}).
// The signature is the bot page's: the timestamp in seconds, a line feed
// and the secret form the HMAC-SHA256 KEY, over an empty message, then
// Base64 (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot).
//
// The post type is used rather than an interactive card: its text nodes
// are shown as written, so masked text needs no escaping (a card's
// markdown would read it as markup), and its title, lines and links are
// all an alert needs.
type feishu struct {
	poster
	endpoint, secret string
}

// feishuSign returns the sign field of timestamp (seconds) for secret.
func feishuSign(timestamp, secret string) string {
	m := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type feishuBody struct {
	Timestamp string        `json:"timestamp,omitempty"`
	Sign      string        `json:"sign,omitempty"`
	MsgType   string        `json:"msg_type"`
	Content   feishuContent `json:"content"`
}

type feishuContent struct {
	Post map[string]feishuPost `json:"post"`
}

type feishuPost struct {
	Title   string         `json:"title"`
	Content [][]feishuNode `json:"content"`
}

type feishuNode struct {
	Tag  string `json:"tag"`
	Text string `json:"text"`
	Href string `json:"href,omitempty"`
}

// feishuPostOf lays v out as a post: one paragraph per line, text nodes
// as written (flattened to one line), links as a nodes.
func feishuPostOf(v view, colon string) feishuPost {
	p := feishuPost{Title: v.title, Content: [][]feishuNode{}}
	text := func(s string) feishuNode { return feishuNode{Tag: "text", Text: s} }
	for _, l := range v.lines {
		var row []feishuNode
		switch l.kind {
		case lineField:
			row = []feishuNode{text(l.label + colon + flatten(l.text))}
		case lineText:
			row = []feishuNode{text(flatten(l.text))}
		case lineSection:
			row = []feishuNode{text(l.label)}
		case lineTurn:
			row = []feishuNode{text("> " + l.label + colon + flatten(l.text))}
		case lineItem:
			row = []feishuNode{text("• " + l.label + " " + flatten(l.text))}
			if l.href != "" {
				row = append(row, feishuNode{Tag: "a", Text: " ↗", Href: l.href})
			}
		case lineLink:
			row = []feishuNode{{Tag: "a", Text: l.text, Href: l.href}}
		}
		p.Content = append(p.Content, row)
	}
	return p
}

func (c *feishu) body(d *Delivery) ([]byte, error) {
	lang, w := "zh_cn", wordsFor(d.Lang)
	if d.Lang == "en" {
		lang = "en_us"
	}
	b := feishuBody{MsgType: "post"}
	if c.secret != "" {
		b.Timestamp = strconv.FormatInt(c.clock.Now().Unix(), 10)
		b.Sign = feishuSign(b.Timestamp, c.secret)
	}
	var err error
	out := fit(c.most(d), func(n int) []byte {
		b.Content.Post = map[string]feishuPost{lang: feishuPostOf(c.view(d, n), w.colon)}
		var data []byte
		data, err = marshal(b)
		return data
	}, func(data []byte) bool { return len(data) <= feishuMaxBody })
	if err != nil {
		return nil, err
	}
	if len(out) > feishuMaxBody {
		// Fewer turns were not enough (huge ids): the last resort is the
		// title and the link.
		v := c.view(d, 0)
		v.lines = nil
		b.Content.Post = map[string]feishuPost{lang: feishuPostOf(v, w.colon)}
		return marshal(b)
	}
	return out, nil
}

// Send posts d. code 0 is success; 11232 is retried.
func (c *feishu) Send(ctx context.Context, d *Delivery) error {
	body, err := c.body(d)
	if err != nil {
		return &SendError{Channel: c.name, Err: err}
	}
	a, err := c.post(ctx, c.endpoint, body, nil)
	if err != nil {
		return err
	}
	return c.codeAnswer(a, feishuCode, feishuRetry, feishuRateLimited)
}

// feishuCode reads Feishu's {"code", "msg"}, or the older
// {"StatusCode", "StatusMessage"}; ok is false when there is neither.
func feishuCode(b []byte) (int, string, bool) {
	var v struct {
		Code          *int   `json:"code"`
		Msg           string `json:"msg"`
		StatusCode    *int   `json:"StatusCode"`
		StatusMessage string `json:"StatusMessage"`
	}
	switch {
	case json.Unmarshal(b, &v) != nil:
		return 0, "", false
	case v.Code != nil:
		return *v.Code, v.Msg, true
	case v.StatusCode != nil:
		return *v.StatusCode, v.StatusMessage, true
	}
	return 0, "", false
}

// feishuEndpoint returns the hook's URL: base (ending in /hook/) and the
// hook id.
func feishuEndpoint(base, hook string) string {
	if base != "" && base[len(base)-1] != '/' {
		base += "/"
	}
	return base + url.PathEscape(hook)
}
