package event

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/xunjian/xunjian/gateway/internal/jsonstr"
)

// SchemaID names the event schema; it is the value of the "schema" Kafka
// header.
const SchemaID = "xunjian.event/v1"

// TimeFormat is the layout of ts: RFC 3339 with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

//go:embed schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of xunjian.event/v1. The
// caller gets its own copy.
func Schema() []byte { return append([]byte(nil), schema...) }

// Event is one xunjian.event/v1 event; see the package comment for the
// fields. The gateway builds events where it publishes them
// (stream.NewEvent); an Event is not changed once built and may then be
// read concurrently.
type Event struct {
	EventID        string    `json:"event_id"`
	TS             time.Time `json:"ts"`
	Tenant         string    `json:"tenant"`
	ConversationID string    `json:"conversation_id"`
	AgentID        string    `json:"agent_id"`
	Role           string    `json:"role"`
	Action         Action    `json:"action"`
	Findings       []Finding `json:"findings"`
	Reasons        []Reason  `json:"reasons"`
	Alerts         []Alert   `json:"alerts"`
	PolicyRevision string    `json:"policy_revision"`
	Shadow         []Reason  `json:"shadow"`
	LatencyUS      int64     `json:"latency_us"`
	Sampled        bool      `json:"sampled"`
	AgentClaimed   bool      `json:"agent_claimed,omitempty"`
	FailOpen       bool      `json:"fail_open,omitempty"`
	// Degraded is set when the gateway decided on state of its own
	// because the state its gateways share (shared_state) was unreachable
	// and its mode is degrade: the conversation's context, the alert
	// deduplication, the sampling and the limits were this gateway's only
	// (optional: absent when false).
	Degraded   bool     `json:"degraded,omitempty"`
	Route      string   `json:"route,omitempty"`
	TextEnc    *TextEnc `json:"text_enc,omitempty"`
	TextMasked string   `json:"text_masked,omitempty"`
	// Risk is the conversation's complaint risk after this message, in
	// [0, 1] (optional: absent when zero).
	Risk float64 `json:"risk,omitempty"`
	// Context holds the conversation's last few turns, masked, oldest
	// first and ending with this message: set on the alerts topic, so a
	// supervisor sees what led to the alert (optional).
	Context []Turn `json:"context,omitempty"`
	// Opinion is the second opinion asked about the message (optional).
	Opinion *Opinion `json:"opinion,omitempty"`
}

// Opinion is the second opinion on a message the learned model scored in
// a grey zone: recorded in shadow mode, part of the action only when its
// tenant enforces it (Applied).
type Opinion struct {
	// Verdict is ok or harmful; empty when Error is set.
	Verdict string `json:"verdict,omitempty"`
	// Kinds are the kinds a harmful opinion found.
	Kinds []string `json:"kinds,omitempty"`
	// Reason is the opinion's one-line reason, masked.
	Reason string `json:"reason,omitempty"`
	// Model is the model that answered.
	Model string `json:"model,omitempty"`
	// Mode is shadow or enforce.
	Mode string `json:"mode"`
	// Error names why there is no opinion (timeout, busy, unavailable,
	// bad_answer, closed, canceled, error).
	Error string `json:"error,omitempty"`
	// LatencyMS is how long the call took, in milliseconds.
	LatencyMS int64 `json:"latency_ms"`
	// Applied is set when the opinion changed the action.
	Applied bool `json:"applied"`
}

// Turn is one masked turn of an alert's context.
type Turn struct {
	Role       string    `json:"role"`
	TS         time.Time `json:"ts"`
	TextMasked string    `json:"text_masked"`
	// Action is the gateway's action on an agent draft (allow, warn,
	// redact, confirm, block); empty for a customer message, which is
	// never gated.
	Action string `json:"action,omitempty"`
	// Delivered reports whether the turn reached the other side: false
	// for a draft blocked, held for an ack, or released but not taken by
	// the chat backend, which the customer never saw.
	Delivered bool `json:"delivered"`
}

// Key returns the Kafka message key: the conversation id, so one
// conversation's events stay in order on one partition.
func (e *Event) Key() []byte { return []byte(e.ConversationID) }

// Headers returns the Kafka headers: tenant and schema.
func (e *Event) Headers() [][2]string {
	return [][2]string{{"tenant", e.Tenant}, {"schema", SchemaID}}
}

// DecryptText opens the event's text_enc with enc (its key id must match),
// binding the event id: for auditors and replay.
func (e *Event) DecryptText(enc *Encryptor) (string, error) {
	if e.TextEnc == nil {
		return "", errors.New("event: no text_enc")
	}
	b, err := enc.Decrypt(*e.TextEnc, []byte(e.EventID))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Parse decodes an xunjian.event/v1 event, refusing unknown fields.
func Parse(b []byte) (*Event, error) {
	var e Event
	if err := strictUnmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("event: parse: %w", err)
	}
	return &e, nil
}

// MarshalJSON implements json.Marshaler with Marshal, so encoding/json
// writes the same bytes.
func (e *Event) MarshalJSON() ([]byte, error) { return e.Marshal(nil) }

// Marshal appends the event's JSON encoding to dst. On error dst is
// returned unchanged (up to its length).
func (e *Event) Marshal(dst []byte) ([]byte, error) {
	n := len(dst)
	b := append(dst, `{"event_id":`...)
	b = jsonstr.Append(b, e.EventID)
	b = append(b, `,"ts":"`...)
	b = e.TS.AppendFormat(b, TimeFormat)
	b = append(b, `","tenant":`...)
	b = jsonstr.Append(b, e.Tenant)
	b = append(b, `,"conversation_id":`...)
	b = jsonstr.Append(b, e.ConversationID)
	b = append(b, `,"agent_id":`...)
	b = jsonstr.Append(b, e.AgentID)
	b = append(b, `,"role":`...)
	b = jsonstr.Append(b, e.Role)
	b = append(b, `,"action":`...)
	if !e.Action.Valid() {
		return dst[:n], fmt.Errorf("event: action: invalid %d", int(e.Action))
	}
	b = jsonstr.Append(b, e.Action.String())
	b = append(b, `,"findings":[`...)
	for i := range e.Findings {
		f := &e.Findings[i]
		if i > 0 {
			b = append(b, ',')
		}
		sev, err := f.Severity.MarshalText()
		if err != nil {
			return dst[:n], fmt.Errorf("event: findings[%d]: %w", i, err)
		}
		b = append(b, `{"detector":`...)
		b = jsonstr.Append(b, f.Detector)
		b = append(b, `,"kind":`...)
		b = jsonstr.Append(b, f.Kind)
		b = append(b, `,"severity":"`...)
		b = append(b, sev...)
		b = append(b, `","score":`...)
		if b, err = appendFloat(b, f.Score); err != nil {
			return dst[:n], fmt.Errorf("event: findings[%d]: %w", i, err)
		}
		b = append(b, `,"start":`...)
		b = strconv.AppendInt(b, int64(f.Start), 10)
		b = append(b, `,"end":`...)
		b = strconv.AppendInt(b, int64(f.End), 10)
		b = append(b, `,"evidence":`...)
		b = jsonstr.Append(b, f.Evidence)
		if f.Rule != "" {
			b = append(b, `,"rule":`...)
			b = jsonstr.Append(b, f.Rule)
		}
		if f.Lexicon != "" {
			b = append(b, `,"lexicon":`...)
			b = jsonstr.Append(b, f.Lexicon)
		}
		b = append(b, '}')
	}
	b = append(b, `],"reasons":`...)
	var err error
	if b, err = appendReasons(b, e.Reasons, "reasons"); err != nil {
		return dst[:n], err
	}
	b = append(b, `,"alerts":[`...)
	for i := range e.Alerts {
		a := &e.Alerts[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"level":`...)
		b = jsonstr.Append(b, a.Level)
		b = append(b, `,"kind":`...)
		b = jsonstr.Append(b, a.Kind)
		b = append(b, `,"message":`...)
		b = jsonstr.Append(b, a.Message)
		b = append(b, '}')
	}
	b = append(b, `],"policy_revision":`...)
	b = jsonstr.Append(b, e.PolicyRevision)
	b = append(b, `,"shadow":`...)
	if b, err = appendReasons(b, e.Shadow, "shadow"); err != nil {
		return dst[:n], err
	}
	b = append(b, `,"latency_us":`...)
	b = strconv.AppendInt(b, e.LatencyUS, 10)
	b = append(b, `,"sampled":`...)
	b = strconv.AppendBool(b, e.Sampled)
	if e.AgentClaimed {
		b = append(b, `,"agent_claimed":true`...)
	}
	if e.FailOpen {
		b = append(b, `,"fail_open":true`...)
	}
	if e.Degraded {
		b = append(b, `,"degraded":true`...)
	}
	if e.Route != "" {
		b = append(b, `,"route":`...)
		b = jsonstr.Append(b, e.Route)
	}
	if t := e.TextEnc; t != nil {
		b = append(b, `,"text_enc":{"alg":`...)
		b = jsonstr.Append(b, t.Alg)
		b = append(b, `,"key_id":`...)
		b = jsonstr.Append(b, t.KeyID)
		b = append(b, `,"nonce":"`...)
		b = base64.StdEncoding.AppendEncode(b, t.Nonce)
		b = append(b, `","ciphertext":"`...)
		b = base64.StdEncoding.AppendEncode(b, t.Ciphertext)
		b = append(b, `"}`...)
	}
	if e.TextMasked != "" {
		b = append(b, `,"text_masked":`...)
		b = jsonstr.Append(b, e.TextMasked)
	}
	if e.Risk != 0 {
		b = append(b, `,"risk":`...)
		if b, err = appendFloat(b, e.Risk); err != nil {
			return dst[:n], fmt.Errorf("event: risk: %w", err)
		}
	}
	if e.Context != nil {
		b = append(b, `,"context":[`...)
		for i := range e.Context {
			t := &e.Context[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"role":`...)
			b = jsonstr.Append(b, t.Role)
			b = append(b, `,"ts":"`...)
			b = t.TS.AppendFormat(b, TimeFormat)
			b = append(b, `","text_masked":`...)
			b = jsonstr.Append(b, t.TextMasked)
			if t.Action != "" {
				b = append(b, `,"action":`...)
				b = jsonstr.Append(b, t.Action)
			}
			b = append(b, `,"delivered":`...)
			b = strconv.AppendBool(b, t.Delivered)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if o := e.Opinion; o != nil {
		b = appendOpinion(b, o)
	}
	return append(b, '}'), nil
}

// appendOpinion appends the opinion field, in encoding/json's order and
// form.
func appendOpinion(b []byte, o *Opinion) []byte {
	b = append(b, `,"opinion":{`...)
	n := len(b)
	field := func(name string) {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	if o.Verdict != "" {
		field("verdict")
		b = jsonstr.Append(b, o.Verdict)
	}
	if len(o.Kinds) > 0 {
		field("kinds")
		b = append(b, '[')
		for i, k := range o.Kinds {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, k)
		}
		b = append(b, ']')
	}
	if o.Reason != "" {
		field("reason")
		b = jsonstr.Append(b, o.Reason)
	}
	if o.Model != "" {
		field("model")
		b = jsonstr.Append(b, o.Model)
	}
	field("mode")
	b = jsonstr.Append(b, o.Mode)
	if o.Error != "" {
		field("error")
		b = jsonstr.Append(b, o.Error)
	}
	field("latency_ms")
	b = strconv.AppendInt(b, o.LatencyMS, 10)
	field("applied")
	b = strconv.AppendBool(b, o.Applied)
	return append(b, '}')
}

func appendReasons(b []byte, rs []Reason, field string) ([]byte, error) {
	b = append(b, '[')
	for i := range rs {
		r := &rs[i]
		if i > 0 {
			b = append(b, ',')
		}
		if !r.Action.Valid() {
			return b, fmt.Errorf("event: %s[%d]: invalid action %d", field, i, int(r.Action))
		}
		b = append(b, `{"rule":`...)
		b = jsonstr.Append(b, r.Rule)
		b = append(b, `,"action":"`...)
		b = append(b, r.Action.String()...)
		b = append(b, `","message":`...)
		b = jsonstr.Append(b, r.Message)
		if r.Finding != nil {
			b = append(b, `,"finding":`...)
			b = strconv.AppendInt(b, int64(*r.Finding), 10)
		}
		if r.Suggestion != "" {
			b = append(b, `,"suggestion":`...)
			b = jsonstr.Append(b, r.Suggestion)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendFloat writes f as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, errors.New("score is not a finite number")
	}
	abs, format := math.Abs(f), byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the event")
	}
	return nil
}
