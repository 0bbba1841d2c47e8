package notify

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Slack's documented limits: a section's text, 3000 characters; a
// section's field, 2000 characters, at most 10 fields; the top-level
// text is kept as short as a section's.
const (
	slackMaxSection = 3000
	slackMaxField   = 2000
	slackMaxFields  = 10
)

// slack posts to a Slack incoming webhook: POST {webhook URL}, body
// {"text": fallback, "blocks": [sections]}, mrkdwn text with &, < and >
// escaped; the answer is 200 "ok", errors are HTTP statuses with a short
// error string (invalid_payload, channel_is_archived, …), 429 when rate
// limited (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks,
// https://docs.slack.dev/messaging/formatting-message-text).
type slack struct {
	poster
	url string
}

type slackBody struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type   string       `json:"type"`
	Text   *slackText   `json:"text,omitempty"`
	Fields []*slackText `json:"fields,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func mrkdwnText(s string, limit int) *slackText {
	return &slackText{Type: "mrkdwn", Text: cutRunes(s, limit)}
}

// cutRunes cuts s to limit characters, as Slack counts them.
func cutRunes(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return cut(s, limit)
}

// slackBlocks lays v out as sections: the title, the fields, the message,
// one section per group (turns, items) and the link.
func slackBlocks(v view) []slackBlock {
	// Sections are not cut here: fit measures them, then body cuts what
	// is still too long.
	section := func(s string) slackBlock {
		return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: s}}
	}
	blocks := []slackBlock{section("*" + mrkdwn(v.title) + "*")}
	var fields []*slackText
	var group []string
	flush := func() {
		if len(fields) > 0 {
			blocks = append(blocks, slackBlock{Type: "section", Fields: fields})
			fields = nil
		}
		if len(group) > 0 {
			blocks = append(blocks, section(strings.Join(group, "\n")))
			group = nil
		}
	}
	for _, l := range v.lines {
		switch l.kind {
		case lineField:
			if len(group) > 0 || len(fields) == slackMaxFields {
				flush()
			}
			fields = append(fields, mrkdwnText("*"+mrkdwn(l.label)+"*\n"+mrkdwn(l.text), slackMaxField))
		case lineText:
			flush()
			blocks = append(blocks, section(mrkdwn(l.text)))
		case lineSection:
			flush()
			group = append(group, "*"+mrkdwn(l.label)+"*")
		case lineTurn:
			group = append(group, "> *"+mrkdwn(l.label)+"*: "+mrkdwn(l.text))
		case lineItem:
			s := "• *" + mrkdwn(l.label) + "* " + mrkdwn(l.text)
			if l.href != "" {
				s += " <" + l.href + "|↗>"
			}
			group = append(group, s)
		case lineLink:
			flush()
			blocks = append(blocks, section("<"+l.href+"|"+mrkdwn(l.text)+">"))
		}
	}
	flush()
	return blocks
}

// fits reports whether every section of blocks is within Slack's limit.
func fits(blocks []slackBlock) bool {
	for _, b := range blocks {
		if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > slackMaxSection {
			return false
		}
	}
	return true
}

func (c *slack) body(d *Delivery) ([]byte, error) {
	blocks := fit(c.most(d), func(n int) []slackBlock { return slackBlocks(c.view(d, n)) }, fits)
	for _, b := range blocks {
		if b.Text != nil {
			b.Text.Text = cutRunes(b.Text.Text, slackMaxSection)
		}
	}
	v := c.view(d, 0)
	fallback := mrkdwn(v.title)
	if len(v.lines) > 0 && v.lines[0].kind == lineText {
		fallback += ": " + mrkdwn(v.lines[0].text)
	}
	return marshal(slackBody{Text: cutRunes(fallback, slackMaxSection), Blocks: blocks})
}

// Send posts d. 200 "ok" is success; 408, 429 and 5xx are retried.
func (c *slack) Send(ctx context.Context, d *Delivery) error {
	body, err := c.body(d)
	if err != nil {
		return &SendError{Channel: c.name, Err: err}
	}
	a, err := c.post(ctx, c.url, body, nil)
	if err != nil {
		return err
	}
	msg := strings.TrimSpace(string(a.body))
	if a.status == http.StatusOK && msg == "ok" {
		return nil
	}
	var e *SendError
	if a.status == http.StatusOK {
		e = &SendError{Channel: c.name, Status: a.status}
	} else {
		e = c.statusError(a)
	}
	// Slack's error strings are short tokens (invalid_payload); anything
	// longer is not Slack's and is not quoted.
	if len(msg) <= 64 && !strings.ContainsAny(msg, "{<\n") {
		e.Msg = c.platformMsg(msg)
	}
	return e
}
