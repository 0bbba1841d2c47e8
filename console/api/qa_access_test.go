package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/store/storetest"
	"github.com/xunjian/xunjian/gateway/auth"
)

// qaAttackFixture is acme's conversation of ann reviewed by qa-li (a
// dispute of it open), bob's unreviewed, and globex's: what the attackers
// go after.
type qaAttackFixture struct {
	convA, convB    string
	taskA, taskB    int64
	review, dispute int64
	eventA          string
}

func newAttackFixture(t *testing.T, e *qaEnv) qaAttackFixture {
	t.Helper()
	f := qaAttackFixture{convA: e.conv("ann", false), convB: e.conv("bob", false)}
	evs := e.sampled("acme", f.convA, "ann", qaT0.Add(-time.Hour), phoneFinding)
	e.sampled("acme", f.convB, "bob", qaT0.Add(-time.Hour), impatientFinding)
	e.sampled("globex", "g-conv", "ann", qaT0.Add(-time.Hour), phoneFinding)
	f.eventA = evs[1].EventID
	f.taskA, f.taskB = e.taskOf(keyLeadRed, f.convA).ID, e.taskOf(keyLeadBlue, f.convB).ID
	path := "/api/qa/tasks/" + itoa(f.taskA)
	e.ok(keyQALi, "PUT", path+"/review", fmt.Sprintf(`{"categories": {"courtesy": 1, "accuracy": 1},
		"verdicts": [{"event_id": %q, "finding_index": 0, "verdict": "false_positive"}]}`, f.eventA), 200, nil)
	var rv qaTaskReview
	e.ok(keyQALi, "POST", path+"/submit", "", 200, &rv)
	f.review = rv.Review.ID
	var d qaDispute
	e.ok(keyAgentAnn, "POST", "/api/qa/reviews/"+itoa(f.review)+"/disputes", `{"reason": "r"}`, 201, &d)
	f.dispute = d.ID
	return f
}

// TestQAOtherTenant: the principals of globex, whatever their role, find
// nothing of acme on any QA endpoint: its ids answer as ids that do not
// exist (404) or are refused by role (403), its lists and reports are
// empty of it, and nothing of acme is changed.
func TestQAOtherTenant(t *testing.T) {
	e := newQAEnv(t, storetest.DSN(t, "sqlite"), true)
	f := newAttackFixture(t, e)
	before := e.auditCount()
	task, review, dispute := "/api/qa/tasks/"+itoa(f.taskA), "/api/qa/reviews/"+itoa(f.review), "/api/qa/disputes/"+itoa(f.dispute)
	acme := []string{f.convA, f.convB, f.eventA, "acme", "qa-li", "ann-key", rawMarker}
	for _, k := range []string{keyGlobexAud, keyGlobexAdm, keyGlobexLead} {
		for _, c := range []struct{ method, path, body string }{
			{"GET", task, ""},
			{"GET", task + "/raw", ""},
			{"POST", task + "/take", ""},
			{"PUT", task + "/review", `{}`},
			{"POST", task + "/submit", ""},
			{"POST", review + "/disputes", `{"reason": "r"}`},
			{"POST", dispute + "/ruling", `{"outcome": "rejected"}`},
		} {
			r := e.call(k, c.method, c.path, c.body)
			if r.status != 404 && r.status != 403 {
				t.Errorf("%.16s %s %s: %d %s", k, c.method, c.path, r.status, r.body)
			}
			if r.status == 404 && r.errCode() != "not_found" {
				t.Errorf("%.16s %s %s: %s", k, c.method, c.path, r.body)
			}
		}
		for _, path := range []string{
			"/api/qa/tasks?state=open,in_review,done", "/api/qa/tasks?agent=ann&state=done", "/api/qa/disputes",
			"/api/qa/quota?day=2026-05-01", "/api/qa/precision", "/api/qa/calibration", "/api/qa/export?format=jsonl",
			"/api/qa/export?format=rego", "/api/qa/export?raw=1", "/api/qa/audit-log",
		} {
			r := e.call(k, "GET", path, "")
			if r.status != 200 && r.status != 403 {
				t.Errorf("%.16s GET %s: %d %s", k, path, r.status, r.body)
			}
			for _, s := range acme {
				if strings.Contains(string(r.body), s) {
					t.Errorf("%.16s GET %s shows %q: %s", k, path, s, r.body)
				}
			}
		}
	}
	var detail qaTaskDetail
	e.ok(keyQAAdmin, "GET", task, "", 200, &detail)
	if detail.Task.State != "done" || detail.Task.Assignee != "qa-li" || len(detail.Disputes) != 1 || detail.Disputes[0].State != "open" {
		t.Errorf("acme's task changed: %+v", detail)
	}
	if n := e.auditCount(); n != before {
		t.Errorf("the audit log grew by %d", n-before)
	}
	var log struct {
		Entries []json.RawMessage `json:"entries"`
	}
	e.ok(keyGlobexAdm, "GET", "/api/qa/audit-log", "", 200, &log)
	if len(log.Entries) != 0 { // its exports found no case: nothing was shown
		t.Errorf("globex's audit log: %s", log.Entries)
	}
}

// TestQAAgent: an agent reads its own conversations' tasks and reviews
// (submitted ones), disputes them, and nothing else of the console.
func TestQAAgent(t *testing.T) {
	e := newQAEnv(t, storetest.DSN(t, "sqlite"), true)
	f := newAttackFixture(t, e)
	tasks := e.tasksOf(keyAgentAnn)
	if len(tasks) != 1 || tasks[0].ID != f.taskA {
		t.Errorf("ann's tasks %+v", tasks)
	}
	if tasks := e.tasksOf(keyAgentBob); len(tasks) != 1 || tasks[0].ID != f.taskB {
		t.Errorf("bob's tasks %+v", tasks)
	}
	wantError(t, "ann lists bob's", e.call(keyAgentAnn, "GET", "/api/qa/tasks?agent=bob", ""), 403, "forbidden")
	wantError(t, "ann lists a team", e.call(keyAgentAnn, "GET", "/api/qa/tasks?team=red", ""), 403, "forbidden")
	wantError(t, "ann reads bob's", e.call(keyAgentAnn, "GET", "/api/qa/tasks/"+itoa(f.taskB), ""), 404, "not_found")
	wantError(t, "bob reads ann's", e.call(keyAgentBob, "GET", "/api/qa/tasks/"+itoa(f.taskA), ""), 404, "not_found")
	var detail qaTaskDetail
	e.ok(keyAgentAnn, "GET", "/api/qa/tasks/"+itoa(f.taskA), "", 200, &detail)
	if detail.Review == nil || len(detail.Disputes) != 1 || strings.Contains(string(detail.Conversation), `"alerts":[{`) {
		t.Errorf("ann's task %+v", detail)
	}
	var l struct {
		Disputes []qaDispute `json:"disputes"`
	}
	e.ok(keyAgentBob, "GET", "/api/qa/disputes", "", 200, &l)
	if len(l.Disputes) != 0 {
		t.Errorf("bob sees disputes %+v", l.Disputes)
	}
	wantError(t, "ann rules on her own", e.call(keyAgentAnn, "POST", "/api/qa/disputes/"+itoa(f.dispute)+"/ruling", `{"outcome": "accepted"}`), 403, "forbidden")
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/qa/tasks/" + itoa(f.taskA) + "/take"},
		{"PUT", "/api/qa/tasks/" + itoa(f.taskA) + "/review"},
		{"POST", "/api/qa/tasks/" + itoa(f.taskA) + "/submit"},
		{"GET", "/api/qa/tasks/" + itoa(f.taskA) + "/raw"},
		{"GET", "/api/qa/quota"}, {"GET", "/api/qa/precision"}, {"GET", "/api/qa/calibration"},
		{"GET", "/api/qa/export"}, {"GET", "/api/qa/audit-log"},
		{"GET", "/api/alerts"}, {"GET", "/api/counters"}, {"GET", "/api/conversations/" + f.convA},
		{"GET", "/api/agents/ann/stats"}, {"GET", "/api/stream"}, {"GET", "/api/dead-letters"},
	} {
		wantError(t, "agent "+c.method+" "+c.path, e.call(keyAgentAnn, c.method, c.path, `{}`), 403, "forbidden")
	}
	var me struct {
		Role        string   `json:"role"`
		AgentID     string   `json:"agent_id"`
		Permissions []string `json:"permissions"`
	}
	e.ok(keyAgentAnn, "GET", "/api/me", "", 200, &me)
	if me.Role != "agent" || me.AgentID != "ann" || me.Permissions == nil || len(me.Permissions) != 0 {
		t.Errorf("ann's /api/me %+v", me)
	}
}

// TestQARawText: the raw text is for the decrypt permission only (403,
// nothing logged without it), needs the console's text key (503), is
// logged before it is shown, and appears in no other answer and in no log
// line.
func TestQARawText(t *testing.T) {
	e := newQAEnv(t, storetest.DSN(t, "sqlite"), true)
	f := newAttackFixture(t, e)
	raw := "/api/qa/tasks/" + itoa(f.taskA) + "/raw"
	before := e.auditCount()
	wantError(t, "the red lead (no decrypt)", e.call(keyLeadRed, "GET", raw, ""), 403, "forbidden")
	wantError(t, "wang (no decrypt)", e.call(keyQAWang, "GET", raw, ""), 403, "forbidden")
	wantError(t, "globex's auditor (decrypt)", e.call(keyGlobexAud, "GET", raw, ""), 404, "not_found")
	wantError(t, "not a task", e.call(keyQALi, "GET", "/api/qa/tasks/999/raw", ""), 404, "not_found")
	if n := e.auditCount(); n != before {
		t.Fatalf("refused reads were logged: %d entries, was %d", n, before)
	}
	var got struct {
		Turns []struct {
			EventID string `json:"event_id"`
			Text    string `json:"text"`
			Error   string `json:"error"`
		} `json:"turns"`
	}
	e.ok(keyQALi, "GET", raw, "", 200, &got)
	if len(got.Turns) != 3 || !strings.Contains(got.Turns[1].Text, rawMarker) || got.Turns[1].EventID != f.eventA || got.Turns[0].Error != "" {
		t.Errorf("raw %+v", got)
	}
	var log struct {
		Entries []struct {
			Actor          string    `json:"actor"`
			Tenant         string    `json:"tenant"`
			Action         string    `json:"action"`
			ConversationID string    `json:"conversation_id"`
			EventIDs       []string  `json:"event_ids"`
			Raw            bool      `json:"raw"`
			At             time.Time `json:"at"`
		} `json:"entries"`
	}
	e.ok(keyQAAdmin, "GET", "/api/qa/audit-log?since=1h", "", 200, &log)
	if len(log.Entries) != before+1 {
		t.Fatalf("audit log %+v", log.Entries)
	}
	if l := log.Entries[0]; l.Actor != "qa-li" || l.Tenant != "acme" || l.Action != "decrypt" || l.ConversationID != f.convA ||
		len(l.EventIDs) != 3 || !slices.Contains(l.EventIDs, f.eventA) || !l.Raw || !l.At.Equal(qaT0) {
		t.Errorf("audit entry %+v", l)
	}
	wantError(t, "an auditor reads the audit log", e.call(keyQALi, "GET", "/api/qa/audit-log", ""), 403, "forbidden")
	wantError(t, "a lead reads the audit log", e.call(keyLeadRed, "GET", "/api/qa/audit-log", ""), 403, "forbidden")

	// Every other answer of every test call, and every log line, is free
	// of raw text.
	for _, a := range e.seen {
		if strings.Contains(string(a.body), rawMarker) && !strings.HasSuffix(a.path, "/raw") {
			t.Errorf("%s %s answers raw text", a.method, a.path)
		}
	}
	if strings.Contains(e.logs.String(), rawMarker) || strings.Contains(e.logs.String(), "13800138000") {
		t.Errorf("the log holds raw text:\n%s", e.logs.String())
	}

	// Without the text key, nothing is shown, nor logged.
	nokey := newQAEnv(t, storetest.DSN(t, "sqlite"), false)
	g := newAttackFixture(t, nokey)
	n := nokey.auditCount()
	wantError(t, "no text key", nokey.call(keyQALi, "GET", "/api/qa/tasks/"+itoa(g.taskA)+"/raw", ""), 503, "unavailable")
	wantError(t, "no text key, export", nokey.call(keyQAAdmin, "GET", "/api/qa/export?raw=1", ""), 503, "unavailable")
	if nokey.auditCount() != n {
		t.Error("a read without a key was logged")
	}
}

// TestQADisabled: without QAOptions the endpoints are not found.
func TestQADisabled(t *testing.T) {
	e := setup(t, testConfig(), nil)
	wantError(t, "no QA", e.do(req{path: "/api/qa/tasks", hdr: key(keyAdminAcme)}), 404, "not_found")
}

// TestAgentCredentials: a key of role agent needs its agent; a token of
// role agent needs its agent claim; the permissions claim keeps the known
// permissions; a JWT's session keeps both.
func TestAgentCredentials(t *testing.T) {
	bad := api.Config{APIKeys: []auth.APIKey{{Name: "a", Tenant: "acme", Role: "agent", Hash: auth.HashKey(keyAgentAnn)}}}
	if err := bad.Validate("auth"); err == nil || !strings.Contains(err.Error(), "auth.api_keys[0].agent") {
		t.Errorf("Validate of an agent key without agent: %v", err)
	}
	cfg := testConfig()
	cfg.JWT.AgentClaim = "agent_id"
	e := setup(t, cfg, nil)
	agent := func(c map[string]any) { c["xunjian_role"] = "agent"; delete(c, "xunjian_teams") }
	tok := token(t, hs256, claims(e.t0, agent), jwtSecret)
	wantError(t, "agent token without agent", e.do(req{path: "/api/me", hdr: bearerHdr(tok)}), 403, "forbidden")
	tok = token(t, hs256, claims(e.t0, agent, set("agent_id", "ann"), set("xunjian_permissions", []string{"decrypt", "other.service"})), jwtSecret)
	var me struct {
		Role        string   `json:"role"`
		AgentID     string   `json:"agent_id"`
		Permissions []string `json:"permissions"`
	}
	r := e.do(req{path: "/api/me", hdr: bearerHdr(tok)})
	if r.status != 200 || json.Unmarshal(r.body, &me) != nil || me.AgentID != "ann" || !slices.Equal(me.Permissions, []string{"decrypt"}) {
		t.Errorf("agent token: %d %s", r.status, r.body)
	}
	wantError(t, "agent token on the wall", e.do(req{path: "/api/alerts", hdr: bearerHdr(tok)}), 403, "forbidden")
	in := e.do(req{method: "POST", path: "/api/session", hdr: bearerHdr(tok)})
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: in.hdr}).Cookies() {
		cookie = c
	}
	if in.status != 200 || cookie == nil {
		t.Fatalf("sign in: %d %s", in.status, in.body)
	}
	r = e.do(req{path: "/api/me", cookie: cookie})
	if r.status != 200 || json.Unmarshal(r.body, &me) != nil || me.AgentID != "ann" || me.Role != "agent" || !slices.Equal(me.Permissions, []string{"decrypt"}) {
		t.Errorf("agent session: %d %s", r.status, r.body)
	}
	// A supervisor's token is no agent, whatever its agent claim.
	tok = token(t, hs256, claims(e.t0, set("agent_id", "ann")), jwtSecret)
	if r := e.do(req{path: "/api/me", hdr: bearerHdr(tok)}); r.status != 200 || json.Unmarshal(r.body, &me) != nil || me.AgentID != "" {
		t.Errorf("supervisor token: %d %s", r.status, r.body)
	}
}
