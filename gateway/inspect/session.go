package inspect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/rules"
)

// Store keeps what the pipeline remembers of each conversation between its
// messages. The gateway's in-process store implements it, and so does a
// store shared by several gateways; MemStore is a plain one for tools.
//
// Lock waits, at most until ctx is done, until no one else holds the
// conversation id of tenant, takes it, and returns what is remembered of
// it (Conversation{ID: id} when nothing is) and unlock. The caller must
// call unlock exactly once: with the conversation to remember, or with nil
// to leave it as it was. Implementations must be safe for concurrent use.
type Store interface {
	Lock(ctx context.Context, tenant, id string) (conv Conversation, unlock func(keep *Conversation), err error)
}

// Recorder writes the record of every inspected message, for supervisors
// and auditors (the gateway's event stream). Record is called while the
// message's conversation is locked, so a conversation's records keep the
// order of its messages; it must not keep r or anything r points to after
// it returns. Commit makes what was recorded durable; it is called once
// per message, after the conversation is unlocked. An error from either
// means the message could not be recorded, and the Session holds it.
type Recorder interface {
	Record(ctx context.Context, r *Record) error
	Commit(ctx context.Context) error
}

// Record is what a Session hands its Recorder for one message.
type Record struct {
	// Message is the message as the Session took it.
	Message *Message
	// Verdict is its outcome.
	Verdict *Verdict
	// Conversation is the conversation after the message: its Risk, and
	// its Recent turns ending with this message (masked).
	Conversation *Conversation
	// Now is the message time.
	Now time.Time
}

// Message is one message a Session carries: the pipeline's Request and
// what the Session needs beyond it.
type Message struct {
	Request
	// AgentClaimed marks Request.AgentID as named by the client rather
	// than established by its credential (recorded, never trusted).
	AgentClaimed bool
	// Route is the proxy route the message came by, if any (recorded).
	Route string
	// Context is the recent history a client sends inline (Role, Text and
	// TS of each turn): replayed through the pipeline, so the policy sees
	// the conversation's risk and wait, when the Store remembers nothing of
	// the conversation or the message names none. A turn the pipeline
	// refuses (empty, too long) is skipped.
	Context []Turn
	// TS is the message time; zero means the Session's clock.
	TS time.Time
}

// FailMode is what a Session does with a draft the policy could not decide.
type FailMode int

const (
	// FailClosed holds the draft (the default).
	FailClosed FailMode = iota
	// FailOpen releases the draft when the detectors ran and found nothing
	// but private data, which is masked; any other draft is held.
	FailOpen
)

// String returns the mode's configuration name, fail_closed or fail_open.
func (m FailMode) String() string {
	if m == FailOpen {
		return "fail_open"
	}
	return "fail_closed"
}

// ErrNotRecorded marks a message held because it could not be recorded
// (the event spool is full and the gateway is configured to hold).
var ErrNotRecorded = errors.New("message not recorded")

// FailedError reports a message the policy could not decide (Err: its
// deadline, a policy error, a lock not taken in time) and that the
// tenant's fail mode did not release.
type FailedError struct {
	// Mode is the tenant's fail mode.
	Mode FailMode
	// Screened is set when the tenant fails open but the detectors found
	// more than private data, or could not run, so the draft was held.
	Screened bool
	// Unrecorded is set when the tenant fails open and the release could
	// not be recorded, so the draft was held; errors.Is(err,
	// ErrNotRecorded) then holds too.
	Unrecorded bool
	// Err is why the policy could not decide.
	Err error
}

func (e *FailedError) Error() string {
	what := "held (" + e.Mode.String() + ")"
	switch {
	case e.Unrecorded:
		what = "held: the fail-open release could not be recorded"
	case e.Screened:
		what = "held although fail open: the detectors found more than private data"
	}
	return fmt.Sprintf("inspection failed, %s: %v", what, e.Err)
}

// Unwrap returns Err, and ErrNotRecorded when the release could not be
// recorded.
func (e *FailedError) Unwrap() []error {
	if e.Unrecorded {
		return []error{e.Err, ErrNotRecorded}
	}
	return []error{e.Err}
}

// Session carries messages through their life around an Inspector: lock
// the conversation (Store), replay the inline context if the conversation
// is new, inspect under the deadline, record the outcome (Recorder) while
// the conversation is locked, keep the next conversation, unlock, commit
// the record, and apply the tenant's fail mode when the policy could not
// decide. A message that is refused, fails or cannot be recorded leaves
// its conversation as it was.
//
// The zero Session is valid: no memory between messages, nothing
// recorded, no deadline, fail closed. A Session is safe for concurrent
// use when its Store, Recorder and hooks are; its fields must not change
// once it is in use.
type Session struct {
	// Store remembers conversations between messages; nil means each
	// message is inspected alone (with its inline context only).
	Store Store
	// Recorder records every inspected message; nil records nothing.
	Recorder Recorder
	// Timeout bounds the inspection of one message, the conversation lock
	// and the inline context's replay included; zero means no deadline.
	// A verdict the pipeline reached stands even if recording it runs a
	// little past the deadline: the fail mode is for drafts the policy
	// could not decide, never a way to release a decided draft.
	Timeout time.Duration
	// FailMode returns a tenant's fail mode; nil means FailClosed for all.
	FailMode func(tenant string) FailMode
	// OnFailure, when set, is called once for every message the policy
	// could not decide, before the fail mode applies (for metrics and
	// logs). err never holds the message's text.
	OnFailure func(tenant string, mode FailMode, err error)
	// Opinion, when set, is consulted on every inspected message after
	// the policy decided and before it is recorded, under the caller's
	// context, not Timeout: a model's answer takes longer than a policy
	// may, so the SecondOpinion bounds its own calls, and drafts in its
	// grey zone wait for it at most that long. A failure only goes on the
	// record. Nil asks no one.
	Opinion SecondOpinion
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Inspect carries m through in, the Inspector of one policy version (a
// request keeps the version it started with, whatever reloads meanwhile),
// and returns its verdict. Errors:
//   - one wrapping ErrInvalid: the pipeline refused the request (empty or
//     too long text, unknown role); nothing was recorded or kept;
//   - ErrNotRecorded: inspected, but the record could not be written, so
//     the message must be held;
//   - *FailedError: the policy could not decide and the fail mode held it.
//
// A Verdict with FailOpen set is a fail-open release.
func (s *Session) Inspect(ctx context.Context, in *Inspector, m Message) (Verdict, error) {
	now := m.TS
	if now.IsZero() {
		now = s.now()
	}
	if m.Role == "" {
		m.Role = RoleAgent
	}
	ictx := ctx
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ictx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	v, err := s.inspect(ctx, ictx, in, &m, now)
	switch {
	case err == nil:
		if err := s.commit(ctx); err != nil {
			return Verdict{}, err
		}
		return v, nil
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrNotRecorded):
		return Verdict{}, err
	}
	return s.failed(ctx, in, &m, err, now)
}

// inspect runs m through in under ictx and records it under ctx (a record
// is not abandoned halfway for the deadline), with its conversation
// locked when it names one and the Session has a Store.
func (s *Session) inspect(ctx, ictx context.Context, in *Inspector, m *Message, now time.Time) (Verdict, error) {
	conv, unlock := Conversation{ID: m.ConversationID}, func(*Conversation) {}
	if m.ConversationID != "" && s.Store != nil {
		var err error
		if conv, unlock, err = s.Store.Lock(ictx, m.TenantID, m.ConversationID); err != nil {
			return Verdict{}, fmt.Errorf("conversation: %w", err)
		}
	}
	var keep *Conversation
	defer func() { unlock(keep) }()
	if conv.Turns == 0 && len(m.Context) > 0 {
		var err error
		if conv, err = s.inline(ictx, in, m, now); err != nil {
			return Verdict{}, err
		}
	}
	v, next, err := in.Inspect(ictx, m.Request, conv, now)
	if err != nil {
		return Verdict{}, err
	}
	s.consult(ctx, m, &v, &next) // its own deadline: an answer takes longer than the policy may
	if err := s.record(ctx, m, &v, &next, now); err != nil {
		return Verdict{}, err
	}
	keep = &next
	return v, nil
}

// inline replays m's inline context, so the policy sees the conversation's
// risk and wait without server-side state. A turn the pipeline refuses
// (empty, too long) is skipped; any other error, the deadline's among
// them, is returned.
func (s *Session) inline(ctx context.Context, in *Inspector, m *Message, now time.Time) (Conversation, error) {
	conv := Conversation{ID: m.ConversationID}
	for _, t := range m.Context {
		ts := t.TS
		if ts.IsZero() || ts.After(now) {
			ts = now
		}
		_, next, err := in.Inspect(ctx, Request{Text: t.Text, Role: t.Role, ConversationID: m.ConversationID, TenantID: m.TenantID}, conv, ts)
		switch {
		case errors.Is(err, ErrInvalid):
			continue
		case err != nil:
			return Conversation{}, fmt.Errorf("context: %w", err)
		}
		conv = next
	}
	// The client's history is what the conversation showed: delivered,
	// whatever today's policy would make of its agent turns.
	for i := range conv.Recent {
		conv.Recent[i].Delivered = true // Recent is this function's own
	}
	return conv, nil
}

// record hands the message's outcome to the Recorder.
func (s *Session) record(ctx context.Context, m *Message, v *Verdict, conv *Conversation, now time.Time) error {
	if s.Recorder == nil {
		return nil
	}
	if err := s.Recorder.Record(ctx, &Record{Message: m, Verdict: v, Conversation: conv, Now: now}); err != nil {
		return fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	return nil
}

// commit makes the Recorder's records durable.
func (s *Session) commit(ctx context.Context) error {
	if s.Recorder == nil {
		return nil
	}
	if err := s.Recorder.Commit(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	return nil
}

// failed applies the tenant's fail mode to m, which the policy could not
// decide (cause). Fail closed holds it. Fail open releases it only when
// the detectors ran and found nothing but private data, which is masked
// (action redact); a draft with any other finding, or one the detectors
// could not screen, is held whatever the mode. A release is flagged
// (FailOpen) and recorded, but not kept in the conversation: the policy
// never saw it.
func (s *Session) failed(ctx context.Context, in *Inspector, m *Message, cause error, now time.Time) (Verdict, error) {
	mode := FailClosed
	if s.FailMode != nil {
		mode = s.FailMode(m.TenantID)
	}
	if s.OnFailure != nil {
		s.OnFailure(m.TenantID, mode, cause)
	}
	if mode != FailOpen {
		return Verdict{}, &FailedError{Mode: mode, Err: cause}
	}
	screen, err := in.Screen(m.Request)
	if err != nil || !screen.PrivacyOnly() {
		return Verdict{}, &FailedError{Mode: mode, Screened: true, Err: cause}
	}
	// A decision id of its own, as every verdict has: the reply, the
	// decision header and the record name the same release.
	uid := uuid.Must(uuid.NewV7())
	v := Verdict{DecisionID: uid.String(), Action: rules.Allow, Findings: screen.Findings,
		Reasons: []rules.Reason{}, FailOpen: true, PolicyRevision: in.Policy().Revision()}
	if screen.Masked != m.Text {
		v.Action, v.Redacted = rules.Redact, screen.Masked
	}
	// Supervisors see every uninspected release.
	turn := Turn{Role: m.Role, Text: screen.Masked, TS: now, Delivered: true, decision: uid}
	if m.Role == RoleAgent {
		turn.Action = v.Action.String()
	}
	conv := Conversation{ID: m.ConversationID, Recent: []Turn{turn}}
	if s.record(ctx, m, &v, &conv, now) != nil || s.commit(ctx) != nil {
		return Verdict{}, &FailedError{Mode: mode, Unrecorded: true, Err: cause}
	}
	return v, nil
}

// Undelivered records that the draft of decision id in conversation (of
// tenant), recorded as released, did not reach the customer (the chat
// backend was not reached, its ack was refused), so the alerts that follow
// do not show the customer a turn they never saw. It does nothing without
// a Store, a conversation or an id, or when the turn is no longer among
// the conversation's recent ones.
func (s *Session) Undelivered(ctx context.Context, tenant, conversation, id string) error {
	if s.Store == nil || conversation == "" || id == "" {
		return nil
	}
	conv, unlock, err := s.Store.Lock(ctx, tenant, conversation)
	if err != nil {
		return fmt.Errorf("conversation: %w", err)
	}
	if conv.SetDelivered(id, false) {
		unlock(&conv)
	} else {
		unlock(nil)
	}
	return nil
}

func (s *Session) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
