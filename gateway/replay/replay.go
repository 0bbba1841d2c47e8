// Package replay runs recorded messages through two versions of a policy
// (a baseline and a new one) and reports what changes, so a compliance team
// sees the effect of a policy change before it is deployed and CI can gate
// it (`xunjian replay`, issue 6).
//
// The input is JSON lines of either format, detected line by line:
//
//   - the input of `xunjian check --jsonl` (jsonl.Line: id, text, role,
//     conversation_id, agent_id, optional ts), whose tenant is
//     Options.Tenant;
//   - xunjian.event/v1 events as `xunjian tail --json` writes them (any line
//     with an event_id). Their raw text exists only sealed in text_enc, so
//     they replay only with Options.Decryptor holding the key; tenant,
//     conversation, agent, role and time come from the event. Repeats of an
//     event_id (the same event tailed from two topics) are skipped.
//
// A line that cannot be replayed is counted as skipped under a reason code
// (the Skip* constants) and the run goes on. Each policy version keeps its
// own conversation context per tenant and conversation id, as the gateway
// does, so conversation-level findings and alerts (complaint risk, the
// customer's wait) replay as they happened.
//
// Nothing in a Report holds raw private data: texts are masked with the
// union of both versions' privacy findings and, like every evidence and
// policy message in it, scrubbed as events are (scrub.Text). Ids (line
// ids, event ids, conversation and agent ids) are shown as given, as events
// carry them. Errors name lines and reason codes, never message text.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/jsonl"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/scrub"
	"github.com/xunjian/xunjian/rules"
)

// DefaultShow is how many changed messages a Report lists in full when
// Options.Show is zero.
const DefaultShow = 10

// DefaultTenant is the tenant of check-format lines when Options.Tenant is
// empty, as it is for `xunjian check`.
const DefaultTenant = "default"

// maxSkipLines is how many line numbers a Report keeps per skip reason.
const maxSkipLines = 5

// Reasons a line is skipped, as they appear in Report.SkipReasons.
const (
	// SkipTooLarge is a line longer than jsonl.MaxLineBytes.
	SkipTooLarge = "too_large"
	// SkipInvalidUTF8 is a line that is not valid UTF-8.
	SkipInvalidUTF8 = "invalid_utf8"
	// SkipInvalidJSON is a line that is not a JSON object of either format.
	SkipInvalidJSON = "invalid_json"
	// SkipInvalidEvent is a line with an event_id that is not a valid
	// xunjian.event/v1 event.
	SkipInvalidEvent = "invalid_event"
	// SkipDuplicate is an event whose event_id was already replayed.
	SkipDuplicate = "duplicate_event"
	// SkipMissingText is a check-format line without a text.
	SkipMissingText = "missing_text"
	// SkipNoTextEnc is an event without text_enc: the gateway that emitted
	// it had no text key, so its raw text was never kept.
	SkipNoTextEnc = "no_text_enc"
	// SkipNoKey is an event with text_enc while no key was given.
	SkipNoKey = "no_key"
	// SkipKeyMismatch is an event sealed under another key id.
	SkipKeyMismatch = "key_id_mismatch"
	// SkipDecrypt is a text_enc that does not open with the key: a wrong
	// key, another algorithm, or a tampered event.
	SkipDecrypt = "decrypt_failed"
	// SkipInvalidMessage is a message the pipeline refuses: empty or
	// over-long text, an unknown role.
	SkipInvalidMessage = "invalid_message"
)

// SkipHelp explains a skip reason in a few words, for the text report;
// empty for an unknown reason.
func SkipHelp(reason string) string {
	switch reason {
	case SkipTooLarge:
		return "line too long"
	case SkipInvalidUTF8:
		return "line is not valid UTF-8"
	case SkipInvalidJSON:
		return "not a JSON object of either input format"
	case SkipInvalidEvent:
		return "has event_id but is not a valid xunjian.event/v1 event"
	case SkipDuplicate:
		return "event_id already replayed"
	case SkipMissingText:
		return "check-format line without text"
	case SkipNoTextEnc:
		return "event without text_enc: the gateway kept no raw text"
	case SkipNoKey:
		return "event has text_enc but no key was given"
	case SkipKeyMismatch:
		return "text_enc sealed under another key id"
	case SkipDecrypt:
		return "text_enc does not open with the key"
	case SkipInvalidMessage:
		return "the pipeline refuses the message: empty, too long, unknown role"
	}
	return ""
}

// Options configure Run. The zero value replays check-format lines as
// tenant "default", skips encrypted events and lists DefaultShow changes.
type Options struct {
	// Tenant is the tenant of check-format lines, which carry none; events
	// carry their own. Empty means DefaultTenant.
	Tenant string
	// Decryptor opens the text_enc of events (its key id must match the
	// event's). Nil means events are skipped with SkipNoKey.
	Decryptor *event.Encryptor
	// Show is how many changed messages the report lists in full, the
	// first ones in input order. Zero means DefaultShow; negative, none.
	Show int
	// FailOn selects the action transitions that fail the replay (see
	// ParseFailOn); Report.Gate says whether one occurred. The zero value
	// gates nothing.
	FailOn FailOn
	// Now gives the time of lines without a ts; it is called once per
	// line and both versions see that same time. Nil means time.Now.
	Now func() time.Time
	// Opinion, when set, is asked for a second opinion on the new
	// version's verdicts, as a gateway would ask it (gateway/opinion):
	// Report.Opinions counts the answers and where they disagree with
	// the new policy, and a tenant it enforces for sees the opinion in
	// the new action. Nil asks no one.
	Opinion inspect.SecondOpinion
}

// Run reads JSON lines from r and replays every message through baseline
// and candidate (the new policy version), in input order, each version with
// its own conversation context; it returns what changed. Lines that cannot
// be replayed are counted in Report.SkipReasons. It returns an error only when
// r cannot be read, ctx is done, or a policy fails to decide (a
// *PolicyError); the report is then nil.
//
// baseline and candidate may be the same Inspector. Run does not close
// them.
func Run(ctx context.Context, r io.Reader, baseline, candidate *inspect.Inspector, opts Options) (*Report, error) {
	if baseline == nil || candidate == nil {
		return nil, errors.New("replay: nil inspector")
	}
	rp := newReplayer(baseline, candidate, opts)
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		line, tooLong, err := jsonl.ReadLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("replay: read line %d: %w", lineNo, err)
		}
		if len(bytes.TrimSpace(line)) > 0 || tooLong {
			if perr := rp.line(ctx, lineNo, line, tooLong); perr != nil {
				return nil, perr
			}
		}
		if errors.Is(err, io.EOF) {
			return rp.finish(), nil
		}
	}
}

// PolicyError is a policy that failed to decide on a line: an undefined or
// malformed decision, an evaluation error. Its message is scrubbed of
// private data (scrub.Text); Unwrap returns the original error, which may
// not be.
type PolicyError struct {
	// Line is the 1-based input line.
	Line int
	// Version is "baseline" or "new".
	Version string
	// Revision is the policy's revision.
	Revision string
	// Err is the error Inspect returned.
	Err error
}

// Error returns the error with its line and policy version, scrubbed.
func (e *PolicyError) Error() string {
	return fmt.Sprintf("replay: line %d: %s policy %s: %s", e.Line, e.Version, e.Revision, scrub.Text(e.Err.Error()))
}

// Unwrap returns Err.
func (e *PolicyError) Unwrap() error { return e.Err }

// message is one replayable message, whatever its input format.
type message struct {
	id     string // line id or event_id, as given
	tenant string
	conv   string
	agent  string
	role   string
	text   string // raw: never leaves this package
	ts     time.Time
}

// replayer holds the state of one Run. It is used by one goroutine.
type replayer struct {
	versions [2]*version // baseline, new
	opts     Options
	report   Report
	skipped  map[string]*Skip
	trans    map[[2]rules.Action]int
	gated    map[[2]rules.Action]int
	rules    map[string]*Count
	alerts   map[string]*Count
	seen     map[string]struct{} // event ids
}

// version is one policy version's inspector, and the session that keeps
// its conversation contexts.
type version struct {
	name string
	in   *inspect.Inspector
	sess *inspect.Session
}

func newReplayer(baseline, candidate *inspect.Inspector, opts Options) *replayer {
	if opts.Tenant == "" {
		opts.Tenant = DefaultTenant
	}
	if opts.Show == 0 {
		opts.Show = DefaultShow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rp := &replayer{
		opts:    opts,
		skipped: map[string]*Skip{},
		trans:   map[[2]rules.Action]int{},
		gated:   map[[2]rules.Action]int{},
		rules:   map[string]*Count{},
		alerts:  map[string]*Count{},
		seen:    map[string]struct{}{},
	}
	rp.versions[0] = &version{name: "baseline", in: baseline, sess: &inspect.Session{Store: &inspect.MemStore{}}}
	rp.versions[1] = &version{name: "new", in: candidate, sess: &inspect.Session{Store: &inspect.MemStore{}, Opinion: opts.Opinion}}
	if opts.Opinion != nil {
		rp.report.Opinions = &Opinions{Results: map[string]int{}}
	}
	rp.report.Baseline = Version{Revision: baseline.Policy().Revision()}
	rp.report.New = Version{Revision: candidate.Policy().Revision()}
	return rp
}

// line replays one non-blank input line; only a policy failure is an error.
func (rp *replayer) line(ctx context.Context, lineNo int, line []byte, tooLong bool) error {
	rp.report.Messages++
	m, reason := rp.decode(line, tooLong)
	if reason != "" {
		rp.skip(reason, lineNo)
		return nil
	}
	var verdicts [2]inspect.Verdict
	for i, v := range rp.versions {
		verdict, err := v.sess.Inspect(ctx, v.in, inspect.Message{
			Request: inspect.Request{Text: m.text, Role: m.role, ConversationID: m.conv, AgentID: m.agent, TenantID: m.tenant},
			TS:      m.ts,
		})
		var failed *inspect.FailedError
		switch {
		case errors.Is(err, inspect.ErrInvalid):
			// Both versions validate alike: the baseline refused it, and
			// neither context changes.
			rp.skip(SkipInvalidMessage, lineNo)
			return nil
		case errors.As(err, &failed):
			return &PolicyError{Line: lineNo, Version: v.name, Revision: v.in.Policy().Revision(), Err: failed.Err}
		case err != nil:
			return &PolicyError{Line: lineNo, Version: v.name, Revision: v.in.Policy().Revision(), Err: err}
		}
		verdicts[i] = verdict
	}
	rp.record(lineNo, m, &verdicts[0], &verdicts[1])
	return nil
}

// decode turns a line into a message, or names why it cannot be replayed.
func (rp *replayer) decode(line []byte, tooLong bool) (message, string) {
	switch {
	case tooLong:
		return message{}, SkipTooLarge
	case !utf8.Valid(line):
		return message{}, SkipInvalidUTF8
	}
	var probe struct {
		EventID *json.RawMessage `json:"event_id"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return message{}, SkipInvalidJSON
	}
	if probe.EventID != nil {
		return rp.decodeEvent(line)
	}
	var l jsonl.Line
	if err := json.Unmarshal(line, &l); err != nil {
		return message{}, SkipInvalidJSON
	}
	if l.Text == nil {
		return message{}, SkipMissingText
	}
	ts := l.TS
	if ts.IsZero() {
		ts = rp.opts.Now()
	}
	return message{
		id: lineID(l.ID), tenant: rp.opts.Tenant, conv: l.ConversationID, agent: l.AgentID,
		role: l.Role, text: *l.Text, ts: ts,
	}, ""
}

func (rp *replayer) decodeEvent(line []byte) (message, string) {
	e, err := event.Parse(line)
	if err != nil || e.EventID == "" {
		return message{}, SkipInvalidEvent
	}
	if _, dup := rp.seen[e.EventID]; dup {
		return message{}, SkipDuplicate
	}
	switch {
	case e.TextEnc == nil:
		return message{}, SkipNoTextEnc
	case rp.opts.Decryptor == nil:
		return message{}, SkipNoKey
	case e.TextEnc.KeyID != rp.opts.Decryptor.KeyID():
		return message{}, SkipKeyMismatch
	}
	text, err := e.DecryptText(rp.opts.Decryptor)
	if err != nil {
		return message{}, SkipDecrypt
	}
	rp.seen[e.EventID] = struct{}{}
	ts := e.TS
	if ts.IsZero() {
		ts = rp.opts.Now()
	}
	return message{
		id: e.EventID, tenant: e.Tenant, conv: e.ConversationID, agent: e.AgentID,
		role: e.Role, text: text, ts: ts,
	}, ""
}

func (rp *replayer) skip(reason string, lineNo int) {
	s := rp.skipped[reason]
	if s == nil {
		s = &Skip{Reason: reason}
		rp.skipped[reason] = s
	}
	s.Count++
	if len(s.Lines) < maxSkipLines {
		s.Lines = append(s.Lines, lineNo)
	}
}

// record adds one replayed message to the report.
func (rp *replayer) record(lineNo int, m message, old, cur *inspect.Verdict) {
	rp.report.Replayed++
	rp.report.Opinions.count(cur)
	pair := [2]rules.Action{old.Action, cur.Action}
	rp.trans[pair]++
	if old.Action != cur.Action {
		rp.report.ActionChanged++
		if rp.opts.FailOn.Match(old.Action, cur.Action) {
			rp.gated[pair]++
		}
	}
	for i, v := range [2]*inspect.Verdict{old, cur} {
		for _, r := range v.Reasons {
			countOf(rp.rules, r.Rule).add(i)
		}
		for _, a := range v.Alerts {
			countOf(rp.alerts, alertName(a)).add(i)
		}
	}
	if !changed(old, cur) {
		return
	}
	rp.report.Changed++
	if len(rp.report.Changes) >= rp.opts.Show {
		return
	}
	rp.report.Changes = append(rp.report.Changes, Change{
		Line:           lineNo,
		ID:             m.id,
		Tenant:         m.tenant,
		ConversationID: m.conv,
		AgentID:        m.agent,
		Role:           roleOf(m.role),
		TextMasked:     maskText(m.text, old.Findings, cur.Findings),
		Baseline:       outcome(old),
		New:            outcome(cur),
	})
}

// changed reports whether two verdicts differ in what a reviewer cares
// about: the action, the rules that fired, or the alerts raised.
func changed(a, b *inspect.Verdict) bool {
	if a.Action != b.Action {
		return true
	}
	ruleNames := func(v *inspect.Verdict) []string {
		out := make([]string, len(v.Reasons))
		for i, r := range v.Reasons {
			out[i] = r.Rule
		}
		slices.Sort(out)
		return out
	}
	alertNames := func(v *inspect.Verdict) []string {
		out := make([]string, len(v.Alerts))
		for i, a := range v.Alerts {
			out[i] = alertName(a)
		}
		slices.Sort(out)
		return out
	}
	return !slices.Equal(ruleNames(a), ruleNames(b)) || !slices.Equal(alertNames(a), alertNames(b))
}

// alertName is how alerts are counted: kind and level, e.g. "complaint/high".
func alertName(a rules.Alert) string { return a.Kind + "/" + a.Level }

func roleOf(role string) string {
	if role == "" {
		return inspect.RoleAgent
	}
	return role
}

// lineID renders a check-format id (any JSON value) as text: a string
// without its quotes, anything else as written. Empty when absent.
func lineID(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func countOf(m map[string]*Count, name string) *Count {
	c := m[name]
	if c == nil {
		c = &Count{Name: name}
		m[name] = c
	}
	return c
}
