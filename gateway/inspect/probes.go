package inspect

import (
	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/rules"
)

// Probes returns the inputs a policy version is evaluated on before it
// serves (rules.ReloaderOptions.Probes, rules.CheckOptions.Probes): every
// taxonomy kind alone at each severity, all kinds at once, and no finding,
// for both roles, in a calm and in a heated conversation (high risk, a long
// wait, escalations). A rule that reads findings, roles or the
// conversation is reached by at least one of them, so a decision that
// breaks the decision schema (a misspelt action, say) refuses the bundle
// instead of failing live drafts.
func Probes() []*rules.Input {
	type finding struct{ detector, kind string }
	var all []finding
	for _, fam := range detectors.Families() {
		for _, k := range detectors.Kinds(fam) {
			all = append(all, finding{fam, k})
		}
	}
	convs := []rules.Conversation{
		{ID: "probe-calm", Turns: 1},
		{ID: "probe-heated", Turns: 12, CustomerEscalations: 3, Risk: 0.95, WaitSeconds: 900},
	}
	mk := func(role string, conv rules.Conversation, fs []rules.Finding) *rules.Input {
		lang := "zh"
		if len(fs)%2 == 1 {
			lang = "en"
		}
		return &rules.Input{
			Draft:        rules.Draft{Text: "probe", Normalized: "probe", Role: role, Lang: lang},
			Findings:     fs,
			Conversation: conv,
			Agent:        rules.Agent{ID: "probe-agent"},
			Tenant:       rules.Tenant{ID: "probe-tenant"},
		}
	}
	one := func(f finding, sev string) rules.Finding {
		return rules.Finding{Detector: f.detector, Kind: f.kind, Severity: sev, Score: 0.9, Start: 0, End: 5, Evidence: "probe"}
	}
	var out []*rules.Input
	for _, role := range []string{RoleAgent, RoleCustomer} {
		for _, conv := range convs {
			out = append(out, mk(role, conv, []rules.Finding{}))
			every := make([]rules.Finding, 0, len(all))
			for _, f := range all {
				every = append(every, one(f, "high"))
				for _, sev := range []string{"low", "medium", "high", "critical"} {
					out = append(out, mk(role, conv, []rules.Finding{one(f, sev)}))
				}
			}
			out = append(out, mk(role, conv, every))
		}
	}
	return out
}
