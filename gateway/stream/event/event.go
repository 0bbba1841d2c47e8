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
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/jsonstr"
	"github.com/xunjian/xunjian/gateway/stream/scrub"
	"github.com/xunjian/xunjian/rules"
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
// fields. An Event built by New is not changed afterwards and may be read
// concurrently; it may share the slices of the verdict it came from, which
// must not be changed either.
type Event struct {
	EventID        string              `json:"event_id"`
	TS             time.Time           `json:"ts"`
	Tenant         string              `json:"tenant"`
	ConversationID string              `json:"conversation_id"`
	AgentID        string              `json:"agent_id"`
	Role           string              `json:"role"`
	Action         rules.Action        `json:"action"`
	Findings       []detectors.Finding `json:"findings"`
	Reasons        []rules.Reason      `json:"reasons"`
	Alerts         []rules.Alert       `json:"alerts"`
	PolicyRevision string              `json:"policy_revision"`
	Shadow         []rules.Reason      `json:"shadow"`
	LatencyUS      int64               `json:"latency_us"`
	Sampled        bool                `json:"sampled"`
	AgentClaimed   bool                `json:"agent_claimed,omitempty"`
	FailOpen       bool                `json:"fail_open,omitempty"`
	Route          string              `json:"route,omitempty"`
	TextEnc        *TextEnc            `json:"text_enc,omitempty"`
	TextMasked     string              `json:"text_masked,omitempty"`
	// Risk is the conversation's complaint risk after this message, in
	// [0, 1] (optional: absent when zero).
	Risk float64 `json:"risk,omitempty"`
	// Context holds the conversation's last few turns, masked, oldest
	// first and ending with this message: set on the alerts topic, so a
	// supervisor sees what led to the alert (optional).
	Context []Turn `json:"context,omitempty"`

	// handles masks, in the free text of this event, the contact handles
	// of its verdict's diversion.contact findings wherever a text quotes
	// them (nil: none); see scrub.
	handles *strings.Replacer
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

// Input is what New builds an Event from. The zero value of every field
// but Verdict is valid.
type Input struct {
	// ID is the event id, a UUIDv7; empty means a new one.
	ID string
	// TS is the inspection time; zero means now.
	TS             time.Time
	Tenant         string
	ConversationID string
	AgentID        string
	// AgentClaimed marks AgentID as named by the request rather than
	// established by the credential.
	AgentClaimed bool
	// Role is agent (the default when empty) or customer.
	Role string
	// Route is the proxied route, if any.
	Route string
	// Verdict is the inspection outcome; required.
	Verdict *inspect.Verdict
	// Shadow are the would-be reasons of shadow rules (rules.Decision.Shadow).
	Shadow []rules.Reason
	// Sampled marks the message for the samples topic on top of the
	// policy's own Verdict.Sample.
	Sampled bool
	// Masked is the text with its private data masked (the caller masks
	// it, as the inspector's Verdict.Redacted and Conversation.Recent do);
	// it goes to text_masked scrubbed again like every other text field.
	// Empty means no text_masked.
	Masked string
	// Risk is the conversation's complaint risk after this message.
	Risk float64
	// Context are the conversation's last turns, masked by the caller,
	// for an alert; each text is scrubbed again. Nil means no context.
	Context []inspect.Turn
	// Raw is the message as typed. It is never stored in clear: with an
	// Encryptor it is sealed into text_enc, without one it is dropped.
	Raw string
}

// New builds the event of one inspected message. Evidence and the
// policy's messages are re-checked for private data (see the package
// comment); raw text goes only into text_enc, and only when enc is not nil.
// The error names the field at fault and never holds message text.
func New(in Input, enc *Encryptor) (*Event, error) {
	v := in.Verdict
	if v == nil {
		return nil, errors.New("event: nil verdict")
	}
	if !v.Action.Valid() {
		return nil, fmt.Errorf("event: action: invalid %d", int(v.Action))
	}
	if math.IsNaN(in.Risk) {
		return nil, errors.New("event: risk is NaN")
	}
	role := in.Role
	switch role {
	case "":
		role = inspect.RoleAgent
	case inspect.RoleAgent, inspect.RoleCustomer:
	default:
		return nil, fmt.Errorf("event: role %q: want agent or customer", role)
	}
	id := in.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("event: event_id: %w", err)
		}
		id = u.String()
	} else if u, err := uuid.Parse(id); err != nil || u.Version() != 7 || u.String() != id {
		return nil, fmt.Errorf("event: event_id %q: want a lower-case UUIDv7", id)
	}
	ts := in.TS
	if ts.IsZero() {
		ts = time.Now()
	}
	hs := handleReplacer(v.Findings)
	sc := func(s string) string { return scrubWith(hs, s) }
	e := &Event{
		EventID:        id,
		TS:             ts,
		Tenant:         in.Tenant,
		ConversationID: in.ConversationID,
		AgentID:        in.AgentID,
		AgentClaimed:   in.AgentClaimed,
		Role:           role,
		Action:         v.Action,
		Alerts:         scrubAlerts(v.Alerts, sc),
		PolicyRevision: v.PolicyRevision,
		LatencyUS:      max(v.LatencyUS, 0),
		Sampled:        in.Sampled || v.Sample,
		FailOpen:       v.FailOpen,
		Route:          in.Route,
		TextMasked:     sc(in.Masked),
		Risk:           min(max(in.Risk, 0), 1),
		Context:        turns(in.Context, sc),
		handles:        hs,
	}
	var err error
	if e.Findings, err = findings(v.Findings); err != nil {
		return nil, err
	}
	if e.Reasons, err = reasons(v.Reasons, "reasons", sc); err != nil {
		return nil, err
	}
	if e.Shadow, err = reasons(in.Shadow, "shadow", sc); err != nil {
		return nil, err
	}
	if enc != nil && in.Raw != "" {
		t, err := enc.Encrypt([]byte(in.Raw), []byte(id))
		if err != nil {
			return nil, err
		}
		e.TextEnc = &t
	}
	return e, nil
}

// findings copies fs (never the caller's array: evidence may change) with
// evidence re-checked (contact handles masked by inspect.MaskContact, then
// scrub.Text) and scores clamped to [0, 1].
func findings(fs []detectors.Finding) ([]detectors.Finding, error) {
	out := make([]detectors.Finding, len(fs))
	for i, f := range fs {
		if math.IsNaN(f.Score) {
			return nil, fmt.Errorf("event: findings[%d] %s: score is NaN", i, f.Name())
		}
		if f.Start < 0 || f.End < f.Start {
			return nil, fmt.Errorf("event: findings[%d] %s: span [%d, %d)", i, f.Name(), f.Start, f.End)
		}
		if _, err := f.Severity.MarshalText(); err != nil {
			return nil, fmt.Errorf("event: findings[%d] %s: %w", i, f.Name(), err)
		}
		f.Score = min(max(f.Score, 0), 1)
		if inspect.IsContact(f) {
			// The handle masked as the inspector masks it in the text,
			// so evidence and text_masked show the same stars.
			f.Evidence = inspect.MaskContact(f.Evidence)
		}
		f.Evidence = scrub.Text(f.Evidence)
		out[i] = f
	}
	return out, nil
}

// reasons returns rs with messages and suggestions scrubbed, copying only
// when one changes; nil becomes empty.
func reasons(rs []rules.Reason, field string, scrub func(string) string) ([]rules.Reason, error) {
	if rs == nil {
		return []rules.Reason{}, nil
	}
	var out []rules.Reason
	for i, r := range rs {
		if !r.Action.Valid() {
			return nil, fmt.Errorf("event: %s[%d] %s: invalid action %d", field, i, r.Rule, int(r.Action))
		}
		if r.Finding != nil && *r.Finding < 0 {
			return nil, fmt.Errorf("event: %s[%d] %s: finding %d", field, i, r.Rule, *r.Finding)
		}
		m, s := scrub(r.Message), scrub(r.Suggestion)
		if m == r.Message && s == r.Suggestion {
			continue
		}
		if out == nil {
			out = append([]rules.Reason(nil), rs...)
		}
		out[i].Message, out[i].Suggestion = m, s
	}
	if out == nil {
		return rs, nil
	}
	return out, nil
}

// turns copies the context turns with their texts scrubbed again; nil
// stays nil.
func turns(ts []inspect.Turn, scrub func(string) string) []Turn {
	if ts == nil {
		return nil
	}
	out := make([]Turn, len(ts))
	for i, t := range ts {
		out[i] = Turn{Role: t.Role, TS: t.TS.Truncate(time.Millisecond), TextMasked: scrub(t.Text), Action: t.Action, Delivered: t.Delivered}
	}
	return out
}

// scrubAlerts returns as with their messages scrubbed, copying only when
// one changes; nil becomes empty.
func scrubAlerts(as []rules.Alert, scrub func(string) string) []rules.Alert {
	if as == nil {
		return []rules.Alert{}
	}
	var out []rules.Alert
	for i, a := range as {
		if m := scrub(a.Message); m != a.Message {
			if out == nil {
				out = append([]rules.Alert(nil), as...)
			}
			out[i].Message = m
		}
	}
	if out == nil {
		return as
	}
	return out
}

// ForAlert returns the event as the alerts topic carries it: a shallow copy
// with only the given alerts (those admitted by deduplication; nil means
// none) and the conversation's recent turns as context, their texts
// scrubbed as New scrubs them. e is not modified.
func (e *Event) ForAlert(alerts []rules.Alert, recent []inspect.Turn) *Event {
	c := *e
	sc := func(s string) string { return scrubWith(e.handles, s) }
	c.Alerts = scrubAlerts(alerts, sc)
	c.Context = turns(recent, sc)
	if c.Context == nil {
		c.Context = []Turn{}
	}
	return &c
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
	return append(b, '}'), nil
}

func appendReasons(b []byte, rs []rules.Reason, field string) ([]byte, error) {
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
