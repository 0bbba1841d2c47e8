package inspect

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/rules"
)

// recorded is what a fake Recorder kept of one Record: copies, as a
// Recorder must not keep the Record itself.
type recorded struct {
	msg  Message
	v    Verdict
	conv Conversation
}

// fakeRecorder keeps every record; failRecord or failCommit make it fail.
type fakeRecorder struct {
	mu                     sync.Mutex
	records                []recorded
	commits                int
	failRecord, failCommit bool
}

func (r *fakeRecorder) Record(_ context.Context, rec *Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failRecord {
		return errors.New("spool full")
	}
	r.records = append(r.records, recorded{msg: *rec.Message, v: *rec.Verdict, conv: rec.Conversation.Clone()})
	return nil
}

func (r *fakeRecorder) Commit(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits++
	if r.failCommit {
		return errors.New("fsync failed")
	}
	return nil
}

// stored returns what store remembers of conversation id of tenant.
func stored(t *testing.T, store Store, tenant, id string) Conversation {
	t.Helper()
	c, unlock, err := store.Lock(context.Background(), tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	unlock(nil)
	return c
}

func msg(text, role, conv string) Message {
	return Message{Request: Request{Text: text, Role: role, ConversationID: conv, AgentID: "a1", TenantID: "t1"}}
}

// TestSessionConversation follows one conversation through a Session: the
// store keeps each message, the recorder gets them in order with the
// conversation as it stood after each, and the customer's complaints raise
// the risk that the agent's next draft is judged with.
func TestSessionConversation(t *testing.T) {
	in := defaultInspector(t)
	store, rec := &MemStore{}, &fakeRecorder{}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sess := &Session{Store: store, Recorder: rec}
	for i, m := range []Message{
		msg("我的快递一周了还没到", RoleCustomer, "c1"),
		msg("再不处理我就去12315投诉你们，还要找律师", RoleCustomer, "c1"),
		msg("非常抱歉，马上为您核实物流", RoleAgent, "c1"),
	} {
		m.TS = t0.Add(time.Duration(i) * time.Minute)
		if _, err := sess.Inspect(context.Background(), in, m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	c := stored(t, store, "t1", "c1")
	if c.Turns != 3 || len(c.Recent) != 3 || c.Risk <= 0 || c.CustomerEscalations == 0 {
		t.Fatalf("stored conversation = %+v, want 3 turns, escalations and a risk", c)
	}
	if len(rec.records) != 3 || rec.commits != 3 {
		t.Fatalf("%d records, %d commits; want 3 of each", len(rec.records), rec.commits)
	}
	for i, r := range rec.records {
		if r.conv.Turns != i+1 || r.conv.Recent[len(r.conv.Recent)-1].Text != r.msg.Text {
			t.Errorf("record %d: conversation at turn %d ending %q, want turn %d ending with its message", i, r.conv.Turns, r.conv.Recent[len(r.conv.Recent)-1].Text, i+1)
		}
	}
	if rec.records[2].conv.Risk != c.Risk || rec.records[2].msg.Role != RoleAgent {
		t.Errorf("the agent's record carries risk %v, want the conversation's %v", rec.records[2].conv.Risk, c.Risk)
	}
}

// TestSessionLeavesConversation: a refused message, one that cannot be
// recorded, and one the policy cannot decide all leave the conversation as
// it was, so a retry is judged in the same context.
func TestSessionLeavesConversation(t *testing.T) {
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	failing := false
	in, err := New(p, Options{Decide: func(ctx context.Context, input *rules.Input) (rules.Decision, error) {
		if failing {
			return rules.Decision{}, errors.New("policy: boom")
		}
		return p.Decide(ctx, input)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	store, rec := &MemStore{}, &fakeRecorder{}
	sess := &Session{Store: store, Recorder: rec}
	if _, err := sess.Inspect(context.Background(), in, msg("请问什么时候发货", RoleCustomer, "c1")); err != nil {
		t.Fatal(err)
	}
	before := stored(t, store, "t1", "c1")

	if _, err := sess.Inspect(context.Background(), in, msg("   ", RoleAgent, "c1")); !errors.Is(err, ErrInvalid) {
		t.Errorf("blank draft: err = %v, want ErrInvalid", err)
	}
	rec.failRecord = true
	if _, err := sess.Inspect(context.Background(), in, msg("今天下午发货", RoleAgent, "c1")); !errors.Is(err, ErrNotRecorded) {
		t.Errorf("unrecorded draft: err = %v, want ErrNotRecorded", err)
	}
	rec.failRecord, failing = false, true
	var failed *FailedError
	if _, err := sess.Inspect(context.Background(), in, msg("今天下午发货", RoleAgent, "c1")); !errors.As(err, &failed) || failed.Mode != FailClosed {
		t.Errorf("undecided draft: err = %v, want a FailedError (fail closed)", err)
	}
	if after := stored(t, store, "t1", "c1"); !reflect.DeepEqual(after, before) {
		t.Errorf("conversation changed by messages that were not released:\nbefore %+v\nafter  %+v", before, after)
	}
	if len(rec.records) != 1 {
		t.Errorf("%d records, want only the first message's", len(rec.records))
	}
}

// TestSessionFailMode: when the policy cannot decide in time, fail closed
// holds every draft; fail open releases, flagged and recorded, only a
// draft whose findings are all private data (masked), and holds the rest.
func TestSessionFailMode(t *testing.T) {
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	// A policy that never answers: only the deadline ends it.
	in, err := New(p, Options{Decide: func(ctx context.Context, _ *rules.Input) (rules.Decision, error) {
		<-ctx.Done()
		return rules.Decision{}, ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	const phone = "13812345678"
	for _, tc := range []struct {
		name      string
		mode      FailMode
		text      string
		failRec   bool
		wantErr   func(*FailedError) bool // nil: released
		wantRedac bool
	}{
		{"closed, harmless", FailClosed, "好的，马上为您处理", false, func(e *FailedError) bool { return e.Mode == FailClosed && !e.Screened }, false},
		{"open, harmless", FailOpen, "好的，马上为您处理", false, nil, false},
		{"open, private data only", FailOpen, "您的手机 " + phone + " 已登记", false, nil, true},
		{"open, rude", FailOpen, "你是不是傻，看不懂字吗", false, func(e *FailedError) bool { return e.Screened }, false},
		{"open, diversion", FailOpen, "加我微信 wxid_abc123 私聊", false, func(e *FailedError) bool { return e.Screened }, false},
		{"open, not recorded", FailOpen, "您的手机 " + phone + " 已登记", true, func(e *FailedError) bool { return e.Unrecorded }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, rec := &MemStore{}, &fakeRecorder{failRecord: tc.failRec}
			var failures []error
			sess := &Session{
				Store: store, Recorder: rec, Timeout: 20 * time.Millisecond,
				FailMode:  func(string) FailMode { return tc.mode },
				OnFailure: func(_ string, _ FailMode, err error) { failures = append(failures, err) },
			}
			v, err := sess.Inspect(context.Background(), in, msg(tc.text, RoleAgent, "c1"))
			if len(failures) != 1 || !errors.Is(failures[0], context.DeadlineExceeded) {
				t.Errorf("OnFailure got %v, want the deadline once", failures)
			}
			if tc.wantErr != nil {
				var failed *FailedError
				if !errors.As(err, &failed) || !tc.wantErr(failed) {
					t.Fatalf("err = %v, want a FailedError of this case", err)
				}
				if tc.failRec != errors.Is(err, ErrNotRecorded) {
					t.Errorf("errors.Is(err, ErrNotRecorded) = %v", !tc.failRec)
				}
				if len(rec.records) != 0 {
					t.Errorf("a held draft was recorded: %+v", rec.records)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want a fail-open release", err)
			}
			if !v.FailOpen || v.DecisionID == "" || v.PolicyRevision == "" {
				t.Errorf("verdict %+v: want fail_open with a decision id and revision", v)
			}
			if tc.wantRedac != (v.Action == rules.Redact) || strings.Contains(v.Redacted, phone) {
				t.Errorf("action %s, redacted %q: want redact %v, the phone masked", v.Action, v.Redacted, tc.wantRedac)
			}
			if len(rec.records) != 1 || !rec.records[0].v.FailOpen || strings.Contains(rec.records[0].conv.Recent[0].Text, phone) {
				t.Errorf("records %+v: want the release recorded once, flagged, masked", rec.records)
			}
			if c := stored(t, store, "t1", "c1"); c.Turns != 0 {
				t.Errorf("a release the policy never saw was kept in the conversation: %+v", c)
			}
		})
	}
}

// TestSessionOrdersConversation: messages of one conversation sent at
// once are inspected one at a time, each seeing the previous one, and
// recorded in that order.
func TestSessionOrdersConversation(t *testing.T) {
	in := defaultInspector(t)
	store, rec := &MemStore{}, &fakeRecorder{}
	sess := &Session{Store: store, Recorder: rec}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			role := RoleAgent
			if i%2 == 0 {
				role = RoleCustomer
			}
			if _, err := sess.Inspect(context.Background(), in, msg("第"+strings.Repeat("一", i%5+1)+"条消息", role, "c1")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c := stored(t, store, "t1", "c1"); c.Turns != n {
		t.Fatalf("conversation has %d turns after %d messages: updates were lost", c.Turns, n)
	}
	for i, r := range rec.records {
		if r.conv.Turns != i+1 {
			t.Fatalf("record %d carries turn %d: records are out of the conversation's order", i, r.conv.Turns)
		}
	}
}

// TestSessionLockDeadline: a conversation held past the deadline fails the
// message into the fail mode rather than waiting for ever.
func TestSessionLockDeadline(t *testing.T) {
	in := defaultInspector(t)
	store := &MemStore{}
	_, unlock, err := store.Lock(context.Background(), "t1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock(nil)
	sess := &Session{Store: store, Timeout: 20 * time.Millisecond}
	var failed *FailedError
	if _, err := sess.Inspect(context.Background(), in, msg("您好", RoleAgent, "c1")); !errors.As(err, &failed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a FailedError for the deadline", err)
	}
	// Another conversation is not held up (no deadline here: a busy
	// machine may take more than 20 ms over an inspection).
	free := &Session{Store: store}
	if _, err := free.Inspect(context.Background(), in, msg("您好", RoleAgent, "c2")); err != nil {
		t.Errorf("another conversation: %v", err)
	}
}

// TestSessionInlineContext: a client's inline history is replayed when
// the store knows nothing of the conversation (or the message names none),
// and ignored once it does, so a client cannot rewrite history.
func TestSessionInlineContext(t *testing.T) {
	in := defaultInspector(t)
	store, rec := &MemStore{}, &fakeRecorder{}
	sess := &Session{Store: store, Recorder: rec}
	history := []Turn{
		{Role: RoleCustomer, Text: "我要投诉，再不退款就去12315"},
		{Role: RoleCustomer, Text: ""}, // refused by the pipeline: skipped
		{Role: RoleCustomer, Text: "我已经找了律师，还要曝光你们"},
	}
	for _, conv := range []string{"", "c1"} {
		m := msg("请稍等", RoleAgent, conv)
		m.Context = history
		if _, err := sess.Inspect(context.Background(), in, m); err != nil {
			t.Fatal(err)
		}
		last := rec.records[len(rec.records)-1].conv
		if last.Turns != 3 || last.Risk <= 0 || !last.Recent[0].Delivered {
			t.Errorf("conversation %q: %+v; want the two history turns replayed (delivered) and the draft", conv, last)
		}
	}
	m := msg("请稍等", RoleAgent, "c1")
	m.Context = []Turn{{Role: RoleCustomer, Text: "谢谢，没问题了"}}
	if _, err := sess.Inspect(context.Background(), in, m); err != nil {
		t.Fatal(err)
	}
	if last := rec.records[len(rec.records)-1].conv; last.Turns != 4 || slices.ContainsFunc(last.Recent, func(t Turn) bool { return t.Text == "谢谢，没问题了" }) {
		t.Errorf("a known conversation took the client's history: %+v", last)
	}
}

// TestSessionUndelivered: a released draft the backend never took is
// marked undelivered in its conversation.
func TestSessionUndelivered(t *testing.T) {
	in := defaultInspector(t)
	store := &MemStore{}
	sess := &Session{Store: store}
	v, err := sess.Inspect(context.Background(), in, msg("您好，已为您登记", RoleAgent, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if c := stored(t, store, "t1", "c1"); !c.Recent[0].Delivered {
		t.Fatal("a released draft is not recorded delivered")
	}
	if err := sess.Undelivered(context.Background(), "t1", "c1", v.DecisionID); err != nil {
		t.Fatal(err)
	}
	if c := stored(t, store, "t1", "c1"); c.Recent[0].Delivered || c.Turns != 1 {
		t.Errorf("after Undelivered: %+v, want the turn undelivered and nothing else changed", c)
	}
}

// TestInspectIsPure: Inspect never writes to the conversation it is given,
// not even to the spare capacity of its slices, so callers need not copy.
func TestInspectIsPure(t *testing.T) {
	in := defaultInspector(t)
	now := time.Now()
	conv := Conversation{ID: "c1"}
	var err error
	for _, text := range []string{"我要投诉", "非常抱歉", "还没好吗？再不处理就找律师"} {
		role := RoleCustomer
		if text == "非常抱歉" {
			role = RoleAgent
		}
		if _, conv, err = in.Inspect(context.Background(), Request{Text: text, Role: role, ConversationID: "c1"}, conv, now); err != nil {
			t.Fatal(err)
		}
	}
	// Spare capacity behind both slices: an in-place append would show.
	conv.Recent = slices.Grow(conv.Recent, 4)
	conv.Signals = slices.Grow(conv.Signals, 4)
	before := conv.Clone()
	for _, role := range []string{RoleCustomer, RoleAgent} {
		if _, _, err := in.Inspect(context.Background(), Request{Text: "我要投诉你们", Role: role, ConversationID: "c1"}, conv, now); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(conv, before) {
			t.Fatalf("Inspect changed its input:\nbefore %+v\nafter  %+v", before, conv)
		}
		if spare := conv.Recent[:cap(conv.Recent)][len(conv.Recent):]; slices.ContainsFunc(spare, func(t Turn) bool { return t.Text != "" }) {
			t.Fatalf("Inspect wrote into the spare capacity of Recent: %+v", spare)
		}
		if spare := conv.Signals[:cap(conv.Signals)][len(conv.Signals):]; !reflect.DeepEqual(spare, make([]complaint.Signals, len(spare))) {
			t.Fatalf("Inspect wrote into the spare capacity of Signals: %+v", spare)
		}
	}
}
