package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/api"
)

// TestScope: every endpoint, for every principal of the fixture, shows
// what its tenant and teams allow and nothing else; an alert or a
// conversation outside is not found, whatever the way in.
func TestScope(t *testing.T) {
	e := setup(t, testConfig(), nil)
	all := []string{"ann critical", "bob high", "cat medium", "mix bob", "mix ann"}
	for _, tc := range []struct {
		name  string
		key   string
		wall  []string // GET /api/alerts (open alerts), in order
		convs []string // conversations found
	}{
		{"supervisor red", keySupRed, []string{"ann critical", "mix ann"}, []string{"conv-ann", "conv-mix"}},
		{"supervisor blue", keySupBlue, []string{"bob high", "mix bob"}, []string{"conv-bob", "conv-mix"}},
		{"supervisor of no team", keySupNone, []string{"cat medium"}, []string{"conv-cat"}},
		{"auditor red", keyAuditorRed, []string{"ann critical", "mix ann"}, []string{"conv-ann", "conv-mix"}},
		{"admin acme", keyAdminAcme, all, []string{"conv-ann", "conv-bob", "conv-cat", "conv-mix"}},
		{"admin globex", keyAdminGlobex, []string{"globex ann"}, []string{"conv-g"}},
		{"supervisor globex red", keySupGlobex, []string{"globex ann"}, []string{"conv-g"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l alertList
			e.get(tc.key, "/api/alerts", &l)
			if got := messages(l.Alerts); !slices.Equal(got, tc.wall) {
				t.Errorf("wall %q, want %q", got, tc.wall)
			}
			for msg, a := range e.alerts {
				path := "/api/alerts/" + itoa(a.ID)
				r := e.do(req{path: path, hdr: key(tc.key)})
				if slices.Contains(tc.wall, msg) {
					if r.status != 200 {
						t.Errorf("GET %s (%s): %d %s", path, msg, r.status, r.body)
					}
					continue
				}
				wantError(t, "GET "+msg, r, 404, "not_found")
				// Acting on it is not found either, whatever the version
				// (an auditor may act on none: forbidden, whichever alert).
				status, code := 404, "not_found"
				if tc.key == keyAuditorRed {
					status, code = 403, "forbidden"
				}
				wantError(t, "transition "+msg, e.do(req{method: "POST", path: path + "/transition", hdr: key(tc.key),
					body: `{"to":"resolved","version":1}`}), status, code)
			}
			for _, conv := range []string{"conv-ann", "conv-bob", "conv-cat", "conv-mix", "conv-g", "conv-none"} {
				r := e.do(req{path: "/api/conversations/" + conv, hdr: key(tc.key)})
				if slices.Contains(tc.convs, conv) {
					if r.status != 200 {
						t.Errorf("conversation %s: %d %s", conv, r.status, r.body)
					}
					continue
				}
				wantError(t, "conversation "+conv, r, 404, "not_found")
			}
			// The 404 of another tenant's alert is the 404 of no alert.
			other := e.do(req{path: "/api/alerts/999999", hdr: key(tc.key)})
			wantError(t, "no such alert", other, 404, "not_found")
		})
	}
	// Nothing was changed by the refused transitions.
	for msg, a := range e.alerts {
		got, err := e.store.Alert(context.Background(), a.Tenant, a.ID)
		if err != nil || got.Version != 1 {
			t.Errorf("%s: version %d, %v: a refused transition changed it", msg, got.Version, err)
		}
	}
}

// TestTeamParam: team narrows within the principal's teams; another team
// is forbidden.
func TestTeamParam(t *testing.T) {
	e := setup(t, testConfig(), nil)
	var l alertList
	e.get(keyAdminAcme, "/api/alerts?team=blue", &l)
	if got := messages(l.Alerts); !slices.Equal(got, []string{"bob high", "mix bob"}) {
		t.Errorf("admin team=blue: %q", got)
	}
	e.get(keySupRed, "/api/alerts?team=red", &l)
	if got := messages(l.Alerts); !slices.Equal(got, []string{"ann critical", "mix ann"}) {
		t.Errorf("red team=red: %q", got)
	}
	for _, tc := range []struct{ key, path string }{
		{keySupRed, "/api/alerts?team=blue"},
		{keySupNone, "/api/alerts?team=red"},
		{keyAuditorRed, "/api/counters?team=blue"},
		{keySupGlobex, "/api/alerts?team=blue"},
	} {
		wantError(t, tc.path, e.do(req{path: tc.path, hdr: key(tc.key)}), 403, "forbidden")
	}
}

// TestTransition: the workflow over HTTP, its errors, and the history.
func TestTransition(t *testing.T) {
	e := setup(t, testConfig(), nil)
	a := e.alerts["ann critical"]
	path := "/api/alerts/" + itoa(a.ID) + "/transition"
	post := func(k, body string) resp { return e.do(req{method: "POST", path: path, hdr: key(k), body: body}) }

	wantError(t, "auditor", post(keyAuditorRed, `{"to":"acknowledged","version":1}`), 403, "forbidden")
	for name, body := range map[string]string{
		"to new":           `{"to":"new"}`,
		"to nowhere":       `{"to":"closed"}`,
		"no to":            `{"note":"x"}`,
		"unknown field":    `{"to":"acknowledged","version":1,"tenant":"globex"}`,
		"negative version": `{"to":"acknowledged","version":-1}`,
		"version a string": `{"to":"acknowledged","version":"1"}`,
		"trailing data":    `{"to":"acknowledged"} {"to":"resolved"}`,
		"not json":         `to=acknowledged`,
		"empty":            ``,
		"invalid utf-8":    "{\"to\":\"acknowledged\",\"note\":\"\xff\xfe\"}",
		"note too long":    `{"to":"acknowledged","note":"` + strings.Repeat("长", 2001) + `"}`,
		"control in note":  `{"to":"acknowledged","note":"a\u0000b"}`,
		"newline assignee": `{"to":"acknowledged","assignee":"a\nb"}`,
		"body too large":   `{"to":"acknowledged","note":"` + strings.Repeat("a", 65<<10) + `"}`,
	} {
		wantError(t, name, post(keySupRed, body), 400, "bad_request")
	}
	// A stale version conflicts.
	wantError(t, "stale version", post(keySupRed, `{"to":"acknowledged","version":7}`), 409, "conflict")

	// Take it: acknowledged, assigned; a 2000-character note is fine.
	note := strings.Repeat("长", 2000)
	r := post(keySupRed, `{"to":"acknowledged","assignee":"sup-red","note":"`+note+`","version":1}`)
	var got alertJSON
	if r.status != 200 || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("acknowledge: %d %s", r.status, r.body)
	}
	if got.State != "acknowledged" || got.Version != 2 || got.Assignee != "sup-red" || got.Note != note || got.ID != a.ID {
		t.Errorf("acknowledged alert: %+v", got)
	}
	// Back is invalid.
	wantError(t, "acknowledged again", post(keySupRed, `{"to":"acknowledged"}`), 422, "invalid_transition")
	if r := post(keySupRed2, `{"to":"resolved","note":"called back","version":2}`); r.status != 200 {
		t.Fatalf("resolve: %d %s", r.status, r.body)
	}
	wantError(t, "resolved → acknowledged", post(keySupRed, `{"to":"acknowledged"}`), 422, "invalid_transition")
	wantError(t, "resolved → resolved", post(keyAdminAcme, `{"to":"resolved","version":3}`), 422, "invalid_transition")

	var detail struct {
		Alert   alertJSON `json:"alert"`
		History []struct {
			Actor, From, To, Assignee, Note string
			At                              time.Time
		} `json:"history"`
	}
	e.get(keyAuditorRed, "/api/alerts/"+itoa(a.ID), &detail)
	h := detail.History
	if detail.Alert.State != "resolved" || len(h) != 2 ||
		h[0].Actor != "sup-red" || h[0].From != "new" || h[0].To != "acknowledged" || h[0].Assignee != "sup-red" ||
		h[1].Actor != "sup-red-2" || h[1].To != "resolved" || h[1].Note != "called back" || h[1].At.IsZero() {
		t.Errorf("detail: %+v", detail)
	}
	wantError(t, "malformed id", e.do(req{path: "/api/alerts/12abc", hdr: key(keySupRed)}), 400, "bad_request")
	wantError(t, "zero id", e.do(req{path: "/api/alerts/0", hdr: key(keySupRed)}), 400, "bad_request")
}

// TestConcurrentTransition: two supervisors acting on one alert as they
// read it: one succeeds, the other is told it changed.
func TestConcurrentTransition(t *testing.T) {
	e := setup(t, testConfig(), nil)
	path := "/api/alerts/" + itoa(e.alerts["mix ann"].ID) + "/transition"
	for round := range 5 {
		// Each round on a fresh alert of red.
		if round > 0 {
			e.alert(ev("acme", "conv-race", "ann", e.t0, withAlert("high", "race", "race "+itoa(int64(round)))))
			path = "/api/alerts/" + itoa(e.alerts["race "+itoa(int64(round))].ID) + "/transition"
		}
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		start := make(chan struct{})
		for i, k := range []string{keySupRed, keySupRed2} {
			wg.Go(func() {
				<-start
				statuses[i] = e.do(req{method: "POST", path: path, hdr: key(k), body: `{"to":"acknowledged","assignee":"me","version":1}`}).status
			})
		}
		close(start)
		wg.Wait()
		sort.Ints(statuses)
		if !slices.Equal(statuses, []int{200, 409}) {
			t.Errorf("round %d: statuses %v, want one 200 and one 409", round, statuses)
		}
	}
}

// TestFiltersAndPaging: the wall's query parameters.
func TestFiltersAndPaging(t *testing.T) {
	e := setup(t, testConfig(), nil)
	if _, err := e.store.Transition(context.Background(), "acme", e.alerts["bob high"].ID, "x", "acknowledged", "", "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Transition(context.Background(), "acme", e.alerts["cat medium"].ID, "x", "resolved", "", "", 0); err != nil {
		t.Fatal(err)
	}
	since := e.t0.Add(-35 * time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"ann critical", "bob high", "mix bob", "mix ann"}},
		{"state=new", []string{"ann critical", "mix bob", "mix ann"}},
		{"state=resolved", []string{"cat medium"}},
		{"state=new,acknowledged,resolved", []string{"ann critical", "bob high", "cat medium", "mix bob", "mix ann"}},
		{"state=acknowledged,%20resolved", []string{"bob high", "cat medium"}},
		{"agent=bob", []string{"bob high", "mix bob"}},
		{"kind=wait", []string{"mix bob", "mix ann"}},
		{"conversation=conv-mix", []string{"mix bob", "mix ann"}},
		{"min_level=high", []string{"ann critical", "bob high"}},
		{"since=45m", []string{"bob high", "mix bob", "mix ann"}},
		{"since=" + since, []string{"mix bob", "mix ann"}},
		{"agent=bob&kind=complaint&team=blue", []string{"bob high"}},
		{"agent=nobody", []string{}},
	} {
		var l alertList
		e.get(keyAdminAcme, "/api/alerts?"+tc.query, &l)
		if got := messages(l.Alerts); !slices.Equal(got, tc.want) || l.Alerts == nil {
			t.Errorf("?%s: %q, want %q", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"state=open", "state=new,", "min_level=severe", "since=yesterday", "since=-1h", "limit=0",
		"limit=501", "limit=ten", "cursor=not-a-cursor", "agent=%ff", "kind=" + strings.Repeat("k", 600), "a=%zz"} {
		wantError(t, "?"+q, e.do(req{path: "/api/alerts?" + q, hdr: key(keyAdminAcme)}), 400, "bad_request")
	}

	// Pages of 2 list every alert once, in the wall's order.
	var paged []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("no end of pages")
		}
		var l alertList
		e.get(keyAdminAcme, "/api/alerts?state=new,acknowledged,resolved&limit=2&cursor="+cursor, &l)
		if len(l.Alerts) > 2 {
			t.Fatalf("page of %d", len(l.Alerts))
		}
		paged = append(paged, messages(l.Alerts)...)
		if l.Next == "" {
			break
		}
		cursor = l.Next
	}
	if want := []string{"ann critical", "bob high", "cat medium", "mix bob", "mix ann"}; !slices.Equal(paged, want) {
		t.Errorf("pages %q, want %q", paged, want)
	}
	// A cursor gives no way into another tenant or team.
	var l alertList
	e.get(keySupGlobex, "/api/alerts?limit=1&cursor="+cursor, &l)
	for _, a := range l.Alerts {
		if a.Tenant != "globex" {
			t.Errorf("globex's page after acme's cursor: %+v", a)
		}
	}
}

// TestAlertJSON: an alert has every field of the contract.
func TestAlertJSON(t *testing.T) {
	e := setup(t, testConfig(), nil)
	var raw struct {
		Alerts []map[string]any `json:"alerts"`
		Next   *string          `json:"next"`
	}
	e.get(keySupNone, "/api/alerts", &raw)
	if len(raw.Alerts) != 1 || raw.Next == nil {
		t.Fatalf("%+v", raw)
	}
	a := raw.Alerts[0]
	for _, f := range []string{"id", "event_id", "tenant", "team", "agent_id", "conversation_id", "level", "kind", "message",
		"risk", "created_at", "state", "assignee", "note", "version", "updated_at"} {
		if _, ok := a[f]; !ok {
			t.Errorf("alert without %q: %v", f, a)
		}
	}
	if len(a) != 16 || a["team"] != "" || a["level"] != "medium" || a["state"] != "new" || a["tenant"] != "acme" {
		t.Errorf("alert %v", a)
	}
	if _, err := time.Parse(time.RFC3339, a["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
}

// TestConversation: the turns in order, findings as the contract has
// them, and only the alerts the principal sees.
func TestConversation(t *testing.T) {
	e := setup(t, testConfig(), nil)
	type conv struct {
		Tenant, ID string
		AgentID    string `json:"agent_id"`
		Turns      []struct {
			EventID    string `json:"event_id"`
			Role       string
			TS         time.Time
			AgentID    string `json:"agent_id"`
			Action     string
			Delivered  bool
			TextMasked string `json:"text_masked"`
			Findings   []map[string]any
			Alerts     []alertJSON
		}
	}
	alertsOf := func(c conv) []string {
		var out []string
		for _, t := range c.Turns {
			out = append(out, messages(t.Alerts)...)
		}
		return out
	}
	var admin, red, blue conv
	e.get(keyAdminAcme, "/api/conversations/conv-mix", &admin)
	e.get(keySupRed, "/api/conversations/conv-mix", &red)
	e.get(keySupBlue, "/api/conversations/conv-mix", &blue)
	if len(admin.Turns) != 3 || admin.Turns[0].Role != "customer" || admin.Turns[1].AgentID != "ann" || admin.Turns[2].AgentID != "bob" {
		t.Fatalf("admin's conversation: %+v", admin)
	}
	if got := alertsOf(admin); !slices.Equal(got, []string{"mix ann", "mix bob"}) {
		t.Errorf("admin's alerts %q", got)
	}
	if len(red.Turns) != 3 || !slices.Equal(alertsOf(red), []string{"mix ann"}) {
		t.Errorf("red's conversation: %d turns, alerts %q", len(red.Turns), alertsOf(red))
	}
	if len(blue.Turns) != 3 || !slices.Equal(alertsOf(blue), []string{"mix bob"}) {
		t.Errorf("blue's conversation: %d turns, alerts %q", len(blue.Turns), alertsOf(blue))
	}
	f := admin.Turns[1].Findings
	if len(f) != 1 || len(f[0]) != 7 || f[0]["detector"] != "privacy" || f[0]["severity"] != "high" || f[0]["evidence"] != "138****0000" ||
		f[0]["start"] != 3.0 || f[0]["end"] != 14.0 {
		t.Errorf("findings %v: want the contract's seven fields", f)
	}
	if admin.Turns[0].Findings == nil || admin.Turns[0].Alerts == nil {
		t.Error("a turn without findings or alerts has null, not []")
	}
}

// TestAgentStats: the sparkline counts what the principal's teams saw.
func TestAgentStats(t *testing.T) {
	e := setup(t, testConfig(), nil)
	type stats struct {
		Agent   string
		Buckets []struct {
			Start            time.Time
			Findings, Alerts int
		}
	}
	sum := func(s stats) (f, a int) {
		for _, b := range s.Buckets {
			f, a = f+b.Findings, a+b.Alerts
		}
		return f, a
	}
	for _, tc := range []struct {
		key, agent       string
		findings, alerts int
	}{
		{keyAdminAcme, "ann", 2, 2},
		{keySupRed, "ann", 2, 2},
		{keySupBlue, "ann", 0, 0}, // another team's agent: zero, as an unknown one
		{keySupBlue, "bob", 0, 2},
		{keySupNone, "cat", 0, 1},
		{keyAdminGlobex, "ann", 0, 1}, // globex's ann, not acme's
		{keyAdminAcme, "nobody", 0, 0},
	} {
		var s stats
		e.get(tc.key, "/api/agents/"+tc.agent+"/stats?since=2h&bucket=30m", &s)
		if f, a := sum(s); s.Agent != tc.agent || f != tc.findings || a != tc.alerts || len(s.Buckets) < 4 || len(s.Buckets) > 5 {
			t.Errorf("%s/%s: %d findings, %d alerts in %d buckets; want %d, %d", tc.key[8:20], tc.agent, f, a, len(s.Buckets), tc.findings, tc.alerts)
		}
	}
	var s stats
	e.get(keySupRed, "/api/agents/ann/stats", &s)
	if len(s.Buckets) < 24 || len(s.Buckets) > 25 {
		t.Errorf("default: %d buckets, want a day of hours", len(s.Buckets))
	}
	for _, q := range []string{"bucket=1s", "bucket=0", "bucket=x", "since=x", "since=8760h&bucket=1m"} {
		wantError(t, q, e.do(req{path: "/api/agents/ann/stats?" + q, hdr: key(keySupRed)}), 400, "bad_request")
	}
}

// TestCounters: per kind, per finding and the backlog, for the
// principal's tenant and teams.
func TestCounters(t *testing.T) {
	e := setup(t, testConfig(), nil)
	type counters struct {
		Window   string
		Alerts   map[string]int
		Findings map[string]int
		Open     map[string]int
	}
	var c counters
	get := func(k, path string) {
		c = counters{} // a fresh value: Unmarshal adds to the maps it finds
		e.get(k, path, &c)
	}
	get(keyAdminAcme, "/api/counters")
	if c.Window != "1h" || c.Alerts["complaint"] != 2 || c.Alerts["wait"] != 2 || c.Alerts["risk"] != 1 ||
		c.Findings["privacy.phone"] != 2 || c.Open["critical"] != 1 || c.Open["low"] != 2 {
		t.Errorf("admin acme: %+v", c)
	}
	get(keySupRed, "/api/counters?window=24h")
	if c.Window != "24h" || c.Alerts["complaint"] != 1 || c.Alerts["wait"] != 1 || c.Alerts["risk"] != 0 || c.Open["high"] != 0 {
		t.Errorf("sup red: %+v", c)
	}
	get(keySupNone, "/api/counters")
	if len(c.Alerts) != 1 || c.Alerts["risk"] != 1 || len(c.Findings) != 0 {
		t.Errorf("sup of no team: %+v", c)
	}
	get(keyAdminGlobex, "/api/counters")
	if len(c.Alerts) != 1 || c.Alerts["complaint"] != 1 || c.Open["high"] != 1 {
		t.Errorf("admin globex: %+v", c)
	}
	get(keyAdminAcme, "/api/counters?team=red")
	if c.Alerts["complaint"] != 1 || c.Alerts["risk"] != 0 {
		t.Errorf("admin acme team=red: %+v", c)
	}
	wantError(t, "window=7d", e.do(req{path: "/api/counters?window=7d", hdr: key(keyAdminAcme)}), 400, "bad_request")
}

// TestDeadLetters: the operator's admins only.
func TestDeadLetters(t *testing.T) {
	e := setup(t, testConfig(), nil)
	if err := e.store.Dead(context.Background(), "n1-key", "wecom-night", "high complaint: conv-bob", "HTTP 400"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		DeadLetters []map[string]any `json:"dead_letters"`
	}
	e.get(keyAdminAcme, "/api/dead-letters?limit=10", &got)
	if len(got.DeadLetters) != 1 || got.DeadLetters[0]["channel"] != "wecom-night" || got.DeadLetters[0]["error"] != "HTTP 400" {
		t.Errorf("dead letters %+v", got)
	}
	for _, k := range []string{keySupRed, keyAuditorRed, keySupNone, keyAdminGlobex} {
		wantError(t, "dead letters", e.do(req{path: "/api/dead-letters", hdr: key(k)}), 403, "forbidden")
	}
	wantError(t, "limit=1000", e.do(req{path: "/api/dead-letters?limit=1000", hdr: key(keyAdminAcme)}), 400, "bad_request")

	dev := setup(t, api.Config{}, nil)
	if r := dev.do(req{path: "/api/dead-letters"}); r.status != 200 {
		t.Errorf("dev dead letters: %d %s", r.status, r.body)
	}
}

// TestUnauthenticatedEverywhere: every API endpoint wants a credential.
func TestUnauthenticatedEverywhere(t *testing.T) {
	e := setup(t, testConfig(), nil)
	id := itoa(e.alerts["ann critical"].ID)
	for _, r := range []req{
		{path: "/api/me"}, {path: "/api/alerts"}, {path: "/api/alerts/" + id},
		{method: "POST", path: "/api/alerts/" + id + "/transition", body: `{"to":"resolved"}`},
		{path: "/api/conversations/conv-ann"}, {path: "/api/agents/ann/stats"}, {path: "/api/counters"},
		{path: "/api/stream"}, {path: "/api/dead-letters"},
	} {
		wantError(t, r.method+" "+r.path, e.do(r), http.StatusUnauthorized, "unauthenticated")
	}
}
