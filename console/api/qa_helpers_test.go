package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/qa"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/internal/testproc"
)

// The QA fixture's API keys.
const (
	keyQALi       = "xj_test-qa-li-auditor-red-decrypt-000000000000"
	keyQAWang     = "xj_test-qa-wang-auditor-red-00000000000000000"
	keyQAZhao     = "xj_test-qa-zhao-auditor-blue-0000000000000000"
	keyLeadRed    = "xj_test-qa-lead-red-000000000000000000000000000"
	keyLeadBlue   = "xj_test-qa-lead-blue-00000000000000000000000000"
	keyQAAdmin    = "xj_test-qa-admin-acme-decrypt-000000000000000"
	keyAgentAnn   = "xj_test-qa-agent-ann-0000000000000000000000000"
	keyAgentBob   = "xj_test-qa-agent-bob-0000000000000000000000000"
	keyGlobexAud  = "xj_test-qa-globex-auditor-decrypt-00000000000"
	keyGlobexAdm  = "xj_test-qa-globex-admin-decrypt-0000000000000"
	keyGlobexLead = "xj_test-qa-globex-lead-red-000000000000000000"
)

// rawMarker is in every raw text of the fixture, and in no masked one.
const rawMarker = "RAW-SECRET-13800138000"

// qaT0 is the QA fixture's "now": the store's and the API's clock.
var qaT0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// qaKeys are the QA fixture's keys: acme's auditors li (red, decrypt),
// wang (red) and zhao (blue), the red and blue leads, an admin (decrypt),
// the agents ann (red) and bob (blue); globex's auditor, admin and lead.
func qaKeys() []auth.APIKey {
	k := func(name, tenant, role string, teams []string, key string, perms ...string) auth.APIKey {
		return auth.APIKey{Name: name, Tenant: tenant, Role: role, Teams: teams, Permissions: perms, Hash: auth.HashKey(key)}
	}
	ann := k("ann-key", "acme", "agent", []string{"red"}, keyAgentAnn)
	ann.Agent = "ann"
	bob := k("bob-key", "acme", "agent", []string{"blue"}, keyAgentBob)
	bob.Agent = "bob"
	return []auth.APIKey{
		k("qa-li", "acme", "auditor", []string{"red"}, keyQALi, "decrypt"),
		k("qa-wang", "acme", "auditor", []string{"red"}, keyQAWang),
		k("qa-zhao", "acme", "auditor", []string{"blue"}, keyQAZhao),
		k("lead-red", "acme", "supervisor", []string{"red"}, keyLeadRed),
		k("lead-blue", "acme", "supervisor", []string{"blue"}, keyLeadBlue),
		k("admin", "acme", "admin", nil, keyQAAdmin, "decrypt"),
		ann, bob,
		k("g-auditor", "globex", "auditor", []string{"red"}, keyGlobexAud, "decrypt"),
		k("g-admin", "globex", "admin", nil, keyGlobexAdm, "decrypt"),
		k("g-lead", "globex", "supervisor", []string{"red"}, keyGlobexLead),
	}
}

// qaConfig is the QA fixture's qa section: acme's tasks to li and wang in
// turn, calibration by li, wang and zhao for about half the
// conversations, a scorecard whose auto-fail item is any privacy finding
// confirmed.
func qaConfig() *qa.Config {
	c := &qa.Config{
		Auditors: map[string][]string{"acme": {"qa-li", "qa-wang"}, "globex": {"g-auditor"}},
		Calibration: qa.Calibration{Rate: 0.5, Seed: "calibration-salt",
			Auditors: map[string][]string{"acme": {"qa-li", "qa-wang", "qa-zhao"}}},
		Scorecards: map[string]qa.Scorecard{"acme": {
			Categories: []qa.Category{
				{ID: "courtesy", Name: qa.Name{Zh: "礼貌", En: "Courtesy"}, Weight: 1},
				{ID: "accuracy", Name: qa.Name{Zh: "准确", En: "Accuracy"}, Weight: 3},
			},
			AutoFail: []qa.AutoFailItem{{ID: "leak", Name: qa.Name{Zh: "泄露隐私", En: "Leak"}, Kinds: []string{"privacy.*"}}},
		}},
		DisputeWindow: duration.Duration(7 * 24 * time.Hour),
	}
	c.Defaults()
	return c
}

// qaEnv is the console API with the QA enabled, over loopback, on a real
// store.
type qaEnv struct {
	t       *testing.T
	srv     *httptest.Server
	st      *store.Store
	clock   *clock
	enc     *event.Encryptor // the gateway's text key
	cfg     *qa.Config
	planner *qa.Planner
	reg     *prometheus.Registry
	logs    *testproc.Buffer
	mu      sync.Mutex
	seen    []answer // every answer, for the raw text checks
}

// answer is a request's path and the answer's body.
type answer struct {
	method, path string
	body         []byte
}

// newQAEnv serves the QA fixture on the store at dsn; withKey gives the
// console the gateway's text key.
func newQAEnv(t *testing.T, dsn string, withKey bool) *qaEnv {
	t.Helper()
	enc, err := event.NewEncryptor(base64.StdEncoding.EncodeToString([]byte("qa-fixture-text-key-of-32-bytes!")), "k1")
	if err != nil {
		t.Fatal(err)
	}
	e := &qaEnv{t: t, clock: &clock{now: qaT0}, enc: enc, cfg: qaConfig(), reg: prometheus.NewRegistry(), logs: &testproc.Buffer{}}
	e.planner = qa.NewPlanner(*e.cfg)
	e.st, err = store.Open(context.Background(), dsn, store.WithClock(e.clock.Now), store.WithTaskPlanner(e.planner))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	ctx := context.Background()
	if err := e.st.SetAgentTeams(ctx, "acme", map[string]string{"ann": "red", "bob": "blue"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetAgentTeams(ctx, "globex", map[string]string{"ann": "red"}); err != nil {
		t.Fatal(err)
	}
	qo := &api.QAOptions{Store: e.st, Config: e.cfg}
	if withKey {
		qo.TextKey = enc
	}
	h, err := api.New(api.Config{APIKeys: qaKeys(), SessionKey: sessionKey}, api.Options{
		Store: e.st, Registry: e.reg, Now: e.clock.Now, Getenv: func(string) string { return "" }, QA: qo,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		e.srv.Close()
	})
	return e
}

// conv names a conversation the planner does (calibration) or does not
// (the one task) choose for calibration, by prefix.
func (e *qaEnv) conv(prefix string, calibrated bool) string {
	for i := range 1000 {
		id := prefix + "-" + itoa(int64(i))
		if plan := e.planner.PlanTasks(store.SampledConversation{Tenant: "acme", ConversationID: id}); (plan.Calibration != nil) == calibrated {
			return id
		}
	}
	e.t.Fatalf("no conversation %s-N with calibration %v", prefix, calibrated)
	return ""
}

// sampled publishes, as the gateway does, the messages of a sampled
// conversation to the findings and samples topics: a customer message,
// an agent draft with the given findings whose raw text holds rawMarker,
// and a clean agent draft. It returns the events.
func (e *qaEnv) sampled(tenant, conv, agent string, at time.Time, findings ...event.Finding) []*event.Event {
	e.t.Helper()
	customer := ev(tenant, conv, agent, at, asCustomer, func(ev *event.Event) { ev.TextMasked = "我要投诉，订单 1***5" })
	draft := ev(tenant, conv, agent, at.Add(time.Second), func(ev *event.Event) {
		ev.TextMasked = "您好，请拨打 138****8000，亲"
		ev.Findings = findings
		ev.Action = event.ActionRedact
		ev.Risk = 0.4
	})
	clean := ev(tenant, conv, agent, at.Add(2*time.Second), func(ev *event.Event) { ev.TextMasked = "好的，已为您登记，邮箱 a***@x.com" })
	raws := []string{"我要投诉，订单 12345", "您好，请拨打 " + rawMarker + "，亲", "好的，已为您登记，邮箱 ann@x.com"}
	evs := []*event.Event{customer, draft, clean}
	for i, ev := range evs {
		ev.Sampled = true
		sealed, err := e.enc.Encrypt([]byte(raws[i]), []byte(ev.EventID))
		if err != nil {
			e.t.Fatal(err)
		}
		ev.TextEnc = &sealed
		for _, topic := range []string{"xunjian.findings", store.DefaultSamplesTopic} {
			if _, err := e.st.Ingest(context.Background(), ev, topic, 0, 1); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	return evs
}

// Findings of the fixture's drafts.
var (
	phoneFinding = event.Finding{Detector: "privacy", Kind: "phone", Severity: event.SeverityMedium, Score: 1, Start: 6, End: 17,
		Evidence: "138****8000", Rule: "privacy.phone", Lexicon: "privacy.zh"}
	impatientFinding = event.Finding{Detector: "tone", Kind: "impatient", Severity: event.SeverityMedium, Score: 0.8, Start: 18, End: 19,
		Evidence: "亲", Rule: "tone.impatient.zh", Lexicon: "tone.zh"}
)

// call sends a request with the API key k and a JSON body (none when
// empty), records the answer, and returns it.
func (e *qaEnv) call(k, method, path, body string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	hr, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if k != "" {
		hr.Header.Set("X-API-Key", k)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.seen = append(e.seen, answer{method, path, b})
	e.mu.Unlock()
	return resp{status: res.StatusCode, hdr: res.Header, body: b}
}

// ok calls and wants status want, decoding the body into v (when not
// nil).
func (e *qaEnv) ok(k, method, path, body string, want int, v any) resp {
	e.t.Helper()
	r := e.call(k, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, bytes.TrimSpace(r.body), want)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, r.body)
		}
	}
	return r
}

// The JSON of docs/qa.md, as a client decodes it.
type (
	qaTask struct {
		ID               int64     `json:"id"`
		Tenant           string    `json:"tenant"`
		ConversationID   string    `json:"conversation_id"`
		AgentID          string    `json:"agent_id"`
		Team             string    `json:"team"`
		Lang             string    `json:"lang"`
		Risk             float64   `json:"risk"`
		Reason           string    `json:"reason"`
		Assignee         string    `json:"assignee"`
		State            string    `json:"state"`
		DueAt            time.Time `json:"due_at"`
		CreatedAt        time.Time `json:"created_at"`
		CalibrationGroup *string   `json:"calibration_group"`
	}
	qaTaskList struct {
		Tasks []qaTask `json:"tasks"`
		Next  string   `json:"next"`
	}
	qaVerdict struct {
		EventID      string  `json:"event_id"`
		FindingIndex int     `json:"finding_index"`
		Verdict      string  `json:"verdict"`
		CorrectKind  *string `json:"correct_kind"`
		Kind         string  `json:"kind"`
		Rule         string  `json:"rule"`
		Lexicon      string  `json:"lexicon"`
	}
	qaReview struct {
		ID          int64              `json:"id"`
		TaskID      int64              `json:"task_id"`
		Auditor     string             `json:"auditor"`
		Categories  map[string]float64 `json:"categories"`
		AutoFail    []string           `json:"auto_fail"`
		Verdicts    []qaVerdict        `json:"verdicts"`
		Missed      []json.RawMessage  `json:"missed"`
		Note        string             `json:"note"`
		Score       *float64           `json:"score"`
		AutoScore   *float64           `json:"auto_score"`
		Version     int64              `json:"version"`
		SubmittedAt *time.Time         `json:"submitted_at"`
	}
	qaDispute struct {
		ID       int64 `json:"id"`
		ReviewID int64 `json:"review_id"`
		TaskID   int64 `json:"task_id"`
		Finding  *struct {
			EventID string `json:"event_id"`
			Index   int    `json:"index"`
		} `json:"finding"`
		By         string     `json:"by"`
		ByRole     string     `json:"by_role"`
		Reason     string     `json:"reason"`
		State      string     `json:"state"`
		RulingNote string     `json:"ruling_note"`
		RuledBy    string     `json:"ruled_by"`
		RuledAt    *time.Time `json:"ruled_at"`
	}
	qaTaskDetail struct {
		Task         qaTask          `json:"task"`
		Conversation json.RawMessage `json:"conversation"`
		Scorecard    struct {
			Categories []struct {
				ID string `json:"id"`
			} `json:"categories"`
		} `json:"scorecard"`
		Review   *qaReview   `json:"review"`
		Disputes []qaDispute `json:"disputes"`
	}
	qaTaskReview struct {
		Task   qaTask   `json:"task"`
		Review qaReview `json:"review"`
	}
	qaCounts struct {
		By            string   `json:"by"`
		Rule          string   `json:"rule"`
		Correct       int      `json:"correct"`
		FalsePositive int      `json:"false_positive"`
		WrongKind     int      `json:"wrong_kind"`
		Missed        int      `json:"missed"`
		Precision     *float64 `json:"precision"`
		Days          []struct {
			Day string `json:"day"`
		} `json:"days"`
		Disputes map[string]int `json:"disputes"`
	}
	qaPrecision struct {
		Rules []qaCounts `json:"rules"`
	}
)

// row returns the precision row by/rule, zero when absent.
func (p qaPrecision) row(by, rule string) qaCounts {
	for _, r := range p.Rules {
		if r.By == by && r.Rule == rule {
			return r
		}
	}
	return qaCounts{}
}

// tasksOf lists the tasks k sees (all states).
func (e *qaEnv) tasksOf(k string) []qaTask {
	e.t.Helper()
	var l qaTaskList
	e.ok(k, "GET", "/api/qa/tasks?state=open,in_review,done&limit=500", "", 200, &l)
	return l.Tasks
}

// taskOf returns the task of conv k sees, failing when there is not
// exactly one.
func (e *qaEnv) taskOf(k, conv string) qaTask {
	e.t.Helper()
	var found []qaTask
	for _, t := range e.tasksOf(k) {
		if t.ConversationID == conv {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("%d tasks of %s for the key %.20s: %+v", len(found), conv, k, found)
	}
	return found[0]
}

// auditCount returns the number of acme's audit-log entries.
func (e *qaEnv) auditCount() int {
	e.t.Helper()
	var l struct {
		Entries []json.RawMessage `json:"entries"`
	}
	e.ok(keyQAAdmin, "GET", "/api/qa/audit-log?limit=500", "", 200, &l)
	return len(l.Entries)
}
