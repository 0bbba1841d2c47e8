package rules

import (
	"slices"
	"strings"
)

// Probes
//
// A decision that breaks the decision schema (a custom rule asking for
// "blok") is only found by evaluating the rule that makes it, and a rule
// only runs on an input that reaches it. Before a version serves, [Check]
// and the [Reloader] evaluate it on the built-in probe set ([Probes]) and
// refuse it if any decision is invalid, instead of letting live drafts
// discover it as 503 inspection_failed.

// taxonomy lists the finding kinds the detectors emit, "detector.kind",
// as DESIGN.md names them, in its order (the families and kinds of
// detectors/registry; rules does not import the detectors, and a test
// keeps the two lists equal).
func taxonomy() []string {
	return []string{
		"privacy.phone", "privacy.id_card", "privacy.bank_card", "privacy.email", "privacy.address",
		"privacy.passport", "privacy.license_plate", "privacy.credential",
		"tone.rude", "tone.dismissive", "tone.impatient", "tone.profanity",
		"diversion.contact", "diversion.payment",
		"commitment.guarantee", "commitment.compensation", "commitment.absolute_claim",
		"complaint.escalation", "complaint.risk",
		"link.external",
	}
}

// maxProbeTenants and maxProbeLexicons bound the probe set of a bundle
// with many tenants or lexicon entries; the first ones in sorted order are
// probed.
const (
	maxProbeTenants  = 32
	maxProbeLexicons = 512
)

// Probes returns the built-in probe set for p: the inputs [Check] and the
// [Reloader] evaluate a version on before it serves. It covers
//
//   - every taxonomy kind, and every other detector.kind p's data names
//     (config.actions, config.kinds, tenants' actions), alone at each
//     severity, and all of them at once at each severity;
//   - every lexicon entry p's data defines (lexicons, lexicon_additions,
//     tenants' lexicons), as a finding of its kind carrying its id, so
//     that a rule matching on f.lexicon is reached;
//   - both roles (agent, customer) and three conversation states (calm;
//     tense; heated: risk and wait over any default threshold, repeated
//     escalations), in both languages;
//   - no tenant, and each tenant p's data configures (up to 32, with all
//     kinds at once, at each severity).
//
// A rule that reads findings, roles, the conversation or the tenant is
// thus reached by at least one probe; one that reads the draft's text
// may not be (the probes' text is a placeholder). The result is new on
// each call; callers may modify it.
func Probes(p *Policy) []*Input {
	kinds, lexFindings, tenants := probeSpace(p.data)
	roles := []string{"agent", "customer"}
	// Calm; tense (escalations, risk and wait under the default
	// thresholds); heated (high risk, a long wait, repeated escalations).
	convs := []Conversation{
		{ID: "probe-calm", Turns: 1, Risk: 0.05, WaitSeconds: 5},
		{ID: "probe-tense", Turns: 6, CustomerEscalations: 1, Risk: 0.5, WaitSeconds: 60},
		{ID: "probe-heated", Turns: 20, CustomerEscalations: 4, Risk: 0.97, WaitSeconds: 1800},
	}
	one := func(name, sev string) Finding {
		det, kind, _ := strings.Cut(name, ".")
		return Finding{Detector: det, Kind: kind, Severity: sev, Score: 0.9, Start: 0, End: 5, Evidence: "*****"}
	}
	every := func(sev string) []Finding {
		fs := make([]Finding, 0, len(kinds)+len(lexFindings))
		for _, k := range kinds {
			fs = append(fs, one(k, sev))
		}
		return append(fs, lexFindings...)
	}
	var out []*Input
	n := 0
	mk := func(tenant, role string, conv Conversation, fs []Finding) {
		lang := "zh"
		if n%2 == 1 {
			lang = "en"
		}
		n++
		out = append(out, &Input{
			Draft:        Draft{Text: "probe", Normalized: "probe", Role: role, Lang: lang},
			Findings:     fs,
			Conversation: conv,
			Agent:        Agent{ID: "probe-agent"},
			Tenant:       Tenant{ID: tenant},
		})
	}
	for _, role := range roles {
		for ci, conv := range convs {
			mk("", role, conv, []Finding{})
			for _, sev := range severities {
				mk("", role, conv, every(sev))
			}
			for _, k := range kinds {
				mk("", role, conv, []Finding{one(k, "high")})
			}
			for _, f := range lexFindings {
				mk("", role, conv, []Finding{f})
			}
			for _, t := range tenants {
				mk(t, role, conv, every("high"))
			}
			if ci > 0 {
				continue
			}
			// The other severities, alone, in one conversation state: what
			// a severity changes is the finding's reason, not the
			// conversation's alerts.
			for _, sev := range severities {
				if sev == "high" {
					continue
				}
				for _, k := range kinds {
					mk("", role, conv, []Finding{one(k, sev)})
				}
				for _, t := range tenants {
					mk(t, role, conv, every(sev))
				}
			}
		}
	}
	return out
}

// probeSpace reads from a bundle's data what the probes must cover beyond
// the taxonomy: the detector.kind names it configures, its lexicon entries
// (as findings) and its tenants, each sorted.
func probeSpace(data map[string]any) (kinds []string, lex []Finding, tenants []string) {
	kinds = taxonomy()
	addKinds := func(v any) {
		m, _ := v.(map[string]any)
		for k := range m {
			if det, kind, ok := strings.Cut(k, "."); ok && det != "" && kind != "" && !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	x, _ := data["xunjian"].(map[string]any)
	cfg, _ := x["config"].(map[string]any)
	addKinds(cfg["actions"])
	addKinds(cfg["kinds"])
	ts, _ := x["tenants"].(map[string]any)
	for _, id := range sortedKeys(ts) {
		t, _ := ts[id].(map[string]any)
		addKinds(t["actions"])
		if len(tenants) < maxProbeTenants {
			tenants = append(tenants, id)
		}
	}
	slices.Sort(kinds[len(taxonomy()):])

	type key struct{ det, kind, id, sev string }
	seen := map[key]bool{}
	addLexicons := func(v any) {
		fams, _ := v.(map[string]any)
		for _, fam := range sortedKeys(fams) {
			f, _ := fams[fam].(map[string]any)
			entries, _ := f["entries"].([]any)
			for _, e := range entries {
				m, _ := e.(map[string]any)
				id, _ := m["id"].(string)
				kind, _ := m["kind"].(string)
				sev, _ := m["severity"].(string)
				if id == "" || kind == "" {
					continue
				}
				if !slices.Contains(severities, sev) {
					sev = "medium"
				}
				k := key{fam, kind, id, sev}
				if seen[k] || len(lex) >= maxProbeLexicons {
					continue
				}
				seen[k] = true
				lex = append(lex, Finding{Detector: fam, Kind: kind, Severity: sev, Score: 0.9, Start: 0, End: 5, Evidence: "*****", Lexicon: id})
			}
		}
	}
	addLexicons(x["lexicons"])
	addLexicons(x["lexicon_additions"])
	for _, id := range sortedKeys(ts) {
		t, _ := ts[id].(map[string]any)
		addLexicons(t["lexicons"])
	}
	return kinds, lex, tenants
}
