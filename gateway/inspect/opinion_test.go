package inspect

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/rules"
)

// fakeOpinion answers every question with op, keeping the questions; with
// skip it finds no message qualified; with wait it answers only when ctx
// is done, with a timeout.
type fakeOpinion struct {
	op   Opinion
	skip bool
	wait bool

	mu   sync.Mutex
	asks []Consultation
	ctxs []context.Context
}

func (f *fakeOpinion) Consult(ctx context.Context, q *Consultation) (Opinion, bool) {
	f.mu.Lock()
	f.asks = append(f.asks, *q)
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	if f.skip {
		return Opinion{}, false
	}
	if f.wait {
		<-ctx.Done()
		return Opinion{Mode: f.op.Mode, Error: "timeout"}, true
	}
	return f.op, true
}

// TestSessionOpinion: a second opinion is asked with the masked text and
// the policy's action, goes on the record with the verdict, and changes
// the action only when enforced, harmful and about an agent draft the
// policy released; then the draft is held and the conversation remembers
// it as held.
func TestSessionOpinion(t *testing.T) {
	in := defaultInspector(t)
	harmful := Opinion{Verdict: OpinionHarmful, Kinds: []string{"tone.rude"}, Reason: "sarcasm", Model: "m1"}
	const phone = "13812345678"
	for _, tc := range []struct {
		name    string
		role    string
		text    string
		op      Opinion
		skip    bool
		applied bool
	}{
		{"shadow harmful", RoleAgent, "亲，您再看看说明书吧，电话" + phone, withMode(harmful, OpinionShadow), false, false},
		{"enforce harmful", RoleAgent, "亲，您再看看说明书吧，电话" + phone, withMode(harmful, OpinionEnforce), false, true},
		{"enforce ok", RoleAgent, "亲，您再看看说明书吧，电话" + phone, Opinion{Verdict: OpinionOK, Mode: OpinionEnforce}, false, false},
		{"enforce failed", RoleAgent, "亲，您再看看说明书吧，电话" + phone, Opinion{Error: "timeout", Mode: OpinionEnforce}, false, false},
		{"enforce harmful on a customer", RoleCustomer, "你们这服务真是绝了，电话" + phone, withMode(harmful, OpinionEnforce), false, false},
		{"not qualified", RoleAgent, "亲，您再看看说明书吧，电话" + phone, Opinion{}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			base, _, err := in.Inspect(ctx, Request{Text: tc.text, Role: tc.role, ConversationID: "c1", TenantID: "t1"}, Conversation{}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if base.Action >= rules.Confirm {
				t.Fatalf("the policy holds %q already (%v): pick a draft it releases", tc.text, base.Action)
			}
			fake, rec, store := &fakeOpinion{op: tc.op, skip: tc.skip}, &fakeRecorder{}, &MemStore{}
			sess := &Session{Store: store, Recorder: rec, Opinion: fake}
			v, err := sess.Inspect(ctx, in, msg(tc.text, tc.role, "c1"))
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.asks) != 1 {
				t.Fatalf("asked %d times, want once", len(fake.asks))
			}
			q := fake.asks[0]
			if strings.Contains(q.Text, phone) || !strings.Contains(q.Text, "*") {
				t.Errorf("asked about %q: want the masked text", q.Text)
			}
			if q.Tenant != "t1" || q.Role != tc.role || q.Action != base.Action || len(q.Findings) != len(base.Findings) {
				t.Errorf("question %+v, want tenant t1, role %s, action %v, the findings", q, tc.role, base.Action)
			}
			if tc.skip {
				if v.Opinion != nil || rec.records[0].v.Opinion != nil {
					t.Errorf("an opinion recorded for a message that did not qualify: %+v", v.Opinion)
				}
				return
			}
			if v.Opinion == nil || rec.records[0].v.Opinion == nil || rec.records[0].v.Opinion.Verdict != tc.op.Verdict {
				t.Fatalf("opinion %+v, recorded %+v; want %+v", v.Opinion, rec.records[0].v.Opinion, tc.op)
			}
			if v.Opinion.Applied != tc.applied {
				t.Errorf("applied = %v, want %v", v.Opinion.Applied, tc.applied)
			}
			last := stored(t, store, "t1", "c1").Recent[0]
			held := slices.ContainsFunc(v.Reasons, func(r rules.Reason) bool { return r.Rule == OpinionRule })
			switch {
			case tc.applied:
				if v.Action != rules.Confirm || !held || last.Action != "confirm" || last.Delivered {
					t.Errorf("enforced: action %v, reasons %+v, remembered %+v; want confirm, held, undelivered", v.Action, v.Reasons, last)
				}
			default:
				if v.Action != base.Action || held || (tc.role == RoleAgent && last.Action != base.Action.String()) {
					t.Errorf("action %v (policy %v), reasons %+v, remembered %+v; want the policy's", v.Action, base.Action, v.Reasons, last)
				}
			}
		})
	}
}

func withMode(op Opinion, mode string) Opinion { op.Mode = mode; return op }

// TestSessionOpinionDeadline: the second opinion gets the caller's context,
// not the inspection's deadline (an answer takes longer than a policy
// may), and its failure is recorded, never an error.
func TestSessionOpinionDeadline(t *testing.T) {
	in := defaultInspector(t)
	fake := &fakeOpinion{op: Opinion{Mode: OpinionShadow, Verdict: OpinionOK}}
	sess := &Session{Opinion: fake, Timeout: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if _, err := sess.Inspect(ctx, in, msg("亲，您再看看说明书吧", RoleAgent, "")); err != nil {
		t.Fatal(err)
	}
	if d, ok := fake.ctxs[0].Deadline(); !ok || d.Before(time.Now().Add(time.Minute)) {
		t.Errorf("consulted with deadline %v (%v): want the caller's, an hour away, not the inspection's", d, ok)
	}

	fake = &fakeOpinion{op: Opinion{Mode: OpinionShadow}, wait: true}
	sess.Opinion = fake
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	v, err := sess.Inspect(ctx, in, msg("亲，您再看看说明书吧", RoleAgent, ""))
	if err != nil {
		t.Fatalf("a second opinion past its deadline failed the message: %v", err)
	}
	if v.Opinion == nil || v.Opinion.Error != "timeout" || v.Action >= rules.Confirm {
		t.Errorf("opinion %+v, action %v: want the timeout recorded and the policy's action", v.Opinion, v.Action)
	}
}
