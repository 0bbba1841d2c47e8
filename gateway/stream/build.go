package stream

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/scrub"
	"github.com/xunjian/xunjian/rules"
)

// EventInput is what NewEvent builds an event from. The zero value of
// every field but Verdict is valid.
type EventInput struct {
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
	// Degraded marks a message decided on this gateway's own state, the
	// shared state being unreachable (event field degraded).
	Degraded bool
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

// NewEvent builds the xunjian.event/v1 event of one inspected message.
// It checks what the event package cannot know: the verdict's action,
// severities and reasons are ones the schema names, its spans and scores
// are sane. The event is not changed afterwards and may be read
// concurrently; it may share memory with the verdict it came from (the
// reasons' finding indexes), which must not be changed either.
//
// Raw text goes only into text_enc, and only when enc is not nil. Every
// text field of the event is re-checked for private data on the way out:
// text_masked, context[].text_masked, evidence, the messages and
// suggestions of reasons and shadow, and alert messages all pass through
// scrub.Text, so a detector that forgot to mask, a policy message quoting
// a number or a phone spelled 一三八… cannot leak one. Evidence comes from
// the verdict, where the privacy detector already masks it; a
// diversion.contact finding's evidence also has its contact handle (wxid_…,
// QQ number, @handle) masked by inspect.MaskContact, the same masker with
// which the inspector masks the handle in the text that becomes
// text_masked and context, so both show the same stars; and wherever a
// free text quotes such a handle, it is starred the same way.
//
// The error names the field at fault and never holds message text.
func NewEvent(in EventInput, enc *event.Encryptor) (*event.Event, error) {
	v := in.Verdict
	if v == nil {
		return nil, errors.New("event: nil verdict")
	}
	action, ok := eventAction(v.Action)
	if !ok {
		return nil, fmt.Errorf("event: action: invalid %d", int(v.Action))
	}
	if math.IsNaN(in.Risk) {
		return nil, errors.New("event: risk is NaN")
	}
	var role string
	switch in.Role {
	case "", inspect.RoleAgent:
		role = event.RoleAgent
	case inspect.RoleCustomer:
		role = event.RoleCustomer
	default:
		return nil, fmt.Errorf("event: role %q: want agent or customer", in.Role)
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
	e := &event.Event{
		EventID:        id,
		TS:             ts,
		Tenant:         in.Tenant,
		ConversationID: in.ConversationID,
		AgentID:        in.AgentID,
		AgentClaimed:   in.AgentClaimed,
		Role:           role,
		Action:         action,
		Alerts:         alerts(v.Alerts, sc),
		PolicyRevision: v.PolicyRevision,
		LatencyUS:      max(v.LatencyUS, 0),
		Sampled:        in.Sampled || v.Sample,
		FailOpen:       v.FailOpen,
		Degraded:       in.Degraded,
		Route:          in.Route,
		TextMasked:     sc(in.Masked),
		Risk:           min(max(in.Risk, 0), 1),
		Context:        turns(in.Context, sc),
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
	if e.Opinion, err = opinion(v.Opinion, sc); err != nil {
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

// opinion converts a verdict's second opinion to the event's, its reason
// masked again (free text from outside the gateway that may echo the
// message). nil stays nil.
func opinion(o *inspect.Opinion, sc func(string) string) (*event.Opinion, error) {
	if o == nil {
		return nil, nil
	}
	if o.Mode != inspect.OpinionShadow && o.Mode != inspect.OpinionEnforce {
		return nil, fmt.Errorf("event: opinion: mode %q: want shadow or enforce", o.Mode)
	}
	switch {
	case o.Error == "" && o.Verdict != inspect.OpinionOK && o.Verdict != inspect.OpinionHarmful:
		return nil, fmt.Errorf("event: opinion: verdict %q: want ok or harmful", o.Verdict)
	case o.Error != "" && o.Verdict != "":
		return nil, errors.New("event: opinion: both a verdict and an error")
	}
	failure := o.Error
	switch failure {
	case "", "timeout", "busy", "unavailable", "bad_answer", "closed", "canceled", "error":
	default:
		failure = "error" // the schema's names only
	}
	return &event.Opinion{
		Verdict: o.Verdict, Kinds: slices.Clone(o.Kinds), Reason: sc(o.Reason), Model: o.Model, Mode: o.Mode,
		Error: failure, LatencyMS: max(o.Latency.Milliseconds(), 0), Applied: o.Applied,
	}, nil
}

// eventAction returns the event's action for the policy's action a: the
// one of the same name, the name being what the schema fixes. ok is false
// when a is not one of the five actions.
func eventAction(a rules.Action) (action event.Action, ok bool) {
	if !a.Valid() {
		return 0, false
	}
	action, err := event.ParseAction(a.String())
	return action, err == nil
}

// eventSeverity returns the event's severity for the detectors' severity
// s: the one of the same name. The error says s is out of range, in the
// words of detectors.Severity.MarshalText.
func eventSeverity(s detectors.Severity) (event.Severity, error) {
	sev, err := event.ParseSeverity(s.String())
	if err != nil {
		return 0, fmt.Errorf("invalid severity %d", uint8(s))
	}
	return sev, nil
}

// findings converts fs to the event's findings with evidence re-checked
// (contact handles masked by inspect.MaskContact, then scrub.Text) and
// scores clamped to [0, 1].
func findings(fs []detectors.Finding) ([]event.Finding, error) {
	out := make([]event.Finding, len(fs))
	for i, f := range fs {
		if math.IsNaN(f.Score) {
			return nil, fmt.Errorf("event: findings[%d] %s: score is NaN", i, f.Name())
		}
		if f.Start < 0 || f.End < f.Start {
			return nil, fmt.Errorf("event: findings[%d] %s: span [%d, %d)", i, f.Name(), f.Start, f.End)
		}
		sev, err := eventSeverity(f.Severity)
		if err != nil {
			return nil, fmt.Errorf("event: findings[%d] %s: %w", i, f.Name(), err)
		}
		evidence := f.Evidence
		if inspect.IsContact(f) {
			// The handle masked as the inspector masks it in the text,
			// so evidence and text_masked show the same stars.
			evidence = inspect.MaskContact(evidence)
		}
		out[i] = event.Finding{
			Detector: f.Detector,
			Kind:     f.Kind,
			Severity: sev,
			Score:    min(max(f.Score, 0), 1),
			Start:    f.Start,
			End:      f.End,
			Evidence: scrub.Text(evidence),
			Rule:     f.Rule,
			Lexicon:  f.Lexicon,
		}
	}
	return out, nil
}

// reasons converts rs to the event's reasons with messages and
// suggestions scrubbed by sc; nil becomes empty. field names rs in errors.
func reasons(rs []rules.Reason, field string, sc func(string) string) ([]event.Reason, error) {
	out := make([]event.Reason, len(rs))
	for i, r := range rs {
		action, ok := eventAction(r.Action)
		if !ok {
			return nil, fmt.Errorf("event: %s[%d] %s: invalid action %d", field, i, r.Rule, int(r.Action))
		}
		if r.Finding != nil && *r.Finding < 0 {
			return nil, fmt.Errorf("event: %s[%d] %s: finding %d", field, i, r.Rule, *r.Finding)
		}
		out[i] = event.Reason{Rule: r.Rule, Action: action, Message: sc(r.Message), Finding: r.Finding, Suggestion: sc(r.Suggestion)}
	}
	return out, nil
}

// alerts converts as to the event's alerts with messages scrubbed by sc;
// nil becomes empty.
func alerts(as []rules.Alert, sc func(string) string) []event.Alert {
	out := make([]event.Alert, len(as))
	for i, a := range as {
		out[i] = event.Alert{Level: a.Level, Kind: a.Kind, Message: sc(a.Message)}
	}
	return out
}

// turns copies the context turns with their texts scrubbed again by sc;
// nil stays nil.
func turns(ts []inspect.Turn, sc func(string) string) []event.Turn {
	if ts == nil {
		return nil
	}
	out := make([]event.Turn, len(ts))
	for i, t := range ts {
		out[i] = event.Turn{Role: t.Role, TS: t.TS.Truncate(time.Millisecond), TextMasked: sc(t.Text), Action: t.Action, Delivered: t.Delivered}
	}
	return out
}

// forAlert returns e, built by NewEvent from v, as the alerts topic
// carries it: a shallow copy with only the given alerts (those admitted by
// deduplication; nil means none) and the conversation's recent turns as
// context, their texts scrubbed as NewEvent scrubs them, contact handles
// of v included. e is not modified.
func forAlert(e *event.Event, v *inspect.Verdict, admitted []rules.Alert, recent []inspect.Turn) *event.Event {
	c := *e
	hs := handleReplacer(v.Findings)
	sc := func(s string) string { return scrubWith(hs, s) }
	c.Alerts = alerts(admitted, sc)
	c.Context = turns(recent, sc)
	if c.Context == nil {
		c.Context = []event.Turn{}
	}
	return &c
}

// handleReplacer returns a replacer that stars, wherever a text quotes
// them, the parts of the contact handles in fs (diversion.contact findings
// with evidence in clear) that inspect.MaskContact stars in the evidence:
// a policy message or alert that quotes the draft must not show the
// handle the evidence hides. It returns nil when there are none.
func handleReplacer(fs []detectors.Finding) *strings.Replacer {
	var pairs []string
	for _, f := range fs {
		if !inspect.IsContact(f) {
			continue
		}
		raw := []rune(f.Evidence)
		masked := []rune(inspect.MaskContact(f.Evidence))
		if len(masked) != len(raw) {
			continue // MaskContact keeps code points in place; never here
		}
		for i := 0; i < len(raw); {
			if raw[i] == masked[i] {
				i++
				continue
			}
			j := i
			for j < len(raw) && raw[j] != masked[j] {
				j++
			}
			// Short segments (a masked digit or two) would star ordinary
			// words; scrub.Text covers long digit runs anyway.
			if j-i >= 3 {
				pairs = append(pairs, string(raw[i:j]), strings.Repeat("*", j-i))
			}
			i = j
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	// Longest first, so a handle is not cut by a shorter one it contains.
	type pair struct{ old, new string }
	ps := make([]pair, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		ps = append(ps, pair{pairs[i], pairs[i+1]})
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return len(b.old) - len(a.old) })
	pairs = pairs[:0]
	for _, p := range ps {
		pairs = append(pairs, p.old, p.new)
	}
	return strings.NewReplacer(pairs...)
}

// scrubWith masks the handles hs knows (nil: none), then applies scrub.Text.
func scrubWith(hs *strings.Replacer, s string) string {
	if hs != nil {
		s = hs.Replace(s)
	}
	return scrub.Text(s)
}
