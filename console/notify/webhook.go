package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// WebhookSchema is the schema field of the generic webhook's body.
const WebhookSchema = "xunjian.notify/v1"

// The generic webhook's headers.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256, keyed
	// with the channel's secret, of the timestamp, a dot and the body:
	// WebhookSignature.
	HeaderSignature = "X-Xunjian-Signature"
	// HeaderTimestamp carries the signing time in Unix seconds; a
	// receiver should refuse a timestamp far from its clock (5 minutes,
	// say) to stop replays.
	HeaderTimestamp = "X-Xunjian-Timestamp"
	// HeaderIdempotencyKey carries Delivery.Key: the same for every
	// attempt and every replay of one alert to one channel, so that a
	// receiver can drop repeats.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// WebhookSignature returns the value of HeaderSignature for body sent at
// timestamp (Unix seconds, as HeaderTimestamp carries it): "sha256=" and
// the lower-case hex HMAC-SHA256 of timestamp + "." + body, keyed with
// secret. A receiver recomputes it over the raw body and compares with
// hmac.Equal.
func WebhookSignature(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// WebhookBody is the generic webhook's JSON body: the notification (or
// digest) as data, and Text, the message laid out as plain text.
type WebhookBody struct {
	Schema string `json:"schema"`
	// Type is "alert" or "digest".
	Type           string         `json:"type"`
	IdempotencyKey string         `json:"idempotency_key"`
	Channel        string         `json:"channel"`
	Lang           string         `json:"lang"`
	Alert          *WebhookAlert  `json:"alert,omitempty"`
	Digest         *WebhookDigest `json:"digest,omitempty"`
	// URL is the console's view (the conversation, or the alert list for
	// a digest); absent without a console URL.
	URL  string `json:"url,omitempty"`
	Text string `json:"text"`
}

// WebhookAlert is one notification in a WebhookBody; its text is masked.
type WebhookAlert struct {
	EventID        string       `json:"event_id"`
	TS             time.Time    `json:"ts"`
	Tenant         string       `json:"tenant"`
	Team           string       `json:"team,omitempty"`
	ConversationID string       `json:"conversation_id"`
	AgentID        string       `json:"agent_id"`
	Level          string       `json:"level"`
	Kind           string       `json:"kind"`
	Message        string       `json:"message"`
	Risk           float64      `json:"risk,omitempty"`
	Context        []event.Turn `json:"context,omitempty"`
}

// WebhookDigest is a digest in a WebhookBody.
type WebhookDigest struct {
	WindowStart time.Time      `json:"window_start"`
	WindowEnd   time.Time      `json:"window_end"`
	Total       int            `json:"total"`
	Counts      []WebhookCount `json:"counts"`
	// Top are the gravest notifications, without their context.
	Top []WebhookAlert `json:"top"`
}

// WebhookCount counts a digest's notifications of one kind and level.
type WebhookCount struct {
	Kind  string `json:"kind"`
	Level string `json:"level"`
	Count int    `json:"count"`
}

// webhook posts WebhookBody to any URL, signed.
type webhook struct {
	poster
	url    string
	secret []byte
}

func webhookAlert(n *Notification, withContext bool) *WebhookAlert {
	a := &WebhookAlert{
		EventID: n.EventID, TS: n.Time, Tenant: n.Tenant, Team: n.Team,
		ConversationID: n.ConversationID, AgentID: n.AgentID,
		Level: n.Level.String(), Kind: n.Kind, Message: n.Message, Risk: n.Risk,
	}
	if withContext {
		a.Context = n.Context
	}
	return a
}

// body returns d's WebhookBody, encoded.
func (c *webhook) body(d *Delivery) ([]byte, error) {
	b := WebhookBody{Schema: WebhookSchema, IdempotencyKey: d.Key, Channel: c.name, Lang: d.Lang}
	if dg := d.Digest; dg != nil {
		b.Type = "digest"
		wd := &WebhookDigest{WindowStart: dg.Start, WindowEnd: dg.End, Total: dg.Total, Counts: []WebhookCount{}, Top: []WebhookAlert{}}
		for _, k := range dg.Counts {
			wd.Counts = append(wd.Counts, WebhookCount{Kind: k.Kind, Level: k.Level.String(), Count: k.N})
		}
		for i := range dg.Top {
			wd.Top = append(wd.Top, *webhookAlert(&dg.Top[i], false))
		}
		b.Digest, b.URL = wd, c.r.alertsURL()
	} else {
		b.Type = "alert"
		b.Alert, b.URL = webhookAlert(d.Notification, true), c.r.conversationURL(d.Notification)
	}
	b.Text = plain(c.view(d, c.most(d)))
	return marshal(b)
}

// Send posts d, signed, with its idempotency key. Any 2xx answer is
// success.
func (c *webhook) Send(ctx context.Context, d *Delivery) error {
	body, err := c.body(d)
	if err != nil {
		return &SendError{Channel: c.name, Err: err}
	}
	ts := strconv.FormatInt(c.clock.Now().Unix(), 10)
	hdr := http.Header{}
	hdr.Set(HeaderTimestamp, ts)
	hdr.Set(HeaderSignature, WebhookSignature(c.secret, ts, body))
	hdr.Set(HeaderIdempotencyKey, d.Key)
	a, err := c.post(ctx, c.url, body, hdr)
	if err != nil {
		return err
	}
	if a.status < 200 || a.status > 299 {
		// The body is not quoted: a receiver may echo the request.
		return c.statusError(a)
	}
	return nil
}
