//go:build browser

package console

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/xunjian/xunjian/console/qa"
	"github.com/xunjian/xunjian/console/store/storetest"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// The browser build tag runs these tests in a real Chromium (headless);
// scripts/test.sh sets it, and CI installs Debian's chromium.

// The credentials of the audit: an auditor, the agent audited, and the
// lead of the agent's team.
const (
	auditorKey = "key-auditor-qa-li-0123456789abcdef"
	agentKey   = "key-agent-a7-0123456789abcdef0123"
	leadKey    = "key-lead-red-0123456789abcdef0123"
)

// browser returns a fresh headless Chromium tab (its own cookies) and a
// context bounded to the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the browser build tag needs chromium on PATH (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1400, 1000))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	// The first action starts the browser, which then lives as long as
	// that action's context: bctx, not a step's deadline.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// do runs steps within 20 s, saving a screenshot named what when they fail.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		shot(t, ctx, strings.ReplaceAll(what, " ", "-"))
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 1500)`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, body)
	}
}

// signIn opens the console at path and signs in with key.
func signIn(t *testing.T, ctx context.Context, base, key, path string) {
	t.Helper()
	do(t, ctx, "sign in",
		chromedp.Navigate(base+"/?lang=en"),
		chromedp.WaitVisible(`#credential`),
		chromedp.SendKeys(`#credential`, key),
		chromedp.Click(`form.signin-card button[type=submit]`),
		chromedp.WaitVisible(`.top-nav`),
		chromedp.Navigate(base+path+"?lang=en"),
	)
}

// getJSON GETs path with key and decodes the JSON answer into v.
func getJSON(t *testing.T, base, key, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestAuditInABrowser is an audit as its three people do it, each in a
// browser of their own: the auditor takes the task of a sampled
// conversation, marks one finding correct and one a false positive, adds
// a missed one, scores and submits; the agent disputes the review; the
// team's lead rules on the dispute; the precision per rule shows the
// auditor's verdicts.
func TestAuditInABrowser(t *testing.T) {
	b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Topics: []string{"t.alerts", "t.findings", "t.samples"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := consoleConfig(storetest.DSN(t, "sqlite"), []string{b.Addr()}, "t.", newDingTalk(t))
	cfg.Auth.APIKeys = []auth.APIKey{
		{Name: "qa-li", Tenant: "acme", Role: "auditor", Hash: auth.HashKey(auditorKey)},
		{Name: "agent-a7", Tenant: "acme", Role: "agent", Agent: "a7", Hash: auth.HashKey(agentKey)},
		{Name: "lead-red", Tenant: "acme", Role: "supervisor", Teams: []string{"red"}, Hash: auth.HashKey(leadKey)},
	}
	cfg.Teams = map[string]map[string]string{"acme": {"a7": "red"}}
	cfg.QA = qa.Config{Auditors: map[string][]string{"acme": {"qa-li"}}}
	cfg.Defaults()
	console := serve(t, cfg)

	// A sampled conversation: the customer asks, the agent's draft has a
	// rude finding and a phone finding.
	ts := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	draft := &event.Event{
		EventID: uuid.Must(uuid.NewV7()).String(), TS: ts, Tenant: "acme", ConversationID: "qa-conv-1", AgentID: "a7",
		Role: event.RoleAgent, Action: event.ActionBlock, Reasons: []event.Reason{}, Alerts: []event.Alert{}, Shadow: []event.Reason{},
		PolicyRevision: "r1", TextMasked: "你是不是傻，订单早发了，有事打138****5678", Sampled: true,
		Findings: []event.Finding{
			{Detector: "tone", Kind: "rude", Severity: event.SeverityHigh, Score: 0.95, Start: 0, End: 5, Evidence: "你是不是傻", Lexicon: "rude.zh"},
			{Detector: "privacy", Kind: "phone", Severity: event.SeverityMedium, Score: 0.9, Start: 16, End: 27, Evidence: "138****5678"},
		},
	}
	value, err := draft.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b.Addr(), "t.samples", value)
	var tasks struct {
		Tasks []struct {
			ID int64 `json:"id"`
		} `json:"tasks"`
	}
	waitFor(t, "the review task", func() bool {
		getJSON(t, console.url, auditorKey, "/api/qa/tasks", &tasks)
		return len(tasks.Tasks) == 1
	})

	// The auditor.
	auditor := browser(t)
	signIn(t, auditor, console.url, auditorKey, "/qa")
	task := `tr[data-task-id]`
	do(t, auditor, "take the task",
		chromedp.WaitVisible(task+` button[data-k="take"]`),
		chromedp.Click(task+` button[data-k="take"]`),
		chromedp.WaitVisible(task+`.st-in_review, `+task+` a[data-k="open"]`),
	)
	do(t, auditor, "open the task", chromedp.Click(task+` a[data-k="open"]`), chromedp.WaitVisible(`li[data-finding]`))
	rude, phone := `li[data-finding="`+draft.EventID+`#0"]`, `li[data-finding="`+draft.EventID+`#1"]`
	do(t, auditor, "mark the findings",
		chromedp.Click(rude+` [data-k="v-correct"]`),
		chromedp.Click(phone+` [data-k="v-false_positive"]`),
		chromedp.Click(`button[data-k="missed-add"]`),
		chromedp.WaitVisible(`#missed-start`),
		chromedp.SetValue(`#missed-start`, "6"),
		chromedp.SetValue(`#missed-end`, "11"),
		chromedp.SetValue(`#missed-kind`, "tone.dismissive"),
		chromedp.SendKeys(`#missed-note`, "brush-off"),
		chromedp.Click(`[data-k="missed-submit"]`),
		chromedp.WaitVisible(`li[data-missed-index]`),
	)
	cats, err := chromedp.Run(auditor, chromedp.Evaluate[int](`document.querySelectorAll('input[data-k="cat"]').length`))
	if err != nil || cats == 0 {
		t.Fatalf("the scorecard has %d categories (%v)", cats, err)
	}
	do(t, auditor, "score and submit",
		chromedp.SetValue(`input[data-k="cat"]`, "50"),
		chromedp.SendKeys(`#qa-note`, "rude to the customer"),
		chromedp.Click(`#qa-submit`),
		chromedp.WaitVisible(`[data-k="confirm-ok"]`),
		chromedp.Click(`[data-k="confirm-ok"]`),
	)
	var review struct {
		Task struct {
			State string `json:"state"`
		} `json:"task"`
		Review *struct {
			ID       int64   `json:"id"`
			Score    float64 `json:"score"`
			Verdicts []struct {
				Verdict string `json:"verdict"`
			} `json:"verdicts"`
			Missed []struct {
				Kind string `json:"kind"`
			} `json:"missed"`
		} `json:"review"`
	}
	taskPath := "/api/qa/tasks/" + itoa(tasks.Tasks[0].ID)
	deadline := time.Now().Add(15 * time.Second)
	for getJSON(t, console.url, auditorKey, taskPath, &review); review.Task.State != "done"; getJSON(t, console.url, auditorKey, taskPath, &review) {
		if time.Now().After(deadline) {
			shot(t, auditor, "submit")
			body, _ := chromedp.Run(auditor, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
			t.Fatalf("the review was not submitted (task %+v); page:\n%s", review.Task, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := review.Review; r == nil || len(r.Verdicts) != 2 || len(r.Missed) != 1 || r.Missed[0].Kind != "tone.dismissive" {
		t.Fatalf("the review as stored: %+v", r)
	}

	// The agent disputes the review.
	agent := browser(t)
	signIn(t, agent, console.url, agentKey, "/qa/tasks/"+itoa(tasks.Tasks[0].ID))
	do(t, agent, "the agent's dispute",
		chromedp.WaitVisible(`button[data-k="dispute"]`),
		chromedp.Click(`button[data-k="dispute"]`),
		chromedp.WaitVisible(`#dispute-reason`),
		chromedp.SendKeys(`#dispute-reason`, "The customer had asked three times; I was not rude."),
		chromedp.Click(`[data-k="dispute-submit"]`),
		chromedp.WaitVisible(`li.qa-dispute[data-dispute-id]`),
	)

	// The lead of the agent's team rules on it.
	lead := browser(t)
	signIn(t, lead, console.url, leadKey, "/qa/disputes")
	do(t, lead, "the lead's ruling",
		chromedp.WaitVisible(`tr[data-dispute-id] [data-k="rule-rejected"]`),
		chromedp.Click(`tr[data-dispute-id] [data-k="rule-rejected"]`),
		chromedp.WaitVisible(`#ruling-note`),
		chromedp.SendKeys(`#ruling-note`, "The wording is rude whatever the history."),
		chromedp.Click(`[data-k="ruling-submit"]`),
	)
	var disputes struct {
		Disputes []struct {
			State   string `json:"state"`
			RuledBy string `json:"ruled_by"`
		} `json:"disputes"`
	}
	waitFor(t, "the ruling", func() bool {
		getJSON(t, console.url, leadKey, "/api/qa/disputes", &disputes)
		return len(disputes.Disputes) == 1 && disputes.Disputes[0].State == "rejected"
	})

	// The precision per rule counts the auditor's verdicts, and the lead
	// sees it on the precision page.
	var precision struct {
		Rules []struct {
			Rule          string `json:"rule"`
			Correct       int    `json:"correct"`
			FalsePositive int    `json:"false_positive"`
		} `json:"rules"`
	}
	getJSON(t, console.url, leadKey, "/api/qa/precision", &precision)
	judged := map[string][2]int{}
	for _, r := range precision.Rules {
		judged[r.Rule] = [2]int{r.Correct, r.FalsePositive}
	}
	// The rude finding came from the lexicon entry rude.zh; the phone
	// finding (no rule of its own) counts under its kind.
	if judged["rude.zh"] != [2]int{1, 0} || judged["privacy.phone"] != [2]int{0, 1} {
		t.Errorf("precision %+v: want rude.zh correct once, privacy.phone a false positive once", precision.Rules)
	}
	do(t, lead, "the precision page", chromedp.Navigate(console.url+"/qa/precision?lang=en"), chromedp.WaitVisible(`tr[data-rule]`))
	rows, err := chromedp.Run(lead, chromedp.Evaluate[int](`document.querySelectorAll('tr[data-rule]').length`))
	if err != nil || rows < 2 {
		t.Errorf("the precision page shows %d rules (%v), want the two judged", rows, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// shot saves a screenshot of the page as NAME.png in the directory
// XUNJIAN_BROWSER_SHOTS names, when it is set: for a person to look at a
// failure.
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("XUNJIAN_BROWSER_SHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}
