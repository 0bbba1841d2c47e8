package api_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/store/storetest"
)

// TestQAFlow is the whole of docs/qa.md over HTTP, on SQLite and
// PostgreSQL: sampled events become tasks; an auditor takes one, saves a
// draft and submits it (a confirmed privacy finding fails it
// automatically); the agent disputes it within the window (not after) and
// the lead of its team rules (not the lead of another team); precision per
// rule follows the verdicts and the ruling; the quota report counts
// sampled and reviewed conversations; three auditors calibrate on one
// conversation.
func TestQAFlow(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) { testQAFlow(t, newQAEnv(t, storetest.DSN(t, d), true)) })
	}
}

func testQAFlow(t *testing.T, e *qaEnv) {
	convA, convB, convCal := e.conv("ann", false), e.conv("bob", false), e.conv("cal", true)
	evA := e.sampled("acme", convA, "ann", qaT0.Add(-3*time.Hour), phoneFinding, impatientFinding)
	e.sampled("acme", convB, "bob", qaT0.Add(-2*time.Hour), phoneFinding)
	e.sampled("acme", convCal, "ann", qaT0.Add(-time.Hour), impatientFinding)

	// Tasks: convA to li, convB to wang (in turn), convCal to all three.
	li := e.tasksOf(keyQALi)
	if len(li) != 2 || li[0].ConversationID != convA || li[1].ConversationID != convCal {
		t.Fatalf("li's tasks %+v", li)
	}
	a := li[0]
	if a.Assignee != "qa-li" || a.State != "open" || a.AgentID != "ann" || a.Team != "red" || a.Lang != "zh" ||
		a.Reason != "agent_min" || a.CalibrationGroup != nil || !a.DueAt.Equal(qaT0.Add(48*time.Hour)) || a.Tenant != "acme" {
		t.Errorf("task %+v", a)
	}
	if g := li[1].CalibrationGroup; g == nil || *g == "" {
		t.Errorf("calibration task %+v", li[1])
	}
	convsOf := func(k string) []string {
		var out []string
		for _, t := range e.tasksOf(k) {
			out = append(out, t.ConversationID+"/"+t.Assignee)
		}
		return out
	}
	for k, want := range map[string][]string{
		keyLeadRed:  {convA + "/qa-li", convCal + "/qa-li", convCal + "/qa-wang", convCal + "/qa-zhao"},
		keyLeadBlue: {convB + "/qa-wang"},
		keyQAWang:   {convB + "/qa-wang", convCal + "/qa-wang"},
		keyQAZhao:   {convCal + "/qa-zhao"},
		keyAgentAnn: {convA + "/qa-li", convCal + "/qa-li", convCal + "/qa-wang", convCal + "/qa-zhao"},
		keyAgentBob: {convB + "/qa-wang"},
	} {
		if got := convsOf(k); !slices.Equal(got, want) {
			t.Errorf("tasks of %.18s: %q, want %q", k, got, want)
		}
	}
	var mine qaTaskList
	e.ok(keyQAWang, "GET", "/api/qa/tasks?assignee=me&team=red", "", 200, &mine)
	if len(mine.Tasks) != 1 || mine.Tasks[0].ConversationID != convCal {
		t.Errorf("wang's red tasks %+v", mine.Tasks)
	}

	// Take: only an auditor (or an admin), only its own or an unassigned task.
	taskA := "/api/qa/tasks/" + itoa(a.ID)
	wantError(t, "wang takes li's", e.call(keyQAWang, "POST", taskA+"/take", ""), 404, "not_found")
	wantError(t, "a lead takes", e.call(keyLeadRed, "POST", taskA+"/take", ""), 403, "forbidden")
	var taken qaTask
	e.ok(keyQALi, "POST", taskA+"/take", "", 200, &taken)
	if taken.State != "in_review" || taken.Assignee != "qa-li" {
		t.Errorf("taken %+v", taken)
	}

	var detail qaTaskDetail
	e.ok(keyQALi, "GET", taskA, "", 200, &detail)
	if detail.Task.ID != a.ID || detail.Review != nil || len(detail.Scorecard.Categories) != 2 || detail.Disputes == nil ||
		!strings.Contains(string(detail.Conversation), "138****8000") || strings.Contains(string(detail.Conversation), rawMarker) {
		t.Errorf("task detail %+v", detail)
	}

	// The draft: refused when it names what is not there.
	draft := evA[1].EventID
	for name, body := range map[string]string{
		"unknown category": `{"categories": {"speed": 1}}`,
		"score above 1":    `{"categories": {"courtesy": 2}}`,
		"unknown item":     `{"auto_fail": ["nope"]}`,
		"other event":      `{"verdicts": [{"event_id": "nope", "finding_index": 0, "verdict": "correct"}]}`,
		"no such finding":  `{"verdicts": [{"event_id": "` + draft + `", "finding_index": 5, "verdict": "correct"}]}`,
		"bad verdict":      `{"verdicts": [{"event_id": "` + draft + `", "finding_index": 0, "verdict": "meh"}]}`,
		"wrong kind bare":  `{"verdicts": [{"event_id": "` + draft + `", "finding_index": 0, "verdict": "wrong_kind"}]}`,
		"missed kind":      `{"missed": [{"event_id": "` + draft + `", "start": 0, "end": 2, "kind": "Email"}]}`,
		"unknown field":    `{"score": 100}`,
	} {
		wantError(t, name, e.call(keyQALi, "PUT", taskA+"/review", body), 400, "bad_request")
	}
	wantError(t, "wang's draft", e.call(keyQAWang, "PUT", taskA+"/review", `{}`), 404, "not_found")
	wantError(t, "submit without a draft", e.call(keyQALi, "POST", taskA+"/submit", ""), 422, "invalid_transition")
	body := fmt.Sprintf(`{"categories": {"courtesy": 1, "accuracy": 0.5}, "note": "phone number given out",
		"verdicts": [{"event_id": %q, "finding_index": 0, "verdict": "correct"},
		             {"event_id": %q, "finding_index": 1, "verdict": "false_positive", "kind": "ignored"}],
		"missed": [{"event_id": %q, "start": 10, "end": 19, "kind": "privacy.email", "note": "an address"}]}`, draft, draft, evA[2].EventID)
	var saved qaTaskReview
	e.ok(keyQALi, "PUT", taskA+"/review", body, 200, &saved)
	rv := saved.Review
	if rv.Version != 1 || rv.Score != nil || rv.SubmittedAt != nil || len(rv.Verdicts) != 2 || len(rv.Missed) != 1 ||
		rv.Verdicts[0].Rule != "privacy.phone" || rv.Verdicts[0].Lexicon != "privacy.zh" || rv.Verdicts[0].Kind != "privacy.phone" ||
		rv.Verdicts[1].Kind != "tone.impatient" || rv.Auditor != "qa-li" || saved.Task.State != "in_review" {
		t.Errorf("draft %+v", saved)
	}
	// The agent does not see a draft.
	e.ok(keyAgentAnn, "GET", taskA, "", 200, &detail)
	if detail.Review != nil {
		t.Errorf("the agent sees the draft: %+v", detail.Review)
	}

	// Submit: the confirmed phone number fails the review automatically.
	wantError(t, "submit an old version", e.call(keyQALi, "POST", taskA+"/submit", `{"version": 7}`), 409, "conflict")
	var submitted qaTaskReview
	e.ok(keyQALi, "POST", taskA+"/submit", `{"version": 1}`, 200, &submitted)
	rv = submitted.Review
	if submitted.Task.State != "done" || rv.Score == nil || *rv.Score != 0 || rv.AutoScore == nil || *rv.AutoScore != 50 || rv.SubmittedAt == nil {
		t.Errorf("submitted %+v (score %v, auto %v)", submitted, rv.Score, rv.AutoScore)
	}
	wantError(t, "submit twice", e.call(keyQALi, "POST", taskA+"/submit", ""), 422, "invalid_transition")
	wantError(t, "edit after", e.call(keyQALi, "PUT", taskA+"/review", `{}`), 422, "invalid_transition")
	metrics := string(e.ok("", "GET", "/metrics", "", 200, nil).body)
	for _, want := range []string{
		`xunjian_console_qa_verdicts_total{rule="privacy.phone",verdict="correct"} 1`,
		`xunjian_console_qa_verdicts_total{rule="tone.impatient.zh",verdict="false_positive"} 1`,
		`xunjian_console_qa_missed_total{kind="privacy.email"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	var prec qaPrecision
	e.ok(keyQALi, "GET", "/api/qa/precision?since=30d", "", 200, &prec)
	if r := prec.row("rule", "privacy.phone"); r.Correct != 1 || r.Precision == nil || *r.Precision != 1 || len(r.Days) != 1 {
		t.Errorf("precision of privacy.phone %+v", r)
	}
	if r := prec.row("rule", "tone.impatient.zh"); r.FalsePositive != 1 || r.Precision == nil || *r.Precision != 0 {
		t.Errorf("precision of tone.impatient.zh %+v", r)
	}
	if r := prec.row("lexicon", "privacy.zh"); r.Correct != 1 {
		t.Errorf("precision of lexicon privacy.zh %+v", r)
	}
	if r := prec.row("kind", "privacy.email"); r.Missed != 1 || r.Precision != nil {
		t.Errorf("missed privacy.email %+v", r)
	}

	// Disputes: the task's agent or its team's lead, within the window.
	e.ok(keyAgentAnn, "GET", taskA, "", 200, &detail)
	if detail.Review == nil || detail.Review.ID != rv.ID || *detail.Review.Score != 0 {
		t.Fatalf("the agent's view of the review: %+v", detail.Review)
	}
	disputes := "/api/qa/reviews/" + itoa(rv.ID) + "/disputes"
	phone := fmt.Sprintf(`{"finding": {"event_id": %q, "index": 0}, "reason": "the company hotline, not a customer's number"}`, draft)
	wantError(t, "bob disputes ann's", e.call(keyAgentBob, "POST", disputes, phone), 404, "not_found")
	wantError(t, "the blue lead disputes", e.call(keyLeadBlue, "POST", disputes, phone), 404, "not_found")
	wantError(t, "an auditor disputes", e.call(keyQALi, "POST", disputes, phone), 403, "forbidden")
	wantError(t, "no reason", e.call(keyAgentAnn, "POST", disputes, `{"reason": " "}`), 400, "bad_request")
	wantError(t, "a finding that is not", e.call(keyAgentAnn, "POST", disputes, `{"finding": {"event_id": "x", "index": 0}, "reason": "r"}`), 400, "bad_request")
	var d qaDispute
	e.ok(keyAgentAnn, "POST", disputes, phone, 201, &d)
	if d.State != "open" || d.By != "ann-key" || d.ByRole != "agent" || d.Finding == nil || d.Finding.EventID != draft || d.ReviewID != rv.ID ||
		d.TaskID != a.ID || d.RuledAt != nil {
		t.Errorf("dispute %+v", d)
	}
	wantError(t, "the same again", e.call(keyAgentAnn, "POST", disputes, phone), 409, "conflict")
	for k, want := range map[string]int{keyAgentAnn: 1, keyAgentBob: 0, keyLeadRed: 1, keyLeadBlue: 0, keyQALi: 1, keyQAZhao: 0, keyQAAdmin: 1} {
		var l struct {
			Disputes []qaDispute `json:"disputes"`
		}
		e.ok(k, "GET", "/api/qa/disputes?state=open", "", 200, &l)
		if len(l.Disputes) != want {
			t.Errorf("open disputes of %.18s: %d, want %d", k, len(l.Disputes), want)
		}
	}

	// The ruling: the lead of the task's team, not another's.
	ruling := "/api/qa/disputes/" + itoa(d.ID) + "/ruling"
	wantError(t, "the blue lead rules", e.call(keyLeadBlue, "POST", ruling, `{"outcome": "accepted"}`), 404, "not_found")
	wantError(t, "the agent rules", e.call(keyAgentAnn, "POST", ruling, `{"outcome": "accepted"}`), 403, "forbidden")
	wantError(t, "an auditor rules", e.call(keyQALi, "POST", ruling, `{"outcome": "accepted"}`), 403, "forbidden")
	wantError(t, "no outcome", e.call(keyLeadRed, "POST", ruling, `{"outcome": "open"}`), 400, "bad_request")
	e.ok(keyLeadRed, "POST", ruling, `{"outcome": "accepted", "note": "it is the hotline"}`, 200, &d)
	if d.State != "accepted" || d.RuledBy != "lead-red" || d.RulingNote != "it is the hotline" || d.RuledAt == nil {
		t.Errorf("ruled %+v", d)
	}
	wantError(t, "ruled twice", e.call(keyLeadRed, "POST", ruling, `{"outcome": "rejected"}`), 422, "invalid_transition")
	if !strings.Contains(string(e.ok("", "GET", "/metrics", "", 200, nil).body), `xunjian_console_qa_disputes_total{outcome="accepted"} 1`) {
		t.Error("/metrics does not count the accepted dispute")
	}
	// The overturned verdict leaves precision.
	e.ok(keyLeadRed, "GET", "/api/qa/precision", "", 200, &prec)
	if r := prec.row("rule", "privacy.phone"); r.Correct != 0 || r.Precision != nil || r.Disputes["accepted"] != 1 {
		t.Errorf("precision of privacy.phone after the ruling %+v", r)
	}
	if r := prec.row("rule", "tone.impatient.zh"); r.FalsePositive != 1 {
		t.Errorf("precision of tone.impatient.zh after the ruling %+v", r)
	}

	// After the window, no dispute.
	e.clock.Add(7*24*time.Hour + time.Second)
	wantError(t, "after the window", e.call(keyAgentAnn, "POST", disputes, `{"reason": "too late"}`), 422, "invalid_transition")
	wantError(t, "after the window, the lead", e.call(keyLeadRed, "POST", disputes, `{"reason": "too late"}`), 422, "invalid_transition")

	// Quota: ann had two conversations sampled that day, one reviewed.
	type quota struct {
		Day     string `json:"day"`
		Minimum int    `json:"minimum"`
		Agents  []struct {
			AgentID  string `json:"agent_id"`
			Team     string `json:"team"`
			Sampled  int    `json:"sampled"`
			Reviewed int    `json:"reviewed"`
			Minimum  int    `json:"minimum"`
			Met      bool   `json:"met"`
		} `json:"agents"`
	}
	var qr quota
	e.ok(keyLeadRed, "GET", "/api/qa/quota?day=2026-05-01", "", 200, &qr)
	if qr.Day != "2026-05-01" || qr.Minimum != 2 || len(qr.Agents) != 1 || qr.Agents[0].AgentID != "ann" || qr.Agents[0].Sampled != 2 ||
		qr.Agents[0].Reviewed != 1 || qr.Agents[0].Met || qr.Agents[0].Team != "red" {
		t.Errorf("the red lead's quota %+v", qr)
	}
	e.ok(keyQAAdmin, "GET", "/api/qa/quota?day=2026-05-01", "", 200, &qr)
	if len(qr.Agents) != 2 || qr.Agents[1].AgentID != "bob" || qr.Agents[1].Sampled != 1 || qr.Agents[1].Reviewed != 0 {
		t.Errorf("the admin's quota %+v", qr)
	}
	wantError(t, "a bad day", e.call(keyLeadRed, "GET", "/api/qa/quota?day=May", ""), 400, "bad_request")
	wantError(t, "an auditor's quota", e.call(keyQALi, "GET", "/api/qa/quota", ""), 403, "forbidden")

	// Calibration: three auditors review convCal.
	scores := map[string][2]float64{keyQALi: {1, 1}, keyQAWang: {1, 0.5}, keyQAZhao: {0, 0.5}}
	for _, k := range []string{keyQALi, keyQAWang, keyQAZhao} {
		var ct qaTask
		for _, t := range e.tasksOf(k) {
			if t.ConversationID == convCal {
				ct = t
			}
		}
		path := "/api/qa/tasks/" + itoa(ct.ID)
		e.ok(k, "POST", path+"/take", "", 200, nil)
		s := scores[k]
		e.ok(k, "PUT", path+"/review", fmt.Sprintf(`{"categories": {"courtesy": %v, "accuracy": %v}}`, s[0], s[1]), 200, nil)
		e.ok(k, "POST", path+"/submit", "", 200, nil)
	}
	var cal struct {
		Groups []struct {
			Group          string `json:"group"`
			ConversationID string `json:"conversation_id"`
			Categories     map[string]struct {
				Scores map[string]float64 `json:"scores"`
				Median float64            `json:"median"`
				Spread float64            `json:"spread"`
			} `json:"categories"`
			Score struct {
				Median float64 `json:"median"`
			} `json:"score"`
		} `json:"groups"`
		Auditors []struct {
			Auditor     string         `json:"auditor"`
			Reviews     int            `json:"reviews"`
			Groups      int            `json:"groups"`
			MeanAbsDiff *float64       `json:"mean_abs_diff"`
			Agreement   *float64       `json:"agreement"`
			Disputes    map[string]int `json:"disputes"`
		} `json:"auditors"`
	}
	e.ok(keyLeadRed, "GET", "/api/qa/calibration?since=30d", "", 200, &cal)
	if len(cal.Groups) != 1 || cal.Groups[0].ConversationID != convCal || cal.Groups[0].Categories["courtesy"].Median != 1 ||
		cal.Groups[0].Categories["courtesy"].Spread != 1 || cal.Groups[0].Categories["accuracy"].Scores["qa-zhao"] != 0.5 ||
		cal.Groups[0].Score.Median != 62.5 {
		t.Errorf("calibration groups %+v", cal.Groups)
	}
	mad := map[string]float64{"qa-li": 0.25, "qa-wang": 0, "qa-zhao": 0.5}
	for _, au := range cal.Auditors {
		if au.MeanAbsDiff == nil || math.Abs(*au.MeanAbsDiff-mad[au.Auditor]) > 1e-9 || math.Abs(*au.Agreement+*au.MeanAbsDiff-1) > 1e-9 {
			t.Errorf("auditor %+v", au)
		}
		if au.Auditor == "qa-li" && (au.Reviews != 2 || au.Groups != 1 || au.Disputes["accepted"] != 1) {
			t.Errorf("qa-li %+v", au)
		}
	}
	if len(cal.Auditors) != 3 {
		t.Errorf("calibration auditors %+v", cal.Auditors)
	}
	wantError(t, "an auditor's calibration", e.call(keyQALi, "GET", "/api/qa/calibration", ""), 403, "forbidden")
}

// TestQAExportFeedsReplayAndOPA: the compliance team's workflow. A
// reviewed conversation is exported as JSON lines, which `xunjian replay`
// runs through the default bundle, and as Rego tests, which the bundle's
// test runner runs beside a copy of the default bundle: the false
// positive's test fails on the current policy and passes once the tenant's
// action for that kind is allow; the miss's test fails on both (it needs a
// detector). Raw exports are for the decrypt permission and are logged.
func TestQAExportFeedsReplayAndOPA(t *testing.T) {
	e := newQAEnv(t, storetest.DSN(t, "sqlite"), true)
	conv := e.conv("exp", false)
	evs := e.sampled("acme", conv, "ann", qaT0.Add(-time.Hour), phoneFinding, impatientFinding)
	task := e.taskOf(keyQALi, conv)
	path := "/api/qa/tasks/" + itoa(task.ID)
	e.ok(keyQALi, "PUT", path+"/review", fmt.Sprintf(`{"categories": {"courtesy": 1, "accuracy": 1},
		"verdicts": [{"event_id": %q, "finding_index": 0, "verdict": "false_positive"}, {"event_id": %q, "finding_index": 1, "verdict": "false_positive"}],
		"missed": [{"event_id": %q, "start": 10, "end": 19, "kind": "privacy.email"}]}`, evs[1].EventID, evs[1].EventID, evs[2].EventID), 200, nil)
	e.ok(keyQALi, "POST", path+"/submit", "", 200, nil)
	before := e.auditCount()

	jsonl := e.ok(keyLeadRed, "GET", "/api/qa/export?since=30d&verdict=false_positive&format=jsonl", "", 200, nil)
	if ct := jsonl.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") || jsonl.hdr.Get("X-Xunjian-Export-Cases") != "1" {
		t.Errorf("jsonl export: %q, %v", ct, jsonl.hdr)
	}
	if lines := strings.Count(string(jsonl.body), "\n"); lines != 3 || strings.Contains(string(jsonl.body), rawMarker) {
		t.Errorf("jsonl export, %d lines:\n%s", lines, jsonl.body)
	}
	if e.auditCount() != before+1 {
		t.Errorf("the export was not logged")
	}
	runReplay(t, jsonl.body, 3)

	rego := e.ok(keyLeadRed, "GET", "/api/qa/export?verdict=all&format=rego", "", 200, nil)
	if !strings.Contains(string(rego.body), "package xunjian_test.qa") || strings.Contains(string(rego.body), rawMarker) {
		t.Fatalf("rego export:\n%s", rego.body)
	}
	results := runBundleTests(t, rego.body, nil)
	fpPhone := fmt.Sprintf("test_false_positive_review%d_%s_finding0", 1, identifier(evs[1].EventID))
	fpImpatient := strings.Replace(fpPhone, "finding0", "finding1", 1)
	missed := "test_missed_review1_0"
	for name, pass := range map[string]bool{fpPhone: false, fpImpatient: false, missed: false} {
		if got, ok := results[name]; !ok || got != pass {
			t.Errorf("current policy: %s passed=%v (found %v), want %v; results %v", name, got, ok, pass, results)
		}
	}
	if results["test_kind_actions"] != true {
		t.Errorf("the bundle's own tests fail beside the export: %v", results)
	}
	// The compliance team allows tone.impatient for acme: that false
	// positive's test passes; the phone one and the miss still fail.
	results = runBundleTests(t, rego.body, func(data map[string]any) {
		data["tenants"] = map[string]any{"acme": map[string]any{"actions": map[string]any{"tone.impatient": "allow"}}}
	})
	for name, pass := range map[string]bool{fpPhone: false, fpImpatient: true, missed: false} {
		if got, ok := results[name]; !ok || got != pass {
			t.Errorf("changed policy: %s passed=%v (found %v), want %v", name, got, ok, pass)
		}
	}

	// Raw: only with decrypt, and logged as raw.
	wantError(t, "a raw export without decrypt", e.call(keyLeadRed, "GET", "/api/qa/export?raw=1", ""), 403, "forbidden")
	n := e.auditCount()
	raw := e.ok(keyQAAdmin, "GET", "/api/qa/export?raw=1&format=jsonl", "", 200, nil)
	if !strings.Contains(string(raw.body), rawMarker) || raw.hdr.Get("X-Xunjian-Export-Raw") != "opened=3 failed=0" {
		t.Errorf("raw export (%v):\n%s", raw.hdr, raw.body)
	}
	var log struct {
		Entries []struct {
			Actor    string   `json:"actor"`
			Action   string   `json:"action"`
			Raw      bool     `json:"raw"`
			EventIDs []string `json:"event_ids"`
		} `json:"entries"`
	}
	e.ok(keyQAAdmin, "GET", "/api/qa/audit-log", "", 200, &log)
	if len(log.Entries) != n+1 || log.Entries[0].Actor != "admin" || log.Entries[0].Action != "export" || !log.Entries[0].Raw ||
		len(log.Entries[0].EventIDs) != 3 {
		t.Errorf("audit log %+v", log.Entries)
	}
	runReplay(t, raw.body, 3)
	for _, bad := range []string{"?format=csv", "?verdict=some", "?since=soon", "?raw=maybe"} {
		wantError(t, bad, e.call(keyQAAdmin, "GET", "/api/qa/export"+bad, ""), 400, "bad_request")
	}
}

// identifier is qa's identifier: a Rego identifier's part of s.
func identifier(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}
