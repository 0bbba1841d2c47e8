package replay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/jsonl"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

const recorded = "testdata/recorded.jsonl"

// fixedNow is the time of fixture lines without a ts.
func fixedNow() time.Time { return time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC) }

// variant writes the default bundle into a temporary directory with its
// manifest revision set to rev and its data.json changed by edit, and
// returns the directory.
func variant(t *testing.T, rev string, edit func(data map[string]any)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(dir); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"revision": %q, "roots": ["xunjian", "xunjian_test"]}`, rev)
	if err := os.WriteFile(filepath.Join(dir, ".manifest"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "xunjian", "data.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	edit(data)
	if b, err = json.Marshal(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// obj walks data down a path of object keys, creating missing objects.
func obj(data map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, ok := data[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			data[k] = next
		}
		data = next
	}
	return data
}

// impatientBlocks is the change under test: tone.impatient blocks instead
// of warning.
func impatientBlocks(data map[string]any) {
	obj(data, "config", "actions")["tone.impatient"] = "block"
	// Whatever its severity: the default holds hostile impatience.
	delete(obj(data, "config", "kinds", "tone.impatient"), "severity_actions")
}

func inspector(t testing.TB, path string) *inspect.Inspector {
	t.Helper()
	p, err := rules.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(p, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); p.Close() })
	return in
}

func runFile(t *testing.T, path string, baseline, candidate *inspect.Inspector, opts Options) *Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return runReader(t, f, baseline, candidate, opts)
}

func runReader(t *testing.T, r io.Reader, baseline, candidate *inspect.Inspector, opts Options) *Report {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	rep, err := Run(context.Background(), r, baseline, candidate, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// baselineVerdicts inspects the fixture's valid lines with in directly,
// conversation by conversation, as the gateway would: the ground truth the
// expectations are derived from, independent of Run.
func baselineVerdicts(t *testing.T, in *inspect.Inspector, path string) []inspect.Verdict {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	convs := map[string]inspect.Conversation{}
	var out []inspect.Verdict
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var l jsonl.Line
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if l.Text == nil || (l.Role != "" && l.Role != inspect.RoleAgent && l.Role != inspect.RoleCustomer) {
			continue
		}
		ts := l.TS
		if ts.IsZero() {
			ts = fixedNow()
		}
		v, next, err := in.Inspect(context.Background(), inspect.Request{
			Text: *l.Text, Role: l.Role, ConversationID: l.ConversationID, AgentID: l.AgentID, TenantID: DefaultTenant,
		}, convs[l.ConversationID], ts)
		if err != nil {
			t.Fatal(err)
		}
		if l.ConversationID != "" {
			convs[l.ConversationID] = next
		}
		out = append(out, v)
	}
	return out
}

func transitions(r *Report) map[string]int {
	m := map[string]int{}
	for _, t := range r.Transitions {
		m[t.String()] = t.Count
	}
	return m
}

func counts(cs []Count) map[string]Count {
	m := map[string]Count{}
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// TestKnownChange replays the fixture against a policy in which
// tone.impatient blocks instead of warning, and checks the transitions and
// rule deltas against what that change means for each baseline verdict.
func TestKnownChange(t *testing.T) {
	base := inspector(t, "")
	next := inspector(t, variant(t, "impatient-blocks", impatientBlocks))
	rep := runFile(t, recorded, base, next, Options{Show: 100})

	// What the change means: every tone.impatient.warn or .confirm reason
	// (the lexicon's; the model's are tone.impatient.model.*) becomes
	// tone.impatient.block, unless its finding is of severity info
	// (capped at info_max_action, warn), and a message with such a reason
	// is blocked. Nothing else moves.
	wantTrans := map[string]int{}
	moved, changed := map[string]int{}, 0
	impatient := func(r rules.Reason) bool {
		return r.Rule == "tone.impatient.warn" || r.Rule == "tone.impatient.confirm"
	}
	for _, v := range baselineVerdicts(t, base, recorded) {
		to := v.Action
		for _, r := range v.Reasons {
			if impatient(r) && r.Finding != nil && v.Findings[*r.Finding].Severity != detectors.Info {
				to = rules.Block
				moved[r.Rule]++
			}
		}
		if to != v.Action || slices.ContainsFunc(v.Reasons, impatient) {
			changed++
		}
		wantTrans[v.Action.String()+"→"+to.String()]++
	}
	total := moved["tone.impatient.warn"] + moved["tone.impatient.confirm"]
	if moved["tone.impatient.warn"] == 0 || moved["tone.impatient.confirm"] == 0 || total < 5 {
		t.Fatalf("the fixture has impatient reasons %v; the test needs both and at least 5", moved)
	}
	if got := transitions(rep); !mapsEqual(got, wantTrans) {
		t.Errorf("transitions = %v, want %v", got, wantTrans)
	}
	rc := counts(rep.Rules)
	for _, rule := range []string{"tone.impatient.warn", "tone.impatient.confirm"} {
		if c := rc[rule]; c.Delta != -moved[rule] || c.New != c.Baseline-moved[rule] {
			t.Errorf("%s = %+v, want delta %d", rule, c, -moved[rule])
		}
	}
	if c := rc["tone.impatient.block"]; c.Baseline != 0 || c.New != total || c.Delta != total {
		t.Errorf("tone.impatient.block = %+v, want 0 → %d", c, total)
	}
	for name, c := range rc {
		if !strings.HasPrefix(name, "tone.impatient.") && c.Delta != 0 {
			t.Errorf("rule %s changed: %+v", name, c)
		}
	}
	for _, c := range rep.Alerts {
		if c.Delta != 0 {
			t.Errorf("alert %s changed: %+v", c.Name, c)
		}
	}
	if rep.Changed != changed || len(rep.Changes) != changed {
		t.Errorf("changed = %d (%d listed), want %d", rep.Changed, len(rep.Changes), changed)
	}
	for _, c := range rep.Changes {
		if c.New.Action != rules.Block || !slices.ContainsFunc(c.New.Reasons, func(r Reason) bool { return r.Rule == "tone.impatient.block" }) {
			t.Errorf("change on line %d: %+v", c.Line, c)
		}
		if !slices.ContainsFunc(c.New.Findings, func(f Finding) bool { return f.Name == "tone.impatient" && f.Evidence != "" }) {
			t.Errorf("change on line %d lacks its tone.impatient finding: %+v", c.Line, c.New.Findings)
		}
	}
	// The fixture's recorded mess: a numeric id, a line without text, an
	// unknown role.
	if rep.Messages != 29 || rep.Replayed != 27 || rep.Skipped != 2 {
		t.Errorf("messages %d, replayed %d, skipped %d; want 29, 27, 2", rep.Messages, rep.Replayed, rep.Skipped)
	}
	wantSkips := []Skip{{Reason: SkipInvalidMessage, Count: 1, Lines: []int{23}}, {Reason: SkipMissingText, Count: 1, Lines: []int{21}}}
	if !slices.EqualFunc(rep.SkipReasons, wantSkips, func(a, b Skip) bool {
		return a.Reason == b.Reason && a.Count == b.Count && slices.Equal(a.Lines, b.Lines)
	}) {
		t.Errorf("skip reasons = %+v, want %+v", rep.SkipReasons, wantSkips)
	}
	if rep.Baseline.Revision != "default-1" || rep.New.Revision != "impatient-blocks" {
		t.Errorf("revisions %q → %q", rep.Baseline.Revision, rep.New.Revision)
	}
	// Show bounds the list, not the count.
	short := runFile(t, recorded, base, next, Options{Show: 2})
	if len(short.Changes) != 2 || short.Changed != changed || short.Changes[0].Line != rep.Changes[0].Line {
		t.Errorf("show 2: %d listed of %d", len(short.Changes), short.Changed)
	}
	if none := runFile(t, recorded, base, next, Options{Show: -1}); len(none.Changes) != 0 || none.Changed != changed {
		t.Errorf("show -1: %d listed of %d", len(none.Changes), none.Changed)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSamePolicy: a policy replayed against itself changes nothing.
func TestSamePolicy(t *testing.T) {
	in := inspector(t, "")
	rep := runFile(t, recorded, in, in, Options{FailOn: mustFailOn(t, "any")})
	if rep.Changed != 0 || rep.ActionChanged != 0 || len(rep.Changes) != 0 || rep.Failed() {
		t.Errorf("same policy: changed %d, action changed %d, failed %v", rep.Changed, rep.ActionChanged, rep.Failed())
	}
	for _, tr := range rep.Transitions {
		if tr.From != tr.To || tr.Direction != "same" {
			t.Errorf("transition %s", tr)
		}
	}
	for _, c := range rep.Rules {
		if c.Delta != 0 || c.Baseline == 0 {
			t.Errorf("rule %+v", c)
		}
	}
}

func mustFailOn(t *testing.T, s string) FailOn {
	t.Helper()
	f, err := ParseFailOn(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseFailOn(t *testing.T) {
	A, W, R, C, B := rules.Allow, rules.Warn, rules.Redact, rules.Confirm, rules.Block
	for _, tt := range []struct {
		spec  string
		match [][2]rules.Action
		miss  [][2]rules.Action
	}{
		{"", nil, [][2]rules.Action{{A, B}, {B, A}}},
		{"any", [][2]rules.Action{{A, W}, {B, A}, {R, C}}, [][2]rules.Action{{A, A}, {B, B}}},
		{"stricter", [][2]rules.Action{{A, W}, {W, B}, {R, C}}, [][2]rules.Action{{B, A}, {C, R}, {W, W}}},
		{"looser", [][2]rules.Action{{B, A}, {C, R}}, [][2]rules.Action{{A, B}, {R, R}}},
		{"to-block", [][2]rules.Action{{A, B}, {C, B}}, [][2]rules.Action{{B, B}, {A, C}, {B, A}}},
		{"from-allow", [][2]rules.Action{{A, W}, {A, B}}, [][2]rules.Action{{A, A}, {W, B}}},
		{"allow->block", [][2]rules.Action{{A, B}}, [][2]rules.Action{{W, B}, {A, C}}},
		{"allow→block, warn -> confirm", [][2]rules.Action{{A, B}, {W, C}}, [][2]rules.Action{{W, B}, {B, A}}},
		{"looser,to-block", [][2]rules.Action{{B, A}, {W, B}}, [][2]rules.Action{{A, W}, {W, C}}},
	} {
		f, err := ParseFailOn(tt.spec)
		if err != nil {
			t.Errorf("ParseFailOn(%q): %v", tt.spec, err)
			continue
		}
		if f.IsZero() != (tt.spec == "") {
			t.Errorf("ParseFailOn(%q).IsZero() = %v", tt.spec, f.IsZero())
		}
		for _, p := range tt.match {
			if !f.Match(p[0], p[1]) {
				t.Errorf("%q does not match %s→%s", tt.spec, p[0], p[1])
			}
		}
		for _, p := range tt.miss {
			if f.Match(p[0], p[1]) {
				t.Errorf("%q matches %s→%s", tt.spec, p[0], p[1])
			}
		}
	}
	for _, bad := range []string{"stricterr", "to-blocked", "from-", "allow->allow", "allow->nope", "any,,looser", "->block"} {
		if _, err := ParseFailOn(bad); err == nil {
			t.Errorf("ParseFailOn(%q) accepted", bad)
		}
	}
}

// TestGate checks which --fail-on classes the impatient change trips:
// it only makes actions stricter, all of them to block, none from allow.
func TestGate(t *testing.T) {
	base := inspector(t, "")
	next := inspector(t, variant(t, "impatient-blocks", impatientBlocks))
	want := 0
	for _, v := range baselineVerdicts(t, base, recorded) {
		for _, r := range v.Reasons {
			if (r.Rule == "tone.impatient.warn" || r.Rule == "tone.impatient.confirm") && v.Action != rules.Block {
				want++
				break
			}
		}
	}
	for _, tt := range []struct {
		spec   string
		failed bool
	}{
		{"stricter", true},
		{"any", true},
		{"to-block", true},
		{"warn->block", true},
		{"looser", false},
		{"allow->block", false},
		{"from-allow", false},
		{"to-confirm,looser", false},
	} {
		rep := runFile(t, recorded, base, next, Options{FailOn: mustFailOn(t, tt.spec)})
		if rep.Gate == nil || rep.Gate.Failed != tt.failed || rep.Failed() != tt.failed || rep.Gate.FailOn != tt.spec {
			t.Errorf("fail-on %s: gate %+v, want failed %v", tt.spec, rep.Gate, tt.failed)
			continue
		}
		if broad := tt.spec == "stricter" || tt.spec == "any" || tt.spec == "to-block"; broad && rep.Gate.Messages != want {
			t.Errorf("fail-on %s: %d gated messages, want %d", tt.spec, rep.Gate.Messages, want)
		}
		var text bytes.Buffer
		if err := rep.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if tt.failed != strings.Contains(text.String(), "FAILED") {
			t.Errorf("fail-on %s: text report:\n%s", tt.spec, text.String())
		}
	}
	if rep := runFile(t, recorded, base, next, Options{}); rep.Gate != nil || rep.Failed() {
		t.Errorf("no fail-on: gate %+v", rep.Gate)
	}
}

// TestConversationContext: complaint.risk only appears once a customer's
// earlier messages have raised the conversation's risk; a policy that
// raises that alert's level changes exactly those messages, and nothing
// when the same lines are replayed without their conversation ids.
func TestConversationContext(t *testing.T) {
	base := inspector(t, "")
	next := inspector(t, variant(t, "risk-high", func(d map[string]any) {
		obj(d, "config", "kinds", "complaint.risk", "alert")["level"] = "high"
	}))
	var wantLines []int
	lineOf := validLines(t, recorded)
	firstOfConv := map[string]int{}
	for i, v := range baselineVerdicts(t, base, recorded) {
		if slices.ContainsFunc(v.Findings, func(f detectors.Finding) bool { return f.Name() == "complaint.risk" }) {
			wantLines = append(wantLines, lineOf[i].no)
		}
		if _, ok := firstOfConv[lineOf[i].conv]; !ok {
			firstOfConv[lineOf[i].conv] = lineOf[i].no
		}
	}
	if len(wantLines) == 0 {
		t.Fatal("the fixture raises no complaint.risk; the test needs one")
	}
	rep := runFile(t, recorded, base, next, Options{Show: 100})
	var got []int
	for _, c := range rep.Changes {
		got = append(got, c.Line)
		if first := firstOfConv[c.ConversationID]; c.ConversationID == "" || first == c.Line {
			t.Errorf("line %d changed without earlier context (conversation %q)", c.Line, c.ConversationID)
		}
		if c.Role != inspect.RoleCustomer || c.Baseline.Action != rules.Allow || c.New.Action != rules.Allow {
			t.Errorf("line %d: %s %s→%s, want a customer message, allowed", c.Line, c.Role, c.Baseline.Action, c.New.Action)
		}
	}
	if !slices.Equal(got, wantLines) {
		t.Errorf("changed lines %v, want %v", got, wantLines)
	}
	ac := counts(rep.Alerts)
	n := len(wantLines)
	if ac["complaint/high"].Delta != n || ac["complaint/medium"].Delta != -n {
		t.Errorf("alert counts %+v, want complaint/medium −%d, complaint/high +%d", rep.Alerts, n, n)
	}
	if rep.ActionChanged != 0 {
		t.Errorf("action changed %d, want 0", rep.ActionChanged)
	}

	// The same lines, each in its own conversation: no risk builds up.
	b, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	var alone bytes.Buffer
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		m["conversation_id"] = fmt.Sprintf("alone-%d", i)
		out, _ := json.Marshal(m)
		alone.Write(append(out, '\n'))
	}
	if rep := runReader(t, &alone, base, next, Options{}); rep.Changed != 0 {
		t.Errorf("without context: %d changed, want 0: %+v", rep.Changed, rep.Changes)
	}
}

type lineInfo struct {
	no   int
	conv string
}

// validLines maps the index of each valid fixture line (as baselineVerdicts
// counts them) to its line number and conversation.
func validLines(t *testing.T, path string) []lineInfo {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []lineInfo
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var l jsonl.Line
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if l.Text == nil || (l.Role != "" && l.Role != inspect.RoleAgent && l.Role != inspect.RoleCustomer) {
			continue
		}
		out = append(out, lineInfo{no: i + 1, conv: l.ConversationID})
	}
	return out
}

// TestWaitUsesTimestamps: a policy that alerts on a shorter wait changes an
// agent reply that came 2 minutes after the customer, but not one that
// came 30 seconds after: the replay keeps the lines' times and each
// conversation's last customer message.
func TestWaitUsesTimestamps(t *testing.T) {
	base := inspector(t, "")
	next := inspector(t, variant(t, "wait-60", func(d map[string]any) {
		obj(d, "config", "thresholds")["wait"] = 60
	}))
	in := `{"id":"q1","text":"请问发货了吗","role":"customer","conversation_id":"w1","ts":"2026-05-01T10:00:00Z"}
{"id":"q2","text":"Is it shipped?","role":"customer","conversation_id":"w2","ts":"2026-05-01T10:00:00Z"}
{"id":"r1","text":"已经发货了，请耐心等待","conversation_id":"w1","ts":"2026-05-01T10:02:00Z"}
{"id":"r2","text":"Yes, it shipped this morning.","conversation_id":"w2","ts":"2026-05-01T10:00:30Z"}
`
	rep := runReader(t, strings.NewReader(in), base, next, Options{})
	if rep.Changed != 1 || len(rep.Changes) != 1 || rep.Changes[0].ID != "r1" {
		t.Fatalf("changes %+v, want r1 only", rep.Changes)
	}
	if c := counts(rep.Alerts)["wait/medium"]; c.Baseline != 0 || c.New != 1 {
		t.Errorf("wait alerts %+v, want 0 → 1", c)
	}
}

// TestEvents replays xunjian.event/v1 events as `xunjian tail --json`
// writes them: text_enc opens with the right key; wrong keys, other key
// ids, missing text_enc, repeats and broken events are skipped with their
// reasons; tenant, conversation and role come from the event.
func TestEvents(t *testing.T) {
	key, otherKey := newKey(t), newKey(t)
	enc := newEncryptor(t, key, "default")
	wrong := newEncryptor(t, otherKey, "default")
	otherID := newEncryptor(t, key, "k2")
	base := inspector(t, "")
	// The variant blocks impatient replies for tenant t1 only, so the
	// tenant must come from the event.
	next := inspector(t, variant(t, "t1-impatient", func(d map[string]any) {
		obj(d, "tenants", "t1", "actions")["tone.impatient"] = "block"
	}))
	ts := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	mk := func(tenant, conv, role, text string, e *event.Encryptor) (string, string) {
		ts = ts.Add(10 * time.Second)
		ev, err := stream.NewEvent(stream.EventInput{
			TS: ts, Tenant: tenant, ConversationID: conv, AgentID: "ag", Role: role,
			Verdict: &inspect.Verdict{Action: rules.Allow, PolicyRevision: "old"}, Raw: text,
		}, e)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ev.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), ev.EventID
	}
	okT1, idT1 := mk("t1", "e1", "agent", "As I said before, I already told you.", enc)
	okT2, _ := mk("t2", "e2", "agent", "As I said before, I already told you.", enc)
	okCust, _ := mk("t1", "e1", "customer", "我的手机是13912345678", enc)
	wrongKey, _ := mk("t1", "e3", "agent", "I already told you twice.", wrong)
	wrongID, _ := mk("t1", "e3", "agent", "I already told you twice.", otherID)
	plain, _ := mk("t1", "e4", "agent", "As I said before, I already told you.", nil)
	input := strings.Join([]string{
		okT1, okT2, okCust, wrongKey, wrongID, plain, okT1,
		`{"event_id":"not-an-event","text":"an unknown field"}`,
		`{"id":"chk","text":"As I said before, I already told you."}`,
	}, "\n")

	rep := runReader(t, strings.NewReader(input), base, next, Options{Decryptor: enc, Tenant: "t1"})
	if rep.Messages != 9 || rep.Replayed != 4 || rep.Skipped != 5 {
		t.Errorf("messages %d, replayed %d, skipped %d; want 9, 4, 5", rep.Messages, rep.Replayed, rep.Skipped)
	}
	wantSkip := map[string][]int{SkipDecrypt: {4}, SkipKeyMismatch: {5}, SkipNoTextEnc: {6}, SkipDuplicate: {7}, SkipInvalidEvent: {8}}
	for _, s := range rep.SkipReasons {
		if !slices.Equal(s.Lines, wantSkip[s.Reason]) || s.Count != 1 {
			t.Errorf("skip %+v, want lines %v", s, wantSkip[s.Reason])
		}
		delete(wantSkip, s.Reason)
	}
	if len(wantSkip) != 0 {
		t.Errorf("missing skip reasons %v", wantSkip)
	}
	// Changed: the t1 event and the check-format line (tenant t1 from
	// Options); not the t2 event, not the customer message.
	if rep.Changed != 2 || len(rep.Changes) != 2 {
		t.Fatalf("changes %+v, want 2", rep.Changes)
	}
	c := rep.Changes[0]
	if c.ID != idT1 || c.Tenant != "t1" || c.ConversationID != "e1" || c.AgentID != "ag" || c.Role != "agent" ||
		c.Baseline.Action != rules.Warn || c.New.Action != rules.Block || c.TextMasked != "As I said before, I already told you." {
		t.Errorf("event change %+v", c)
	}
	if c := rep.Changes[1]; c.ID != "chk" || c.Tenant != "t1" || c.Line != 9 {
		t.Errorf("check-format change %+v", c)
	}

	// Without a key every sealed event is skipped as no_key.
	rep = runReader(t, strings.NewReader(input), base, next, Options{Tenant: "t1"})
	got := map[string]int{}
	for _, s := range rep.SkipReasons {
		got[s.Reason] = s.Count
	}
	if want := map[string]int{SkipNoKey: 6, SkipNoTextEnc: 1, SkipInvalidEvent: 1}; !mapsEqual(got, want) {
		t.Errorf("no key: skips %v, want %v", got, want)
	}
}

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func newEncryptor(t *testing.T, key, id string) *event.Encryptor {
	t.Helper()
	e, err := event.NewEncryptor(key, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// planted is the private data of the fixture and the event test: none of
// it may appear in a report, nor any 8-character piece of a number.
var planted = []string{"13812345678", "13912345678", "11010519491231002X", "john.smith@example.com", "4155552671"}

func assertNoPII(t *testing.T, what, s string) {
	t.Helper()
	digitsOnly := strings.NewReplacer(" ", "", "-", "", "+", "").Replace(s)
	for _, p := range planted {
		for _, hay := range []string{s, digitsOnly} {
			if strings.Contains(hay, p) {
				t.Errorf("%s contains %q:\n%s", what, p, s)
			}
		}
		for i := 0; i+8 <= len(p) && !strings.Contains(p, "@"); i++ {
			if strings.Contains(digitsOnly, p[i:i+8]) {
				t.Errorf("%s contains %q, part of %q", what, p[i:i+8], p)
				break
			}
		}
	}
	if strings.Contains(s, "john.smith") {
		t.Errorf("%s contains an e-mail user part", what)
	}
}

// TestNoPrivateDataInReports replays the fixture against a policy that
// blocks phone numbers and ID numbers (so every message carrying them is
// listed as changed) and checks neither report holds them in clear.
func TestNoPrivateDataInReports(t *testing.T) {
	base := inspector(t, "")
	next := inspector(t, variant(t, "privacy-blocks", func(d map[string]any) {
		a := obj(d, "config", "actions")
		a["privacy.phone"], a["privacy.id_card"], a["privacy.email"] = "block", "block", "block"
		impatientBlocks(d)
		obj(d, "config", "kinds", "privacy.phone")["roles"] = []any{"agent", "customer"}
	}))
	key := newKey(t)
	enc := newEncryptor(t, key, "default")
	var input bytes.Buffer
	fixture, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	input.Write(fixture)
	for i, text := range []string{"客户电话13812345678，身份证11010519491231002X", "mail john.smith@example.com or call 13912345678"} {
		ev, err := stream.NewEvent(stream.EventInput{Tenant: "t1", ConversationID: fmt.Sprint("pe", i), Verdict: &inspect.Verdict{}, Raw: text}, enc)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ev.Marshal(nil)
		input.Write(append(b, '\n'))
	}
	rep := runReader(t, &input, base, next, Options{Show: 1000, Decryptor: enc})
	if rep.Changed < 6 {
		t.Fatalf("only %d changed messages; the test wants the private ones listed", rep.Changed)
	}
	masked := 0
	for _, c := range rep.Changes {
		if strings.Contains(c.TextMasked, "*") {
			masked++
		}
	}
	if masked < 5 {
		t.Errorf("%d changes show masked text, want the private ones (≥5)", masked)
	}
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	assertNoPII(t, "text report", text.String())
	assertNoPII(t, "JSON report", js.String())
	if !strings.Contains(text.String(), "138****5678") {
		t.Errorf("text report lacks the masked phone:\n%s", text.String())
	}
	if !json.Valid(js.Bytes()) {
		t.Error("JSON report is not valid JSON")
	}
}

func TestMaskText(t *testing.T) {
	phone := detectors.Finding{Detector: "privacy", Kind: "phone", Start: 5, End: 16}
	for _, tt := range []struct {
		text string
		sets [][]detectors.Finding
		want string
	}{
		{"您的手机 13812345678 已登记", [][]detectors.Finding{{phone}}, "您的手机 138****5678 已登记"},
		// A finding in one version only is masked all the same.
		{"您的手机 13812345678 已登记", [][]detectors.Finding{nil, {phone}}, "您的手机 138****5678 已登记"},
		// Overlapping findings mask their union once.
		{"您的手机 13812345678 已登记", [][]detectors.Finding{{phone}, {{Detector: "privacy", Kind: "phone", Start: 7, End: 16}}}, "您的手机 138****5678 已登记"},
		// No finding: digit runs are still scrubbed.
		{"order 13812345678", nil, "order *******5678"},
		{"plain text", nil, "plain text"},
		// Spans past the end are clipped.
		{"ab", [][]detectors.Finding{{{Detector: "privacy", Kind: "email", Start: 1, End: 9}}}, "a" + privacy.Mask("email", "b")},
	} {
		if got := maskText(tt.text, tt.sets...); got != tt.want {
			t.Errorf("maskText(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestReportFormats(t *testing.T) {
	base := inspector(t, "")
	next := inspector(t, variant(t, "impatient-blocks", impatientBlocks))
	rep := runFile(t, recorded, base, next, Options{Show: 3, FailOn: mustFailOn(t, "stricter")})
	rep.Baseline.Source, rep.New.Source = "built-in", "bundle"
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{
		"baseline  default-1 (built-in)", "new       impatient-blocks (bundle)",
		"messages 29: replayed 27, skipped 2",
		"missing_text", "invalid_message",
		"warn    → block", "stricter  (fail-on)", "allow   → allow",
		"tone.impatient.block", "changed messages (first 3 of",
		"fail-on stricter: FAILED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Baseline    struct{ Revision, Source string }
		Messages    int
		Transitions []struct {
			From, To, Direction string
			Count               int
			Gated               bool
		}
		Rules []struct {
			Name                 string
			Baseline, New, Delta int
		}
		Changes []struct {
			Line       int
			TextMasked string `json:"text_masked"`
			New        struct {
				Action   string
				Findings []struct{ Name, Severity, Evidence string }
			}
		}
		Gate struct {
			Failed   bool
			Messages int
		}
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Messages != 29 || doc.Baseline.Source != "built-in" || len(doc.Changes) != 3 || !doc.Gate.Failed ||
		doc.Changes[0].New.Action != "block" || len(doc.Changes[0].New.Findings) == 0 || doc.Changes[0].New.Findings[0].Severity == "" {
		t.Errorf("JSON report:\n%s", js.String())
	}
	gated := false
	for _, tr := range doc.Transitions {
		if tr.From == "warn" && tr.To == "block" && tr.Direction == "stricter" && tr.Gated {
			gated = true
		}
	}
	if !gated {
		t.Errorf("JSON transitions lack a gated warn→block: %+v", doc.Transitions)
	}
	// An empty input is a valid, empty report.
	empty := runReader(t, strings.NewReader("\n\n"), base, next, Options{})
	js.Reset()
	if err := empty.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if empty.Messages != 0 || strings.Contains(js.String(), "null") {
		t.Errorf("empty input report:\n%s", js.String())
	}
}

// TestBadLines: lines of neither format are skipped with a reason and the
// run goes on; a cancelled context stops it.
func TestBadLines(t *testing.T) {
	in := inspector(t, "")
	input := strings.Join([]string{
		`not json`,
		`[1,2]`,
		"{\"id\":1,\"text\":\"bad \xff\"}",
		`{"id":2,"text":"` + strings.Repeat("x", jsonl.MaxLineBytes) + `"}`,
		`{"id":3,"text":"   "}`,
		`{"id":4,"text":"fine"}`,
	}, "\n")
	rep := runReader(t, strings.NewReader(input), in, in, Options{})
	got := map[string]int{}
	for _, s := range rep.SkipReasons {
		got[s.Reason] = s.Count
		if SkipHelp(s.Reason) == "" {
			t.Errorf("reason %s has no help", s.Reason)
		}
	}
	want := map[string]int{SkipInvalidJSON: 2, SkipInvalidUTF8: 1, SkipTooLarge: 1, SkipInvalidMessage: 1}
	if !mapsEqual(got, want) || rep.Replayed != 1 || rep.Messages != 6 {
		t.Errorf("skips %v (replayed %d of %d), want %v", got, rep.Replayed, rep.Messages, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, strings.NewReader(input), in, in, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	if _, err := Run(context.Background(), strings.NewReader(""), nil, in, Options{}); err == nil {
		t.Error("nil inspector accepted")
	}
}

// TestPolicyError: a policy that cannot decide stops the replay with the
// line and the version, and the error holds no message text.
func TestPolicyError(t *testing.T) {
	base := inspector(t, "")
	dir := variant(t, "broken", func(map[string]any) {})
	// Undefined decision for every draft: the entry point needs a field
	// no input has.
	rego := "package xunjian\n\ndecision := {\"action\": \"allow\", \"reasons\": [], \"alerts\": [], \"sample\": false} if input.nope\n"
	os.Remove(filepath.Join(dir, "xunjian", "alerts.rego"))
	os.Remove(filepath.Join(dir, "xunjian", "decision_test.rego"))
	if err := os.WriteFile(filepath.Join(dir, "xunjian", "decision.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	next := inspector(t, dir)
	_, err := Run(context.Background(), strings.NewReader(`{"id":1,"text":"call 13812345678"}`+"\n"), base, next, Options{})
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Line != 1 || pe.Version != "new" || !errors.Is(err, rules.ErrUndefined) {
		t.Fatalf("err = %v, want a PolicyError on line 1 of the new version wrapping ErrUndefined", err)
	}
	assertNoPII(t, "policy error", err.Error())
}

func TestOneLine(t *testing.T) {
	if got, want := oneLine("a\r\nb\nc\x1b[31m\u0085d\te"), "a ⏎ b ⏎ c\uFFFD[31m\uFFFDd\te"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}

// TestModelVersions: two bundles that differ only in their model (here the
// built-in one against none) replay like two policies: the action changes
// on the draft only the model judges, a draft the lexicon stops keeps its
// action (the model's extra reason goes), a fine draft does not change,
// and the report counts the model's rules.
func TestModelVersions(t *testing.T) {
	base := inspector(t, "")
	next := inspector(t, variant(t, "no-model", func(d map[string]any) {
		obj(d, "model")["enabled"] = false
	}))
	lines := strings.Join([]string{
		`{"id":1,"text":"您可真是个天才","conversation_id":"m1"}`,
		`{"id":2,"text":"您好，马上为您查询","conversation_id":"m1"}`,
		`{"id":3,"text":"你是不是傻，看不懂字吗","conversation_id":"m2"}`,
	}, "\n")
	rep := runReader(t, strings.NewReader(lines), base, next, Options{Show: 10})
	if rep.ActionChanged != 1 || len(rep.Changes) == 0 || rep.Changes[0].ID != "1" {
		t.Fatalf("%d actions changed, changes %+v; want the action of line 1 only", rep.ActionChanged, rep.Changes)
	}
	if c := rep.Changes[0]; c.Baseline.Action != rules.Block || c.New.Action != rules.Allow {
		t.Errorf("line 1: %s → %s, want block → allow", c.Baseline.Action, c.New.Action)
	}
	for _, c := range rep.Changes {
		if c.ID == "2" {
			t.Errorf("the fine draft changed: %+v", c)
		}
	}
	if r := counts(rep.Rules)["tone.rude.model.block"]; r.Baseline != 1 || r.New != 0 {
		t.Errorf("rule counts %+v, want tone.rude.model.block once in the baseline", rep.Rules)
	}
}

// judge is a second opinion that finds harmful every message the learned
// model judged, in mode.
type judge struct{ mode string }

func (j judge) Consult(_ context.Context, q *inspect.Consultation) (inspect.Opinion, bool) {
	for _, f := range q.Findings {
		if strings.HasPrefix(f.Rule, "model:") {
			return inspect.Opinion{Verdict: inspect.OpinionHarmful, Kinds: []string{f.Name()}, Reason: "echo " + q.Text, Mode: j.mode}, true
		}
	}
	return inspect.Opinion{}, false
}

// TestOpinions: a replay asks the second opinion about the new version's
// verdicts; in shadow mode it changes nothing and the report counts where
// it disagrees with the policy; enforced, it holds the drafts the policy
// released, and the changes show it.
func TestOpinions(t *testing.T) {
	// A policy that only warns on the model's findings, so the drafts
	// below are released whatever the model's score.
	in := inspector(t, variant(t, "warn-only", func(data map[string]any) {
		bands := data["config"].(map[string]any)["model_bands"].(map[string]any)
		for k := range bands {
			bands[k] = map[string]any{"warn": 0.35}
		}
		data["config"].(map[string]any)["actions"].(map[string]any)["tone.impatient"] = "warn"
	}))
	lines := strings.Join([]string{
		`{"id":"1","text":"这个问题我已经回答过三遍了","conversation_id":"c1"}`,
		`{"id":"2","text":"您好，请问有什么可以帮您","conversation_id":"c1"}`,
		`{"id":"3","text":"I have answered this question three times already","conversation_id":"c2"}`,
	}, "\n")
	run := func(mode string) *Report {
		rep, err := Run(context.Background(), strings.NewReader(lines), in, in, Options{Now: fixedNow, Opinion: judge{mode}, Show: 10})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	shadow := run(inspect.OpinionShadow)
	o := shadow.Opinions
	if o == nil || o.Asked != 2 || o.Results["harmful"] != 2 || o.HarmfulReleased != 2 || o.Applied != 0 || shadow.ActionChanged != 0 {
		t.Fatalf("shadow: opinions %+v, action changed %d; want 2 asked, both harmful on released drafts, nothing changed", o, shadow.ActionChanged)
	}
	enforced := run(inspect.OpinionEnforce)
	if o := enforced.Opinions; o.Applied != 2 || enforced.ActionChanged != 2 || o.HarmfulReleased != 0 {
		t.Fatalf("enforce: opinions %+v, action changed %d; want both applied", o, enforced.ActionChanged)
	}
	for _, c := range enforced.Changes {
		if c.New.Action != rules.Confirm || c.New.Opinion == nil || !c.New.Opinion.Applied || c.Baseline.Opinion != nil {
			t.Errorf("change %+v: want confirm by an applied opinion on the new side only", c)
		}
	}
	var text bytes.Buffer
	if err := enforced.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "second opinions on the new version: asked 2, applied 2") || !strings.Contains(text.String(), "opinion   harmful (enforce, applied)") {
		t.Errorf("text report:\n%s", text.String())
	}
	if rep := runFile(t, recorded, in, in, Options{}); rep.Opinions != nil {
		t.Errorf("opinions %+v without a second opinion", rep.Opinions)
	}
}
