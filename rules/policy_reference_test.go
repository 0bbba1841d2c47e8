package rules

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestPolicyMatchesReference: the default policy decides as the reference
// copy of it (testdata/reference_policy, the modules before they were
// rewritten for speed) on generated drafts: every role, language, tenant,
// kind, severity, model score and conversation around its thresholds, with
// fields missing, under the bundle's data and variations of it (tenant
// overrides of actions, thresholds and model bands, other caps, alert
// specs that merge, a misspelt level, no tenants, no thresholds) and with
// custom and shadow rules beside it. The decisions are compared as the
// values the policy produced, before decoding.
func TestPolicyMatchesReference(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	base := readBundleData(t)
	extra := map[string]string{
		"none": "",
		"custom and shadow": `package xunjian.custom

reasons contains {"rule": "vip.block", "action": "block", "message": "vip"} if {
	input.tenant.id == "t1"
	input.conversation.customer_escalations >= 2
}

reasons contains {"rule": "typo.blok", "action": "blok", "message": "typo", "finding": i} if {
	some i, f in input.findings
	f.lexicon == "typo"
}
`,
		"shadow only": `package xunjian.shadow

reasons contains {"rule": "rude.shadow.block", "action": "block", "message": "trial", "finding": i} if {
	some i, f in input.findings
	f.kind == "rude"
}

reasons contains {"rule": "escalated.shadow.confirm", "action": "confirm", "message": "trial"} if {
	input.conversation.customer_escalations >= 3
}
`,
	}
	for dname, edit := range dataVariants() {
		data := deepCopyMap(base)
		edit(data["xunjian"].(map[string]any))
		for ename, module := range extra {
			t.Run(dname+"/"+ename, func(t *testing.T) {
				ref := policyWith(t, "testdata/reference_policy", data, module)
				cur := policyWith(t, "bundle", data, module)
				rng := rand.New(rand.NewPCG(uint64(len(dname)), uint64(len(ename))))
				ctx := context.Background()
				for i := range n {
					doc := genInput(rng)
					in, err := ast.InterfaceToValue(doc)
					if err != nil {
						t.Fatal(err)
					}
					want, werr := ref.evalValue(ctx, in, nil)
					got, gerr := cur.evalValue(ctx, in, nil)
					if (werr != nil) != (gerr != nil) || werr == nil && !want.Equal(got) {
						b, _ := json.Marshal(doc)
						t.Fatalf("input %d %s:\n  reference %v %v\n  policy    %v %v", i, b, want, werr, got, gerr)
					}
				}
			})
		}
	}
}

func readBundleData(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("bundle/xunjian/data.json")
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	return map[string]any{"xunjian": data}
}

// dataVariants edit data.xunjian.
func dataVariants() map[string]func(x map[string]any) {
	cfg := func(x map[string]any) map[string]any { return x["config"].(map[string]any) }
	return map[string]func(x map[string]any){
		"bundle data": func(map[string]any) {},
		"tenants": func(x map[string]any) {
			x["tenants"] = map[string]any{
				"t1": map[string]any{
					"actions":     map[string]any{"tone.impatient": "block", "link.external": "allow", "privacy.shoe_size": "warn"},
					"thresholds":  map[string]any{"risk": 0.3, "wait": 30},
					"model_bands": map[string]any{"tone.rude": map[string]any{"warn": 0.2, "block": 0.5}},
				},
				"t2": map[string]any{"thresholds": map[string]any{"wait": 5}},
				"t3": map[string]any{},
				"t4": map[string]any{"actions": map[string]any{}, "thresholds": map[string]any{}},
			}
		},
		"caps and alerts": func(x map[string]any) {
			c := cfg(x)
			c["info_max_action"] = "block"
			kinds := c["kinds"].(map[string]any)
			kinds["complaint.risk"].(map[string]any)["alert"] = map[string]any{
				"level": "critical", "kind": "complaint", "roles": []any{"customer", "agent"},
				"message": map[string]any{"zh": "顾客威胁投诉或升级", "en": "x"},
			}
			kinds["tone.rude"].(map[string]any)["alert"].(map[string]any)["level"] = "hgih"
			kinds["privacy.email"].(map[string]any)["roles"] = []any{"customer"}
		},
		"no tenants, thresholds or caps": func(x map[string]any) {
			delete(x, "tenants")
			c := cfg(x)
			delete(c["thresholds"].(map[string]any), "risk")
			delete(c["conversation_alerts"].(map[string]any), "wait")
			c["info_max_action"] = "blok"
		},
	}
}

// policyWith loads the modules of dir with data and, if not empty, one
// more module.
func policyWith(t *testing.T, dir string, data map[string]any, module string) *Policy {
	t.Helper()
	dst := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dst, "xunjian"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "xunjian", "*.rego"))
	if err != nil || len(files) == 0 {
		t.Fatalf("modules of %s: %v", dir, err)
	}
	for _, f := range files {
		if isTest(f) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "xunjian", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(data["xunjian"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "xunjian", "data.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if module != "" {
		if err := os.WriteFile(filepath.Join(dst, "xunjian", "zz_extra.rego"), []byte(module), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Load(context.Background(), dst, WithoutDecisionCache())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

var (
	refKinds = []string{
		"privacy.credential", "privacy.id_card", "privacy.phone", "privacy.email", "privacy.shoe_size",
		"diversion.contact", "diversion.payment", "tone.rude", "tone.profanity", "tone.dismissive",
		"tone.impatient", "commitment.guarantee", "commitment.compensation", "commitment.absolute_claim",
		"link.external", "complaint.escalation", "complaint.risk",
	}
	refSeverities = []string{"info", "low", "medium", "high", "critical", "severe"}
	refRoles      = []any{"agent", "customer", "bot", ""}
	refLangs      = []any{"zh", "en", "en-US", "", "fr"}
	refTenants    = []any{"t1", "t2", "t3", "t4", "", "other"}
	refRisks      = []float64{0, 0.1, 0.29, 0.3, 0.79, 0.8, 0.95, 1}
	refWaits      = []float64{0, 5, 29, 30, 179, 180, 600}
)

// genInput generates an input document, sometimes with fields missing.
func genInput(rng *rand.Rand) map[string]any {
	pick := func(xs []any) any { return xs[rng.IntN(len(xs))] }
	var findings []any
	for range rng.IntN(5) {
		if rng.IntN(3) > 0 && len(findings) > 0 {
			// Often a kind twice: the alerts' per-kind logic.
			findings = append(findings, findings[rng.IntN(len(findings))])
			continue
		}
		k := refKinds[rng.IntN(len(refKinds))]
		var det, kind string
		for i := range k {
			if k[i] == '.' {
				det, kind = k[:i], k[i+1:]
				break
			}
		}
		f := map[string]any{
			"detector": det, "kind": kind, "severity": refSeverities[rng.IntN(len(refSeverities))],
			"score": float64(rng.IntN(101)) / 100, "start": 0, "end": 4, "evidence": "xxxx",
		}
		switch rng.IntN(5) {
		case 0:
			f["rule"] = "model:v1"
		case 1:
			f["rule"] = det + "." + kind + ".r"
		case 2:
			f["lexicon"] = "typo"
		}
		findings = append(findings, f)
	}
	risk := refRisks[rng.IntN(len(refRisks))]
	if rng.IntN(4) == 0 {
		risk = rng.Float64()
	}
	doc := map[string]any{
		"draft":    map[string]any{"text": "x", "normalized": "x", "role": pick(refRoles), "lang": pick(refLangs)},
		"findings": findings,
		"conversation": map[string]any{
			"id": "c", "turns": 2, "customer_escalations": rng.IntN(4),
			"risk": risk, "wait_seconds": refWaits[rng.IntN(len(refWaits))],
		},
		"agent":  map[string]any{"id": "a"},
		"tenant": map[string]any{"id": pick(refTenants)},
	}
	if findings == nil {
		doc["findings"] = []any{}
	}
	// Fields missing, one in four.
	if rng.IntN(4) == 0 {
		switch rng.IntN(6) {
		case 0:
			delete(doc["draft"].(map[string]any), "role")
		case 1:
			delete(doc["draft"].(map[string]any), "lang")
		case 2:
			delete(doc, "tenant")
		case 3:
			delete(doc["conversation"].(map[string]any), "wait_seconds")
		case 4:
			delete(doc, "findings")
		case 5:
			delete(doc, "conversation")
		}
	}
	return doc
}
