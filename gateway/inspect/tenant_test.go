package inspect

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/internal/corpora"
	"github.com/xunjian/xunjian/rules"
)

// acmeData changes everything a tenant can change: a tone entry, an allow
// phrase, a link host, an action and a threshold.
const acmeData = `{
  "lexicons": {
    "tone": {"entries": [{"id": "acme.rude.pet", "kind": "rude", "severity": "high", "terms": ["小宝贝"]}]},
    "commitment": {"allow": ["全网最低价"]}
  },
  "link_allow": ["acme.example"],
  "actions": {"tone.impatient": "block", "privacy.phone": "block"},
  "thresholds": {"risk": 0.3}
}`

// tenantProbes are messages that touch what acme changes, plus corpus
// turns.
func tenantProbes(t *testing.T) []Request {
	probes := []string{
		"亲，小宝贝，您的快递明天到",
		"这款是全网最低价，放心买",
		"详情见 http://acme.example/p/1 和 http://other.example/p/2",
		"我已经说过了，你自己看上面",
		"您的手机 13812345678 已登记",
		"你有病吧",
		"I already told you, read my previous message.",
	}
	var reqs []Request
	for _, role := range []string{RoleAgent, RoleCustomer} {
		for _, p := range probes {
			reqs = append(reqs, Request{Text: p, Role: role})
		}
	}
	for _, name := range []string{"crosswoz_zh", "multiwoz_en"} {
		us := readJSONL(t, corpora.File(t, name+"/utterances.jsonl"))
		for i := 0; i < len(us) && i < 3000; i += 10 {
			role := RoleAgent
			if us[i].Role != "agent" && us[i].Role != "system" && us[i].Role != "assistant" {
				role = RoleCustomer
			}
			reqs = append(reqs, Request{Text: us[i].Text, Role: role, ConversationID: us[i].DialogueID})
		}
	}
	return reqs
}

// decide runs reqs for tenant through in, conversations in order, and
// returns what a client and the stream see of each verdict.
func decide(t *testing.T, in *Inspector, tenant string, reqs []Request) []string {
	t.Helper()
	convs := map[string]*Conversation{}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var out []string
	for i, r := range reqs {
		r.TenantID = tenant
		c := convs[r.ConversationID]
		if c == nil {
			c = &Conversation{ID: r.ConversationID}
			convs[r.ConversationID] = c
		}
		v, err := inspectInto(in, context.Background(), r, c, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var rs []string
		for _, x := range v.Reasons {
			rs = append(rs, x.Rule)
		}
		var fs []string
		for _, f := range v.Findings {
			fs = append(fs, fmt.Sprintf("%s.%s[%d:%d]%s", f.Detector, f.Kind, f.Start, f.End, f.Evidence))
		}
		var as []string
		for _, a := range v.Alerts {
			as = append(as, a.Level+":"+a.Kind)
		}
		out = append(out, fmt.Sprintf("%s | %v | %v | %v | %q", v.Action, rs, fs, as, v.Redacted))
	}
	return out
}

// TestTenantIsolation: one tenant's lexicon additions, link hosts, actions
// and thresholds change its own decisions and never another tenant's:
// every other tenant decides exactly as with a bundle without them.
func TestTenantIsolation(t *testing.T) {
	load := func(bundle string) *Inspector {
		p, err := rules.Load(context.Background(), bundle)
		if err != nil {
			t.Fatal(err)
		}
		in, err := New(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		return in
	}
	base := load(bundleWith(t, nil))
	changed := load(bundleWith(t, map[string]string{"xunjian/tenants/acme/data.json": acmeData}))
	reqs := tenantProbes(t)
	for _, tenant := range []string{"other", "default", "acmex", ""} {
		want, got := decide(t, base, tenant, reqs), decide(t, changed, tenant, reqs)
		if !reflect.DeepEqual(want, got) {
			for i := range want {
				if want[i] != got[i] {
					t.Errorf("tenant %q, message %q: acme's change leaked:\n  before %s\n  after  %s", tenant, reqs[i].Text, want[i], got[i])
				}
			}
		}
	}
	// And acme's own decisions changed as its data says.
	acme := decide(t, changed, "acme", reqs[:7])
	before := decide(t, base, "acme", reqs[:7])
	for i, want := range []string{"tone.rude", "", "", "tone.impatient.block", "privacy.phone.block", "", ""} {
		if want == "" {
			continue
		}
		if acme[i] == before[i] || !containsStr(acme[i], want) {
			t.Errorf("acme, %q: %s (before %s), want %s", reqs[i].Text, acme[i], before[i], want)
		}
	}
	if containsStr(acme[1], "absolute_claim") || !containsStr(before[1], "absolute_claim") {
		t.Errorf("acme's allow phrase: %s (before %s)", acme[1], before[1])
	}
	if containsStr(acme[2], "acme.example") || !containsStr(acme[2], "other.example") {
		t.Errorf("acme's link host: %s", acme[2])
	}
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }

func TestTenantLexiconErrors(t *testing.T) {
	for name, data := range map[string]string{
		"privacy is shared":   `{"lexicons": {"privacy": {"entries": []}}}`,
		"lexicons not object": `{"lexicons": ["tone"]}`,
		"bad entry":           `{"lexicons": {"tone": {"entries": [{"id": "x", "kind": "rude", "terms": "小宝贝"}]}}}`,
	} {
		p, err := rules.Load(context.Background(), bundleWith(t, map[string]string{"xunjian/tenants/acme/data.json": data}))
		if err != nil {
			t.Fatal(err)
		}
		if in, err := New(p, Options{}); err == nil || !strings.Contains(err.Error(), "acme") {
			if in != nil {
				in.Close()
			}
			t.Errorf("%s: err = %v, want one naming the tenant", name, err)
		}
	}
}
