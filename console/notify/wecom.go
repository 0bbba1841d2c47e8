package notify

import (
	"context"
	"net/url"
)

// weComMaxContent is the markdown content's documented limit: 4096 bytes
// of UTF-8.
const weComMaxContent = 4096

// WeCom's errcodes that a later attempt may clear: -1 (system busy), 45009
// (API calls over the limit: a robot takes 20 messages a minute) and 45033
// (too many concurrent calls).
var (
	weComRetry       = map[int]bool{-1: true, 45009: true, 45033: true}
	weComRateLimited = map[int]bool{45009: true}
)

// weCom posts markdown to a WeCom group robot (群机器人): POST
// {base_url}?key=…, body {"msgtype": "markdown", "markdown": {"content"}},
// answer {"errcode": 0, "errmsg": "ok"}
// (https://developer.work.weixin.qq.com/document/path/91770). The robot
// has no signature: its key is the credential.
type weCom struct {
	poster
	base, key string
}

type weComBody struct {
	MsgType  string        `json:"msgtype"`
	Markdown weComMarkdown `json:"markdown"`
}

type weComMarkdown struct {
	Content string `json:"content"`
}

func (c *weCom) body(d *Delivery) ([]byte, error) {
	text := c.fitText(d, weComMaxContent, func(v view) string { return markdown(v, "\n") })
	return marshal(weComBody{MsgType: "markdown", Markdown: weComMarkdown{Content: text}})
}

// Send posts d. errcode 0 is success; -1, 45009 and 45033 are retried.
func (c *weCom) Send(ctx context.Context, d *Delivery) error {
	body, err := c.body(d)
	if err != nil {
		return &SendError{Channel: c.name, Err: err}
	}
	a, err := c.post(ctx, c.base+"?"+url.Values{"key": {c.key}}.Encode(), body, nil)
	if err != nil {
		return err
	}
	return c.codeAnswer(a, errcode, weComRetry, weComRateLimited)
}
