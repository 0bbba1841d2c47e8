// Package inspect is Xunjian's inspection pipeline: normalize a draft, run
// the detectors, evaluate the policy, and turn the decision into a verdict
// (action, findings, reasons, masked text, suggestion).
//
// An Inspector is built once per policy version and is immutable: the same
// Inspector serves every request concurrently, and a policy reload builds a
// new one. Inspect is pure: a conversation in, a verdict and the next
// conversation out; the pipeline keeps no state.
//
// A Session carries one message through its life around the Inspector:
// it takes the conversation from a Store and locks it, inspects under the
// deadline, records the outcome through a Recorder (the event stream),
// keeps the new conversation, and applies the tenant's fail mode when the
// policy could not decide. The HTTP handler, `xunjian check --jsonl`,
// replay and the benchmark's sidecar all go through a Session.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/rules"
)

// Roles a message may have. Customer messages are observed, never held.
const (
	RoleAgent    = "agent"
	RoleCustomer = "customer"
)

// DefaultMaxTextBytes is the longest text Inspect accepts when
// Options.MaxTextBytes is zero: 16 KiB, far above any chat message.
const DefaultMaxTextBytes = 16 << 10

// ErrInvalid marks a request the pipeline refuses: empty, too long or
// invalid text, or an unknown role. Its message names the field.
var ErrInvalid = errors.New("invalid request")

// Options configure an Inspector. The zero value is valid.
type Options struct {
	// MaxTextBytes bounds the draft text; zero means DefaultMaxTextBytes.
	MaxTextBytes int
	// CacheBytes bounds the cache of detector findings by text; zero means
	// no cache.
	CacheBytes int64
	// Decide, when set, takes the place of the policy's own evaluation: it
	// gets the input the pipeline built and returns the decision. It is for
	// comparisons (the bench's OPA sidecar sends the same input to a
	// separate OPA server); the gateway leaves it nil.
	Decide func(ctx context.Context, input *rules.Input) (rules.Decision, error)
}

// Inspector runs the pipeline for one policy version. It is immutable and
// safe for concurrent use.
type Inspector struct {
	norm     *normalize.Normalizer
	agent    []detectors.Detector // run on agent drafts
	customer []detectors.Detector // run on customer messages
	// byTenant holds the detector sets of tenants with their own link
	// allowlist: [0] for agent drafts, [1] for customer messages.
	byTenant map[string][2][]detectors.Detector
	// scan matches the lexicons of the agent's and the customer's
	// detectors in one pass ([0] and [1]); tenantScan those of byTenant's.
	scan       [2]*lexicon.Scanner
	tenantScan map[string][2]*lexicon.Scanner
	privacy    *privacy.Detector
	complaint  *complaint.Detector
	policy     *rules.Policy
	maxText    int
	version    string
	cache      *findingsCache // nil: no cache
	decide     func(context.Context, *rules.Input) (rules.Decision, error)
	// scratch recycles normalization buffers between requests; nothing in
	// a Verdict refers to them.
	scratch sync.Pool // *scratch
}

type scratch struct {
	text normalize.Text
	buf  normalize.Buffer
}

// New builds the detectors and returns an Inspector for policy. The
// detector families, and which of them run on agent drafts and on customer
// messages, come from detectors/registry; each family's lexicon is the one
// in the policy bundle's data under xunjian.lexicons.<family> where present,
// else the embedded one, plus the entries, allow phrases and set terms under
// xunjian.lexicon_additions.<family>. A tenant may add to the lexicons of
// the tenant-extensible families (tone, diversion, commitment and link)
// under xunjian.tenants.<id>.lexicons.<family> and allow link hosts under
// xunjian.tenants.<id>.link_allow; such a tenant gets detectors of its own,
// and no other tenant sees its additions. The other families' detectors
// (privacy, complaint) are shared by all tenants.
func New(policy *rules.Policy, opts Options) (*Inspector, error) {
	in := &Inspector{norm: normalize.Default(), policy: policy, maxText: opts.MaxTextBytes, decide: opts.Decide}
	if in.decide == nil {
		in.decide = policy.Decide
	}
	if in.maxText <= 0 {
		in.maxText = DefaultMaxTextBytes
	}
	if err := in.buildDetectors(policy, policy.Data()); err != nil {
		return nil, err
	}
	if opts.CacheBytes > 0 {
		c, err := newFindingsCache(opts.CacheBytes)
		if err != nil {
			return nil, err
		}
		in.cache = c
	}
	return in, nil
}

// Policy returns the policy this Inspector evaluates.
func (in *Inspector) Policy() *rules.Policy { return in.policy }

// LexiconVersion identifies the lexicons of every detector; it changes
// whenever any term changes, so it belongs in every cache key.
func (in *Inspector) LexiconVersion() string { return in.version }

// Request is one message to inspect.
type Request struct {
	Text           string
	Role           string // agent (default) or customer
	ConversationID string
	AgentID        string
	TenantID       string
	// Acked marks an agent draft re-sent with an ack token, which the
	// caller redeems: a confirm verdict then releases the draft, and its
	// turn is recorded as delivered. A caller whose redemption fails marks
	// the turn back (Session.Undelivered).
	Acked bool
}

// Turn is one turn of a conversation: what Conversation.Recent remembers
// (masked) for supervisors' alerts, and, with only Role, Text and TS set,
// a turn of the recent context a client sends inline (Message.Context).
// Its JSON form is how a store that serializes conversations keeps it.
type Turn struct {
	Role string    `json:"role"`
	Text string    `json:"text"`
	TS   time.Time `json:"ts,omitzero"`
	// Action is what the gateway decided for an agent draft: allow, warn,
	// redact, confirm or block. It is empty for a customer message, which
	// is observed and never gated.
	Action string `json:"action,omitempty"`
	// Delivered reports whether the turn reached the other side of the
	// conversation. An agent draft is delivered when the gateway released
	// it (allow, warn, redact, a confirm re-sent with its ack), not when it
	// was blocked or held for an ack; the caller marks a released draft
	// undelivered when the backend did not take it (SetDelivered). A
	// customer message is always delivered: it is observed, never held.
	Delivered bool `json:"delivered"`
	// decision is the DecisionID of the verdict that recorded the turn,
	// for SetDelivered, as its 16 bytes rather than its text: a gateway
	// keeps several turns of every open conversation, and a string each
	// would be one more object for every garbage collection to mark.
	decision uuid.UUID
}

// released reports whether the gateway hands a draft with action a (acked:
// re-sent with its ack token) to the customer.
func released(a rules.Action, acked bool) bool {
	switch a {
	case rules.Allow, rules.Warn, rules.Redact:
		return true
	case rules.Confirm:
		return acked
	}
	return false
}

// Conversation is what the pipeline remembers of one conversation. It is a
// value: Inspect reads one and returns the next, and no method writes to
// an array another copy may share, so copies may be handed around freely
// (a Store keeps one between messages).
type Conversation struct {
	ID                  string
	Turns               int
	CustomerEscalations int
	Risk                float64
	// LastCustomer is when the customer last wrote and LastAgent when an
	// agent last answered; the customer waits from the first to now while
	// the agent has not answered since.
	LastCustomer, LastAgent time.Time
	// Signals are the recent customer messages' complaint signals, oldest
	// first, at most maxSignals.
	Signals []complaint.Signals
	// Recent are the last few turns, oldest first, at most MaxRecent, with
	// private data masked: context for supervisors' alerts.
	Recent []Turn
}

// MaxRecent is how many turns a Conversation keeps in Recent.
const MaxRecent = 5

// maxSignals is how many customer messages the risk score looks back on.
const maxSignals = 20

// Clone returns a copy of c that shares no memory with it, so one can be
// changed while the other is read.
func (c *Conversation) Clone() Conversation {
	out := *c
	out.Signals = slices.Clone(c.Signals)
	out.Recent = slices.Clone(c.Recent)
	return out
}

// SetDelivered records whether the turn that the verdict decisionID
// recorded reached the other side: the gateway calls it with false when a
// draft it released could not be handed to the chat backend (upstream
// unreachable) or its ack was refused, so the alerts that follow do not
// show the customer a turn they never saw. It reports whether that turn is
// still among Recent; a turn already dropped from it is left alone. Recent
// is copied before the change, so other copies of c keep theirs.
func (c *Conversation) SetDelivered(decisionID string, delivered bool) bool {
	id, err := uuid.Parse(decisionID)
	if err != nil || id == uuid.Nil {
		return false
	}
	for i := len(c.Recent) - 1; i >= 0; i-- {
		if c.Recent[i].decision == id {
			c.Recent = slices.Clone(c.Recent)
			c.Recent[i].Delivered = delivered
			return true
		}
	}
	return false
}

// WaitSeconds is how long the customer has been waiting for an answer at now.
func (c *Conversation) WaitSeconds(now time.Time) float64 {
	if c == nil || c.LastCustomer.IsZero() || !c.LastAgent.Before(c.LastCustomer) {
		return 0
	}
	return now.Sub(c.LastCustomer).Seconds()
}

// Verdict is the outcome of one inspection: the pipeline's result, which
// the gateway turns into its reply (package gateway/api) and the event
// stream into an event. Its slices may be shared with the decision cache
// and must not be changed.
type Verdict struct {
	// DecisionID identifies the decision (a UUIDv7): the reply, the
	// decision header and the event name the same one.
	DecisionID string
	Action     rules.Action
	// Findings are what the detectors found (never nil).
	Findings []detectors.Finding
	// Reasons are the policy's reasons for the action (never nil).
	Reasons []rules.Reason
	// Alerts are the policy's supervisor alerts, each once.
	Alerts []rules.Alert
	// Redacted is the text with private data masked, when the action is
	// redact or a stronger action also asked for redaction.
	Redacted string
	// Suggestion is the first reason's suggested rewrite, if any.
	Suggestion string
	// FailOpen is set when inspection failed and the tenant's fail-open
	// mode released the message uninspected (Session).
	FailOpen       bool
	PolicyRevision string
	// LatencyUS is how long the pipeline took, in microseconds.
	LatencyUS int64
	// Sample is the policy's request to sample the conversation.
	Sample bool
	// Shadow holds the would-be results of shadow rules, for the event
	// stream; they never change the action.
	Shadow []rules.Reason
	// Normalized is the normalized text and Lang the guessed language
	// ("zh" or "en"), as the policy saw them.
	Normalized string
	Lang       string
	// Opinion is the second opinion on the message, when the Session has
	// a SecondOpinion and the message qualified; nil otherwise.
	Opinion *Opinion
}

// Inspect runs the pipeline on req in the context of conv, what is
// remembered of req's conversation (the zero Conversation for a message
// without one), and returns the verdict and the conversation with this
// message recorded. now is the message time.
//
// Inspect is pure: conv is read, never changed (the returned conversation
// shares no memory it writes with conv), so a caller that drops the
// message on an error, or on any verdict, keeps conv as it was. A request
// the pipeline refuses returns an error wrapping ErrInvalid; a policy
// failure returns the policy's error.
func (in *Inspector) Inspect(ctx context.Context, req Request, conv Conversation, now time.Time) (Verdict, Conversation, error) {
	start := time.Now()
	if err := in.validate(&req); err != nil {
		return Verdict{}, conv, err
	}
	d := in.detected(req)
	findings := d.findings
	next := conv
	if next.ID == "" {
		next.ID = req.ConversationID
	}
	next.Turns++
	if req.Role == RoleCustomer {
		next.CustomerEscalations += d.signals.Escalations
		// Clipped: the append copies, so conv's array is never written.
		next.Signals = append(slices.Clip(conv.Signals), d.signals)
		if len(next.Signals) > maxSignals {
			next.Signals = slices.Delete(next.Signals, 0, len(next.Signals)-maxSignals)
		}
		if next.LastCustomer.IsZero() || !next.LastAgent.Before(next.LastCustomer) {
			next.LastCustomer = now
		}
	}
	wait := next.WaitSeconds(now)
	if req.Role == RoleCustomer {
		next.Risk = complaint.Risk(next.Signals, wait)
		if f, ok := complaint.RiskFinding(next.Risk, utf8.RuneCountInString(req.Text)); ok {
			findings = append(findings, f)
		}
	}
	lang := language(req.Text)
	// The policy gets the conversation's numbers at the precision of its
	// contract (docs/design.md): whole seconds of wait, two decimals of
	// risk, both rounded down. Thresholds at that precision decide as on
	// the exact numbers, and the decision cache, keyed on what the policy
	// is given, is not missed for every fraction of a second.
	input := &rules.Input{
		Draft:    rules.Draft{Text: req.Text, Normalized: d.norm, Role: req.Role, Lang: lang},
		Findings: toRules(findings),
		Conversation: rules.Conversation{
			ID: req.ConversationID, Turns: next.Turns, CustomerEscalations: next.CustomerEscalations,
			Risk: rules.RoundRisk(next.Risk), WaitSeconds: rules.RoundWait(wait),
		},
		Agent:  rules.Agent{ID: req.AgentID},
		Tenant: rules.Tenant{ID: req.TenantID},
	}
	dec, err := in.decide(ctx, input)
	if err != nil {
		return Verdict{}, conv, fmt.Errorf("policy %s: %w", in.policy.Revision(), err)
	}
	if req.Role == RoleAgent {
		next.LastAgent = now
	}
	masked := in.masked(req.Text, findings) // once: for the recent turns and a redact
	uid := uuid.Must(uuid.NewV7())
	id := uid.String()
	turn := Turn{Role: req.Role, Text: masked, TS: now, Delivered: true, decision: uid}
	if req.Role == RoleAgent {
		turn.Action, turn.Delivered = dec.Action.String(), released(dec.Action, req.Acked)
	}
	next.Recent = append(slices.Clip(conv.Recent), turn)
	if len(next.Recent) > MaxRecent {
		next.Recent = slices.Delete(next.Recent, 0, len(next.Recent)-MaxRecent)
	}
	v := Verdict{
		DecisionID:     id,
		Action:         dec.Action,
		Findings:       findings,
		Reasons:        dec.Reasons,
		Alerts:         mergeAlerts(dec.Alerts),
		PolicyRevision: in.policy.Revision(),
		Sample:         dec.Sample,
		Shadow:         dec.Shadow,
		Normalized:     d.norm,
		Lang:           lang,
	}
	if v.Findings == nil {
		v.Findings = []detectors.Finding{}
	}
	if v.Reasons == nil {
		v.Reasons = []rules.Reason{}
	}
	for _, r := range dec.Reasons {
		if r.Suggestion != "" {
			v.Suggestion = r.Suggestion
			break
		}
	}
	// A stronger action does not cancel a redaction a reason asked for: a
	// held draft the agent confirms is released masked, and the client
	// learns from Redacted what to send once confirmed.
	if v.Action == rules.Redact || v.Action > rules.Redact && slices.ContainsFunc(dec.Reasons, func(r rules.Reason) bool { return r.Action == rules.Redact }) {
		v.Redacted = masked
	}
	v.LatencyUS = time.Since(start).Microseconds()
	return v, next, nil
}

// alertLevel ranks alert levels; an unknown level ranks lowest.
func alertLevel(level string) int {
	switch level {
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	case "critical":
		return 4
	}
	return 0
}

// mergeAlerts returns as with each alert once: alerts of one kind and
// message (a policy raising one per finding, as for a message that both
// names 12315 and says 投诉) become the first of them at the highest level
// any had, in the order of first appearance. Alerts of one kind with
// different messages stay apart. as itself is returned when it has no
// repeat; it is never modified (a decision's slices may be shared by the
// decision cache).
func mergeAlerts(as []rules.Alert) []rules.Alert {
	repeat := false
	for i := 1; i < len(as) && !repeat; i++ {
		for j := range i {
			if as[j].Kind == as[i].Kind && as[j].Message == as[i].Message {
				repeat = true
				break
			}
		}
	}
	if !repeat {
		return as
	}
	out := make([]rules.Alert, 0, len(as)-1)
next:
	for _, a := range as {
		for k := range out {
			if out[k].Kind == a.Kind && out[k].Message == a.Message {
				if alertLevel(a.Level) > alertLevel(out[k].Level) {
					out[k].Level = a.Level
				}
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}

// detection is the context-free part of an inspection: what the detectors
// found in one text. It is immutable once built, so the cache can share it.
type detection struct {
	norm     string
	findings []detectors.Finding // clipped: appending copies
	signals  complaint.Signals   // customer messages only
}

// detected returns the detection of req's text, from the cache when it
// holds one for this tenant, lexicon version, role and text.
func (in *Inspector) detected(req Request) *detection {
	var key string
	if in.cache != nil {
		key = cacheKey(req.TenantID, in.version, req.Role, req.Text)
		if d, ok := in.cache.get(key); ok {
			return d
		}
	}
	sc, _ := in.scratch.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	defer in.scratch.Put(sc)
	t := &sc.text
	in.norm.NormalizeInto(t, &sc.buf, req.Text)
	d := &detection{norm: t.Norm}
	d.findings = slices.Clip(in.detect(t, req.TenantID, req.Role, nil))
	if req.Role == RoleCustomer {
		d.signals = in.complaint.Signals(t, d.findings)
	}
	if in.cache != nil {
		in.cache.set(key, d)
	}
	return d
}

// masked returns text with its private data masked: the privacy findings
// as the privacy detector redacts them, and the contact handles of the
// diversion.contact findings (wxid_abc123, QQ numbers, @handles) as
// MaskContact masks them, which is how an event's evidence shows them. It
// returns text itself when there is nothing to mask.
func (in *Inspector) masked(text string, findings []detectors.Finding) string {
	private := false
	for _, f := range findings {
		if f.Detector == "privacy" {
			private = true
			break
		}
	}
	// Contacts first: MaskContact keeps every code point's place, so the
	// privacy findings' spans still hold on the result.
	text = maskContacts(text, findings)
	if private {
		return in.redact(text, findings)
	}
	return text
}

// redact masks the privacy findings in text.
func (in *Inspector) redact(text string, findings []detectors.Finding) string {
	sc, _ := in.scratch.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	defer in.scratch.Put(sc)
	in.norm.NormalizeInto(&sc.text, &sc.buf, text)
	return in.privacy.Redact(&sc.text, findings)
}

// IsContact reports whether f is a diversion.contact finding, whose
// evidence holds a private contact handle to mask with MaskContact.
func IsContact(f detectors.Finding) bool { return f.Detector == "diversion" && f.Kind == "contact" }

// maskContacts applies MaskContact to the span of every diversion.contact
// finding in text (spans in code points, as findings give them); it returns
// text itself when none changes.
func maskContacts(text string, findings []detectors.Finding) string {
	var rs []rune
	for _, f := range findings {
		if !IsContact(f) || f.Start < 0 || f.End <= f.Start {
			continue
		}
		if rs == nil {
			rs = []rune(text)
		}
		if f.End > len(rs) {
			continue
		}
		seg := string(rs[f.Start:f.End])
		if m := MaskContact(seg); m != seg {
			copy(rs[f.Start:f.End], []rune(m))
		}
	}
	if rs == nil {
		return text
	}
	if out := string(rs); out != text {
		return out
	}
	return text
}

// MaskContact masks the contact handles in s, the text of a
// diversion.contact finding ("加我微信 wxid_abc123", "QQ 1234567890", "telegram
// @someone"): each token the diversion detector takes for a contact id (a
// number of five digits or more, an @handle, an e-mail address, a handle
// mixing letters with digits or underscores) is starred, one star per code
// point so that spans keep their offsets:
//
//   - a number keeps its last four digits at most, and never fewer than
//     four are starred (1234567890 → ******7890, 12345 → ****5);
//   - an @handle keeps the @ and its first character (@someone → @s******);
//   - an e-mail address keeps the first character of its user part and the
//     domain (zhangsan@qq.com → z*******@qq.com);
//   - any other handle keeps its first two characters (wxid_abc123 →
//     wx*********).
//
// The app names and invitations around them stay, so a reader still sees
// what the finding is. Digits count in any form (full-width, circled,
// Chinese numerals). MaskContact is idempotent: what it leaves is no longer
// shaped like an id. It is the one masker of contact handles: the inspector
// masks the text with it, and events mask the evidence with it.
func MaskContact(s string) string {
	src := []rune(s)
	var rs []rune // a copy of src, made on the first change
	for i := 0; i < len(src); {
		if !isContactRune(src[i]) {
			i++
			continue
		}
		j := i
		for j < len(src) && isContactRune(src[j]) {
			j++
		}
		k := j
		for k > i && isContactTrail(src[k-1]) {
			k--
		}
		// An @ right after stars is a masked e-mail address's domain,
		// not an @handle.
		masked := (src[i] == '@' || src[i] == '＠') && i > 0 && src[i-1] == '*'
		if keep := contactKeep(src[i:k]); keep != nil && !masked {
			if rs == nil {
				rs = slices.Clone(src)
			}
			for p := i; p < k; p++ {
				if !keep[p-i] {
					rs[p] = '*'
				}
			}
		}
		i = j
	}
	if rs == nil {
		return s
	}
	return string(rs)
}

// contactKeep returns, for a token shaped like a contact id, which of its
// code points stay in clear (see MaskContact); nil when the token is not
// an id.
func contactKeep(tok []rune) []bool {
	var letters, digits, under, at, atPos = 0, 0, 0, 0, -1
	for p, r := range tok {
		switch {
		case isContactLetter(r):
			letters++
		case isContactDigit(r):
			digits++
		case r == '_' || r == '＿':
			under++
		case r == '@' || r == '＠':
			at++
			atPos = p
		}
	}
	keep := make([]bool, len(tok))
	switch {
	case letters == 0 && under == 0 && at == 0:
		if digits < 5 {
			return nil
		}
		clear := min(4, digits-4)
		k := 0
		for p, r := range tok {
			if !isContactDigit(r) {
				keep[p] = true
				continue
			}
			keep[p] = k >= digits-clear
			k++
		}
	case at == 1 && atPos == 0:
		if len(tok) < 4 || letters+digits == 0 {
			return nil
		}
		keep[0], keep[1] = true, true
	case at == 1:
		if atPos == 0 || !slices.ContainsFunc(tok[atPos:], func(r rune) bool { return r == '.' || r == '．' }) {
			return nil
		}
		keep[0] = true
		for p := atPos; p < len(tok); p++ {
			keep[p] = true
		}
	case at > 1:
		return nil
	default:
		if len(tok) < 5 || !isContactLetter(tok[0]) || letters == 0 || digits+under == 0 {
			return nil
		}
		keep[0], keep[1] = true, true
	}
	return keep
}

// isContactRune reports whether r may be part of a contact id token, in
// the original text (full-width forms included).
func isContactRune(r rune) bool {
	return isContactLetter(r) || isContactDigit(r) || strings.ContainsRune("_@.-+＿＠．－＋", r)
}

// isContactTrail reports whether r is dropped from the end of a token
// (trailing dots, dashes and pluses are punctuation, not the id).
func isContactTrail(r rune) bool { return strings.ContainsRune(".-+．－＋", r) }

func isContactLetter(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 'ａ' && r <= 'ｚ' || r >= 'Ａ' && r <= 'Ｚ'
}

// isContactDigit reports whether r stands for a digit: any Unicode digit
// or number (ASCII, full-width, circled, superscript…) or a Chinese numeral
// as phone and QQ numbers are spelled out.
func isContactDigit(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.In(r, unicode.Nd, unicode.No, unicode.Nl) || strings.ContainsRune("〇零一二三四五六七八九幺两壹贰叁肆伍陆柒捌玖貳參陸", r)
}

// detect appends the findings of every detector that applies to the
// tenant and role.
func (in *Inspector) detect(t *normalize.Text, tenant, role string, dst []detectors.Finding) []detectors.Finding {
	side, dets := 0, in.agent
	if role == RoleCustomer {
		side, dets = 1, in.customer
	}
	scan := in.scan[side]
	if own, ok := in.byTenant[tenant]; ok {
		dets, scan = own[side], in.tenantScan[tenant][side]
	}
	scan.Scan(t)
	for _, d := range dets {
		dst = d.Detect(t, dst)
	}
	return dst
}

func (in *Inspector) validate(req *Request) error {
	switch req.Role {
	case "":
		req.Role = RoleAgent
	case RoleAgent, RoleCustomer:
	default:
		return fmt.Errorf("%w: role %q: want agent or customer", ErrInvalid, req.Role)
	}
	switch {
	case strings.TrimSpace(req.Text) == "":
		return fmt.Errorf("%w: text: empty", ErrInvalid)
	case len(req.Text) > in.maxText:
		return fmt.Errorf("%w: text: %d bytes, over the limit of %d", ErrInvalid, len(req.Text), in.maxText)
	case !utf8.ValidString(req.Text):
		return fmt.Errorf("%w: text: invalid UTF-8", ErrInvalid)
	}
	return nil
}

func toRules(fs []detectors.Finding) []rules.Finding {
	out := make([]rules.Finding, len(fs))
	for i, f := range fs {
		out[i] = rules.Finding{
			Detector: f.Detector, Kind: f.Kind, Severity: f.Severity.String(), Score: f.Score,
			Start: f.Start, End: f.End, Evidence: f.Evidence, Rule: f.Rule, Lexicon: f.Lexicon,
		}
	}
	return out
}

// language guesses the draft's language for the policy's messages: "zh"
// when it has any Han character, else "en".
func language(s string) string {
	for _, r := range s {
		if normalize.IsHan(r) {
			return "zh"
		}
	}
	return "en"
}
