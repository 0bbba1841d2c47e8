package qa

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/sampling"
)

// TestPositionIsTheGateways: the console's hash is the gateway's, salt and
// all: a conversation is hash-sampled by the gateway exactly when the
// planner says so.
func TestPositionIsTheGateways(t *testing.T) {
	const rate, seed = 0.3, "gateway-salt"
	s, err := sampling.New(sampling.Config{Rate: rate, Seed: seed, HighRiskAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlanner(Config{Sampling: Sampling{Rate: rate, Seed: seed, HighRiskAt: 1}, AgentDailyMin: 1 << 30})
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	hashed := 0
	for i := range 2000 {
		conv := fmt.Sprintf("conv-%d", i)
		sampled, reason := s.Decide("acme", conv, "", 0, false, now)
		plan := p.PlanTasks(store.SampledConversation{Tenant: "acme", ConversationID: conv, TS: now})
		if sampled != (reason == sampling.ReasonHash) || sampled != (plan.Reason == store.ReasonHash) {
			t.Fatalf("%s: the gateway says %v (%s), the planner %s", conv, sampled, reason, plan.Reason)
		}
		if sampled {
			hashed++
		}
	}
	if hashed < 500 || hashed > 700 {
		t.Errorf("%d of 2000 hash-sampled at rate %v", hashed, rate)
	}
}

// TestPlannerReasons: the reason a task gives, in the gateway's order.
func TestPlannerReasons(t *testing.T) {
	mirror := Sampling{Rate: 0.5, Seed: "s", HighRiskAt: 0.8}
	var inShare, outShare string // conversations in and out of the hashed share
	for i := 0; inShare == "" || outShare == ""; i++ {
		c := fmt.Sprint("c", i)
		if u, _ := position("s", "acme", c); u < 0.5 {
			inShare = c
		} else {
			outShare = c
		}
	}
	for _, tc := range []struct {
		name   string
		mirror Sampling
		conv   string
		risk   float64
		today  int
		want   string
	}{
		{"high risk first", mirror, inShare, 0.8, 0, store.ReasonHighRisk},
		{"hash", mirror, inShare, 0.1, 0, store.ReasonHash},
		{"agent minimum", mirror, outShare, 0.1, 1, store.ReasonAgentMin},
		{"policy", mirror, outShare, 0.1, 2, store.ReasonPolicy},
		{"no mirror: minimum", Sampling{HighRiskAt: 0.8}, inShare, 0.1, 0, store.ReasonAgentMin},
		{"no mirror: hash or policy", Sampling{HighRiskAt: 0.8}, outShare, 0.1, 5, store.ReasonHash},
	} {
		p := NewPlanner(Config{Sampling: tc.mirror})
		got := p.PlanTasks(store.SampledConversation{Tenant: "acme", ConversationID: tc.conv, Risk: tc.risk, AgentSampledToday: tc.today})
		if got.Reason != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got.Reason, tc.want)
		}
	}
}

// TestPlannerAssignment: the first matching rule's auditors, else the
// tenant's; calibration for the hashed share, apart from the sampling
// hash even with the same salt.
func TestPlannerAssignment(t *testing.T) {
	c := Config{
		Auditors: map[string][]string{"acme": {"li", "wang"}},
		Assignment: map[string][]Rule{"acme": {
			{Teams: []string{"red"}, Langs: []string{"en"}, Auditors: []string{"zhao"}},
			{MinRisk: 0.5, Auditors: []string{"qian", "sun"}},
			{Teams: []string{""}, Auditors: []string{"zhou"}},
		}},
	}
	p := NewPlanner(c)
	for _, tc := range []struct {
		team, text string
		risk       float64
		want       string
	}{
		{"red", "hello", 0, "zhao"},
		{"red", "你好", 0, "li,wang"},
		{"blue", "hello", 0.6, "qian,sun"},
		{"", "hello", 0.1, "zhou"},
	} {
		plan := p.PlanTasks(store.SampledConversation{Tenant: "acme", Team: tc.team, TextMasked: tc.text, Risk: tc.risk})
		if got := strings.Join(plan.Pool, ","); got != tc.want || plan.Due != DefaultDue || plan.Calibration != nil {
			t.Errorf("%+v: %+v, want pool %s", tc, plan, tc.want)
		}
	}
	if plan := p.PlanTasks(store.SampledConversation{Tenant: "globex"}); plan.Pool != nil {
		t.Errorf("globex: %+v", plan)
	}

	c.Calibration = Calibration{Rate: 0.5, Seed: "same", Auditors: map[string][]string{"acme": {"li", "wang", "zhao"}, "solo": {"x"}}}
	c.Sampling = Sampling{Rate: 0.5, Seed: "same"}
	p = NewPlanner(c)
	both, calibrated, groups := 0, 0, map[string]bool{}
	for i := range 2000 {
		conv := fmt.Sprint("conv-", i)
		plan := p.PlanTasks(store.SampledConversation{Tenant: "acme", ConversationID: conv, AgentSampledToday: 10})
		if plan.Calibration == nil {
			continue
		}
		calibrated++
		if strings.Join(plan.Calibration, ",") != "li,wang,zhao" || plan.Pool != nil || !strings.HasPrefix(plan.CalibrationGroup, "cal-") {
			t.Fatalf("calibration plan %+v", plan)
		}
		groups[plan.CalibrationGroup] = true
		if plan.Reason == store.ReasonHash {
			both++
		}
		if again := p.PlanTasks(store.SampledConversation{Tenant: "acme", ConversationID: conv}); again.CalibrationGroup != plan.CalibrationGroup {
			t.Fatalf("%s: group %s, then %s", conv, plan.CalibrationGroup, again.CalibrationGroup)
		}
	}
	if calibrated < 850 || calibrated > 1150 || len(groups) != calibrated {
		t.Errorf("%d calibrated, %d groups, of 2000 at rate 0.5", calibrated, len(groups))
	}
	// Independent of the sampling hash: about a quarter are both, not a half.
	if both < 380 || both > 620 {
		t.Errorf("%d of 2000 both hash-sampled and calibrated: the hashes are not independent", both)
	}
	if plan := p.PlanTasks(store.SampledConversation{Tenant: "solo", ConversationID: "c"}); plan.Calibration != nil {
		t.Errorf("one calibration auditor: %+v", plan)
	}
}

// TestDetectLang tells Chinese, English and neither.
func TestDetectLang(t *testing.T) {
	for text, want := range map[string]string{
		"您好，请问有什么可以帮您": "zh", "Call me at 138****0000": "en", "OK 好的": "zh", "138****0000": "", "": "", "Ça va": "en",
	} {
		if got := DetectLang(text); got != want {
			t.Errorf("DetectLang(%q) = %q, want %q", text, got, want)
		}
	}
}

// TestScore: the weighted score, auto-fail by a ticked item or by a
// confirmed finding of its kinds, and what cannot be scored.
func TestScore(t *testing.T) {
	sc := Scorecard{
		Categories: []Category{{ID: "a", Name: Name{En: "A"}, Weight: 1}, {ID: "b", Name: Name{En: "B"}, Weight: 3}},
		AutoFail:   []AutoFailItem{{ID: "leak", Name: Name{En: "Leak"}, Kinds: []string{"privacy.*"}}, {ID: "pay", Name: Name{En: "Pay"}, Kinds: []string{"diversion.payment"}}},
	}
	cats := map[string]float64{"a": 1, "b": 0.5}
	verdict := func(kind string, v store.Verdict) []store.FindingVerdict {
		return []store.FindingVerdict{{Kind: kind, Verdict: v}}
	}
	for _, tc := range []struct {
		name    string
		rv      store.Review
		want    float64
		failed  string
		wantErr string
	}{
		{"weighted", store.Review{Categories: cats}, 62.5, "", ""},
		{"perfect", store.Review{Categories: map[string]float64{"a": 1, "b": 1}}, 100, "", ""},
		{"ticked", store.Review{Categories: cats, AutoFail: []string{"pay"}}, 0, "pay", ""},
		{"confirmed privacy", store.Review{Categories: cats, Verdicts: verdict("privacy.phone", store.VerdictCorrect)}, 0, "leak", ""},
		{"false positive privacy", store.Review{Categories: cats, Verdicts: verdict("privacy.phone", store.VerdictFalsePositive)}, 62.5, "", ""},
		{"confirmed other", store.Review{Categories: cats, Verdicts: verdict("diversion.contact", store.VerdictCorrect)}, 62.5, "", ""},
		{"unscored", store.Review{Categories: map[string]float64{"a": 1}}, 0, "", `"b" is not scored`},
		{"unknown category", store.Review{Categories: map[string]float64{"a": 1, "b": 1, "c": 1}}, 0, "", `"c" is not a category`},
		{"out of range", store.Review{Categories: map[string]float64{"a": 1.5, "b": 1}}, 0, "", "want a score in [0, 1]"},
		{"unknown item", store.Review{Categories: cats, AutoFail: []string{"nope"}}, 0, "", `"nope" is not an auto-fail item`},
	} {
		got, failed, err := sc.Score(tc.rv)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %v, %v; want an error with %q", tc.name, got, err, tc.wantErr)
			}
		case err != nil || got != tc.want || strings.Join(failed, ",") != tc.failed:
			t.Errorf("%s: %v %q, %v; want %v %q", tc.name, got, failed, err, tc.want, tc.failed)
		}
	}
}

// TestAutoScore: the share of agent drafts released without a finding.
func TestAutoScore(t *testing.T) {
	c := store.Conversation{Turns: []store.Turn{
		{EventID: "1", Role: event.RoleAgent, Action: "allow"},
		{EventID: "2", Role: event.RoleAgent, Action: "redact", Findings: []event.Finding{{Kind: "phone"}}},
		{EventID: "3", Role: event.RoleCustomer},
		{EventID: "4", Role: event.RoleAgent, Action: "block"},
		{Role: event.RoleAgent, Action: "allow"}, // context only
	}}
	if got := AutoScore(c); math.Abs(got-33.33) > 1e-9 {
		t.Errorf("AutoScore = %v, want 33.33", got)
	}
	if got := AutoScore(store.Conversation{}); got != 100 {
		t.Errorf("AutoScore of nothing = %v", got)
	}
}

// TestConfig: the defaults, the file's form, and every mistake refused
// naming its field.
func TestConfig(t *testing.T) {
	var c Config
	c.Defaults()
	if c.Due.D() != 48*time.Hour || c.DisputeWindow.D() != 7*24*time.Hour || c.AgentDailyMin != 2 || c.Sampling.HighRiskAt != 0.8 {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate("qa"); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	if sc := c.Scorecard("anyone"); sc.Validate("x") != nil || len(sc.Categories) == 0 {
		t.Errorf("default scorecard %+v: %v", sc, sc.Validate("x"))
	}
	var fromFile Config
	if err := yaml.Unmarshal([]byte(`
auditors: {acme: [li]}
assignment: {acme: [{teams: [red], min_risk: 0.5, auditors: [wang]}]}
due: 24h
dispute_window: 72h
scorecards: {acme: {categories: [{id: x, name: {zh: 甲}, weight: 2}], auto_fail: [{id: f, name: {en: F}, kinds: ["privacy.*"]}]}}
`), &fromFile); err != nil {
		t.Fatal(err)
	}
	fromFile.Defaults()
	if err := fromFile.Validate("qa"); err != nil || fromFile.Due.D() != 24*time.Hour || fromFile.Scorecard("acme").Categories[0].Weight != 2 {
		t.Errorf("from a file: %+v, %v", fromFile, err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"negative due", func(c *Config) { c.Due = -1 }, "qa.due"},
		{"empty auditor", func(c *Config) { c.Auditors = map[string][]string{"acme": {""}} }, "qa.auditors.acme[0]"},
		{"auditor twice", func(c *Config) { c.Auditors = map[string][]string{"acme": {"li", "li"}} }, "listed twice"},
		{"rule without auditors", func(c *Config) { c.Assignment = map[string][]Rule{"acme": {{}}} }, "qa.assignment.acme[0].auditors"},
		{"rule risk", func(c *Config) { c.Assignment = map[string][]Rule{"acme": {{MinRisk: 2, Auditors: []string{"x"}}}} }, "min_risk"},
		{"calibration rate", func(c *Config) { c.Calibration.Rate = 1.5 }, "qa.calibration.rate"},
		{"one calibration auditor", func(c *Config) { c.Calibration.Auditors = map[string][]string{"acme": {"li"}} }, "at least 2"},
		{"calibration seed env", func(c *Config) { c.Calibration.SeedEnv = "not a name" }, "qa.calibration.seed_env"},
		{"no category", func(c *Config) { c.Scorecards = map[string]Scorecard{"acme": {}} }, "qa.scorecards.acme.categories"},
		{"zero weight", func(c *Config) {
			c.Scorecards = map[string]Scorecard{"acme": {Categories: []Category{{ID: "a", Name: Name{En: "A"}}}}}
		}, "weight"},
		{"bad id", func(c *Config) {
			c.Scorecards = map[string]Scorecard{"acme": {Categories: []Category{{ID: "A B", Name: Name{En: "A"}, Weight: 1}}}}
		}, "id"},
		{"id twice", func(c *Config) {
			c.Scorecards = map[string]Scorecard{"acme": {Categories: []Category{{ID: "a", Name: Name{En: "A"}, Weight: 1}},
				AutoFail: []AutoFailItem{{ID: "a", Name: Name{En: "A"}}}}}
		}, "used twice"},
		{"bad pattern", func(c *Config) {
			c.Scorecards = map[string]Scorecard{"acme": {Categories: []Category{{ID: "a", Name: Name{En: "A"}, Weight: 1}},
				AutoFail: []AutoFailItem{{ID: "f", Name: Name{En: "F"}, Kinds: []string{"privacy.["}}}}}
		}, "kinds[0]"},
		{"sampling rate", func(c *Config) { c.Sampling.Rate = -0.1 }, "qa.sampling.rate"},
		{"high risk", func(c *Config) { c.Sampling.HighRiskAt = 1.5 }, "qa.sampling.high_risk_at"},
		{"key without id", func(c *Config) { c.TextKeyEnv = "XJ_TEXT_KEY" }, "set both"},
		{"key env name", func(c *Config) { c.TextKeyEnv, c.TextKeyID = "a key", "k1" }, "qa.text_key_env"},
		{"negative minimum", func(c *Config) { c.AgentDailyMin = -1 }, "qa.agent_daily_min"},
	} {
		var c Config
		c.Defaults()
		tc.mod(&c)
		if err := c.Validate("qa"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

// TestSecrets: the salts and the text key come from the environment; an
// empty variable is refused, and no error holds the key.
func TestSecrets(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	env := map[string]string{"SEED": "salt", "KEY": key, "SHORT": "c2hvcnQ="}
	getenv := func(k string) string { return env[k] }
	c := Config{Calibration: Calibration{SeedEnv: "SEED"}, Sampling: Sampling{SeedEnv: "SEED"}, TextKeyEnv: "KEY", TextKeyID: "k1"}
	if err := c.ReadSecrets(getenv); err != nil || c.Calibration.Seed != "salt" || c.Sampling.Seed != "salt" {
		t.Errorf("ReadSecrets: %+v, %v", c, err)
	}
	enc, err := c.TextKey(getenv)
	if err != nil || enc == nil || enc.KeyID() != "k1" {
		t.Errorf("TextKey: %v, %v", enc, err)
	}
	if enc, err := (&Config{}).TextKey(getenv); enc != nil || err != nil {
		t.Errorf("no key configured: %v, %v", enc, err)
	}
	if err := (&Config{Sampling: Sampling{SeedEnv: "UNSET"}}).ReadSecrets(getenv); err == nil || !strings.Contains(err.Error(), "qa.sampling.seed_env") {
		t.Errorf("an unset seed: %v", err)
	}
	for _, name := range []string{"UNSET", "SHORT"} {
		_, err := (&Config{TextKeyEnv: name, TextKeyID: "k1"}).TextKey(getenv)
		if err == nil || !strings.Contains(err.Error(), "qa.text_key_env") || env[name] != "" && strings.Contains(err.Error(), env[name]) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// exportCase is a reviewed conversation for the export tests: a customer
// message, an agent draft with a phone finding judged a false positive and
// an email missed.
func exportCase(t *testing.T, enc *event.Encryptor) store.ExportCase {
	t.Helper()
	ts := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	phone := event.Finding{Detector: "privacy", Kind: "phone", Severity: event.SeverityMedium, Score: 1, Start: 3, End: 14, Evidence: "138****0000", Rule: "privacy.phone"}
	c := store.ExportCase{
		Task: store.Task{ID: 7, Tenant: "acme", ConversationID: "conv \"1\"\ntest_injected if true", AgentID: "ann", Lang: "zh"},
		Review: store.Review{ID: 9, Auditor: "li", Verdicts: []store.FindingVerdict{{EventID: "e-2", FindingIndex: 0, Verdict: store.VerdictFalsePositive}},
			Missed: []store.Missed{{EventID: "e-2", Start: 0, End: 3, Kind: "privacy.email"}}},
		Conversation: store.Conversation{Turns: []store.Turn{
			{EventID: "e-1", Role: event.RoleCustomer, TS: ts, TextMasked: "我的订单号 12345"},
			{EventID: "e-2", Role: event.RoleAgent, TS: ts.Add(time.Second), AgentID: "ann", TextMasked: "订单号138****0000已发货", Findings: []event.Finding{phone}},
		}},
		Sealed: map[string]event.TextEnc{},
	}
	if enc != nil {
		sealed, err := enc.Encrypt([]byte("订单号13800000000已发货"), []byte("e-2"))
		if err != nil {
			t.Fatal(err)
		}
		c.Sealed["e-2"] = sealed
	}
	return c
}

// TestWriteJSONL: one check-format line per turn, masked by default, raw
// where the sealed text opens.
func TestWriteJSONL(t *testing.T) {
	enc, err := event.NewEncryptor(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), "k1")
	if err != nil {
		t.Fatal(err)
	}
	c := exportCase(t, enc)
	var b bytes.Buffer
	if err := WriteJSONL(&b, []store.ExportCase{c, c}, MaskedText); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), b.String())
	}
	var l struct {
		ID             string    `json:"id"`
		Text           string    `json:"text"`
		Role           string    `json:"role"`
		ConversationID string    `json:"conversation_id"`
		AgentID        string    `json:"agent_id"`
		TS             time.Time `json:"ts"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &l); err != nil || l.ID != "e-2" || l.Text != "订单号138****0000已发货" || l.Role != "agent" ||
		l.ConversationID != "conv \"1\"\ntest_injected if true" || l.AgentID != "ann" || l.TS.IsZero() {
		t.Errorf("line %s: %+v, %v", lines[1], l, err)
	}
	var opened, failed int
	b.Reset()
	if err := WriteJSONL(&b, []store.ExportCase{c}, RawText(enc, &opened, &failed)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "13800000000") || !strings.Contains(b.String(), "我的订单号 12345") || opened != 1 || failed != 0 {
		t.Errorf("raw export (%d opened, %d failed): %s", opened, failed, b.String())
	}
	other, _ := event.NewEncryptor(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)), "k1")
	opened, failed = 0, 0
	b.Reset()
	if err := WriteJSONL(&b, []store.ExportCase{c}, RawText(other, &opened, &failed)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "13800000000") || opened != 0 || failed != 1 {
		t.Errorf("a wrong key (%d opened, %d failed): %s", opened, failed, b.String())
	}
}

// TestWriteRego: a test per false positive and per missed finding, named
// uniquely, with the helpers; the tests' run is in console/api (it needs
// the bundle).
func TestWriteRego(t *testing.T) {
	c := exportCase(t, nil)
	var b bytes.Buffer
	n, err := WriteRego(&b, []store.ExportCase{c}, MaskedText, RegoHeader{Tenant: "acme", Actor: "li\nx", Verdict: "all"})
	if err != nil || n != 2 {
		t.Fatalf("WriteRego: %d tests, %v", n, err)
	}
	src := b.String()
	if strings.Contains(src, "\ntest_injected") {
		t.Errorf("an id wrote Rego:\n%s", src)
	}
	for _, want := range []string{
		"package xunjian_test.qa\n", "import data.xunjian\n", "test_false_positive_review9_e_2_finding0 if {",
		"\tno_reason_for(d, 0)\n", "test_missed_review9_0 if {", "\tcaught(d, \"privacy.email\")\n",
		`"tenant":{"id":"acme"}`, `"draft":{"text":"订单号138****0000已发货"`, `"rule":"privacy.phone"`, "by li x,",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("no %q in\n%s", want, src)
		}
	}
	b.Reset()
	if n, err := WriteRego(&b, nil, MaskedText, RegoHeader{}); err != nil || n != 0 || !strings.Contains(b.String(), "no test") {
		t.Errorf("nothing to export: %d, %v\n%s", n, err, b.String())
	}
}

// ExampleScorecard_Score scores a review: the weighted categories, unless
// the auditor confirmed a finding of an auto-fail kind.
func ExampleScorecard_Score() {
	sc := Scorecard{
		Categories: []Category{
			{ID: "courtesy", Name: Name{En: "Courtesy"}, Weight: 1},
			{ID: "accuracy", Name: Name{En: "Accuracy"}, Weight: 3},
		},
		AutoFail: []AutoFailItem{{ID: "leak", Name: Name{En: "Private data leaked"}, Kinds: []string{"privacy.*"}}},
	}
	rv := store.Review{Categories: map[string]float64{"courtesy": 1, "accuracy": 0.5}}
	score, _, _ := sc.Score(rv)
	fmt.Println(score)

	rv.Verdicts = []store.FindingVerdict{{Kind: "privacy.phone", Verdict: store.VerdictCorrect}}
	score, failed, _ := sc.Score(rv)
	fmt.Println(score, failed)
	// Output:
	// 62.5
	// 0 [leak]
}
