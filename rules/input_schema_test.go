package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/registry"
)

// compileInputSchema is NewInputChecker, failing the test on an error.
func compileInputSchema(t testing.TB) *InputChecker {
	t.Helper()
	c, err := NewInputChecker()
	if err != nil {
		t.Fatalf("input schema: %v", err)
	}
	return c
}

// valueJSON encodes an AST value the way the policy reads it.
func valueJSON(v ast.Value) ([]byte, error) {
	x, err := ast.JSON(v)
	if err != nil {
		return nil, fmt.Errorf("ast to JSON: %w", err)
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("encode AST value: %w", err)
	}
	return b, nil
}

// decodeAny decodes b into plain Go values (float64 numbers), for
// comparing documents.
func decodeAny(b []byte) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	return v, nil
}

// within reports where part has a member or a value that whole, at the
// same place, does not.
func within(part, whole any, at string) error {
	p, ok := part.(map[string]any)
	if !ok {
		if !reflect.DeepEqual(part, whole) {
			return fmt.Errorf("%s: differs from the full document", at)
		}
		return nil
	}
	w, ok := whole.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: an object where the full document has none", at)
	}
	for k, v := range p {
		wv, ok := w[k]
		if !ok {
			return fmt.Errorf("%s/%s: not in the full document", at, k)
		}
		if err := within(v, wv, at+"/"+k); err != nil {
			return err
		}
	}
	return nil
}

// bundleWithTenantAndLexicon is the default bundle plus a tenant override
// and a lexicon addition, so that its probes carry a tenant id and a
// lexicon-entry finding.
func bundleWithTenantAndLexicon(t *testing.T) fs.FS {
	t.Helper()
	src, dir := DefaultBundle()
	m := fstest.MapFS{}
	err := fs.WalkDir(src, dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		m[path] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m[dir+"/xunjian/tenants/acme/data.json"] = &fstest.MapFile{Data: []byte(`{"thresholds": {"wait": 60}, "actions": {"tone.impatient": "confirm"}}`)}
	m[dir+"/xunjian/lexicon_additions/data.json"] = &fstest.MapFile{Data: []byte(`{"commitment": {"entries": [
		{"id": "commitment.early_receipt", "kind": "compensation", "severity": "medium", "score": 0.85, "terms": ["先确认收货"]}]}}`)}
	return m
}

// TestInputSchemaProbes validates every probe input of a policy against
// input.schema.json in both of its encodings: the AST document the policy
// is evaluated on (every field) and Input's JSON encoding (what an OPA
// server would be sent); the two must be the same document, and the
// projection the policy actually sees (the fields its modules read) must
// be part of it.
func TestInputSchemaProbes(t *testing.T) {
	sch := compileInputSchema(t)
	ctx := context.Background()
	tests := []struct {
		name string
		load func(t *testing.T) (*Policy, error)
		// want is checked on the probe set, so that the table keeps
		// covering what it is meant to.
		wantTenant, wantLexicon bool
	}{
		{
			name: "built-in policy",
			load: func(*testing.T) (*Policy, error) { return Load(ctx, "") },
		},
		{
			name: "built-in policy with a tenant and a lexicon addition",
			load: func(t *testing.T) (*Policy, error) {
				return LoadFS(ctx, bundleWithTenantAndLexicon(t), defaultBundleDir)
			},
			wantTenant: true, wantLexicon: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.load(t)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			probes := Probes(p)
			if len(probes) == 0 {
				t.Fatal("no probes")
			}
			var sawTenant, sawLexicon bool
			failed := 0
			for i, in := range probes {
				sawTenant = sawTenant || in.Tenant.ID != ""
				for _, f := range in.Findings {
					sawLexicon = sawLexicon || f.Lexicon != ""
				}
				if err := checkInputEncodings(sch, in, p.fields); err != nil {
					if failed++; failed <= maxReported {
						t.Errorf("probe %d (%s): %v", i, describeProbe(in), err)
					}
				}
			}
			if failed > maxReported {
				t.Errorf("… and %d more of %d probes", failed-maxReported, len(probes))
			}
			if tt.wantTenant && !sawTenant {
				t.Error("no probe carries a tenant id")
			}
			if tt.wantLexicon && !sawLexicon {
				t.Error("no probe carries a lexicon id")
			}
		})
	}
}

// maxReported is how many failing probes a test reports one by one.
const maxReported = 5

// checkInputEncodings validates in's full AST document and its JSON
// encoding against sch, checks that they are the same document, and that
// the projection on mask is part of it.
func checkInputEncodings(sch *InputChecker, in *Input, mask fieldMask) error {
	full, err := valueJSON(in.astValue(allFields))
	if err != nil {
		return err
	}
	if err := sch.Check(full); err != nil {
		return fmt.Errorf("AST document: %w", err)
	}
	enc, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode input: %w", err)
	}
	if err := sch.Check(enc); err != nil {
		return fmt.Errorf("JSON encoding: %w", err)
	}
	a, err := decodeAny(full)
	if err != nil {
		return err
	}
	b, err := decodeAny(enc)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("the AST document and the JSON encoding differ:\n  ast  %s\n  json %s", full, enc)
	}
	proj, err := valueJSON(in.astValue(mask))
	if err != nil {
		return err
	}
	pv, err := decodeAny(proj)
	if err != nil {
		return err
	}
	if err := within(pv, a, ""); err != nil {
		return fmt.Errorf("projection: %w", err)
	}
	return nil
}

// TestInputSchemaEncodings checks the encodings of inputs the probes do not
// build: a finding with a rule id, whole and fractional numbers, no
// findings.
func TestInputSchemaEncodings(t *testing.T) {
	sch := compileInputSchema(t)
	tests := []struct {
		name string
		in   Input
	}{
		{"finding with rule and lexicon", Input{
			Draft: Draft{Text: "请把手机收到的验证码告诉我", Normalized: "请把手机收到的验证码告诉我", Role: "agent", Lang: "zh"},
			Findings: []Finding{{Detector: "privacy", Kind: "credential", Severity: "critical", Score: 0.85, Start: 7, End: 13,
				Evidence: "验证码告诉我", Rule: "privacy.credential.ask", Lexicon: "privacy.credential.ask.zh"}},
			Conversation: Conversation{ID: "c1", Turns: 1},
			Agent:        Agent{ID: "a7"}, Tenant: Tenant{ID: "acme"},
		}},
		{"customer, risk and a long wait", Input{
			Draft: Draft{Text: "再不处理我就打12315投诉你们", Normalized: "再不处理我就打12315投诉你们", Role: "customer", Lang: "zh"},
			Findings: []Finding{
				{Detector: "complaint", Kind: "escalation", Severity: "high", Score: 0.95, Start: 7, End: 12, Evidence: "12315", Lexicon: "escalation.regulator"},
				{Detector: "complaint", Kind: "risk", Severity: "high", Score: 0.8634, Start: 0, End: 16},
			},
			Conversation: Conversation{ID: "c1", Turns: 7, CustomerEscalations: 3, Risk: 0.8634, WaitSeconds: 612.25},
			Tenant:       Tenant{ID: "default"},
		}},
		{"no findings, no ids", Input{
			Draft:        Draft{Text: "Thanks for waiting!", Normalized: "thanks for waiting!", Role: "agent", Lang: "en"},
			Findings:     []Finding{},
			Conversation: Conversation{Turns: 1, WaitSeconds: 1000},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkInputEncodings(sch, &tt.in, allFields); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestInputSchemaTaxonomy: the schema's detectors, kinds and severities are
// the detectors' taxonomy, so that a kind added to a detector without the
// schema fails here.
func TestInputSchemaTaxonomy(t *testing.T) {
	type enum struct {
		Enum  []string `json:"enum"`
		Const string   `json:"const"`
	}
	var s struct {
		Defs struct {
			Finding struct {
				Properties struct {
					Detector enum `json:"detector"`
				} `json:"properties"`
				AllOf []struct {
					If struct {
						Properties struct {
							Detector enum `json:"detector"`
						} `json:"properties"`
					} `json:"if"`
					Then struct {
						Properties struct {
							Kind enum `json:"kind"`
						} `json:"properties"`
					} `json:"then"`
				} `json:"allOf"`
			} `json:"finding"`
			Severity enum `json:"severity"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(InputSchema(), &s); err != nil {
		t.Fatal(err)
	}
	f := s.Defs.Finding
	// The enum lists the families in the DESIGN taxonomy's order, which
	// taxonomy() follows; TestTaxonomyMatchesDetectors holds taxonomy()
	// equal to the registry's families and kinds, which run in another
	// order (complaint last).
	var families []string
	for _, name := range taxonomy() {
		fam, _, _ := strings.Cut(name, ".")
		if !slices.Contains(families, fam) {
			families = append(families, fam)
		}
	}
	if got, want := f.Properties.Detector.Enum, families; !slices.Equal(got, want) {
		t.Errorf("detector enum = %v, want the taxonomy's families %v", got, want)
	}
	kinds := map[string][]string{}
	for _, c := range f.AllOf {
		kinds[c.If.Properties.Detector.Const] = c.Then.Properties.Kind.Enum
	}
	for _, fam := range registry.Families() {
		if got, want := kinds[fam.Name], fam.Kinds; !slices.Equal(got, want) {
			t.Errorf("%s kinds = %v, want the registry's %v", fam.Name, got, want)
		}
		delete(kinds, fam.Name)
	}
	for fam := range kinds {
		t.Errorf("the schema has kinds for %q, which is no detector family", fam)
	}
	if got := s.Defs.Severity.Enum; !slices.Equal(got, severities) {
		t.Errorf("severity enum = %v, want %v", got, severities)
	}
	for _, sev := range s.Defs.Severity.Enum {
		if _, err := detectors.ParseSeverity(sev); err != nil {
			t.Errorf("severity %q: %v", sev, err)
		}
	}
}

// TestInputSchemaRejects: the schema is closed and its enums bite, so that
// the tests above can fail: a document with a field input.go does not
// build, or a value outside an enum, is refused at the right place.
func TestInputSchemaRejects(t *testing.T) {
	sch := compileInputSchema(t)
	base := Input{
		Draft: Draft{Text: "您的手机 138 1234 5678 已登记", Normalized: "您的手机 13812345678 已登记", Role: "agent", Lang: "zh"},
		Findings: []Finding{{Detector: "privacy", Kind: "phone", Severity: "medium", Score: 0.97, Start: 5, End: 18,
			Evidence: "138 **** 5678"}},
		Conversation: Conversation{ID: "c1", Turns: 2, Risk: 0.1, WaitSeconds: 30},
		Agent:        Agent{ID: "a7"},
		Tenant:       Tenant{ID: "acme"},
	}
	// A field added to input.go's types, as the Go structs would encode it.
	type draftPlus struct {
		Draft
		Channel string `json:"channel"`
	}
	type inputPlus struct {
		Input
		Draft draftPlus `json:"draft"`
	}
	type inputTop struct {
		Input
		Session string `json:"session"`
	}
	// edit returns base's JSON document changed by f.
	edit := func(f func(doc map[string]any)) func() any {
		return func() any {
			b, err := json.Marshal(base)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			f(doc)
			return doc
		}
	}
	obj := func(doc map[string]any, key string) map[string]any { return doc[key].(map[string]any) }
	finding := func(doc map[string]any) map[string]any { return doc["findings"].([]any)[0].(map[string]any) }
	tests := []struct {
		name string
		doc  func() any
		at   string // the instance location the schema must blame ("" = root)
	}{
		{"field added to Input", func() any { return inputTop{Input: base, Session: "s1"} }, ""},
		{"field added to Draft", func() any { return inputPlus{Input: base, Draft: draftPlus{Draft: base.Draft, Channel: "web"}} }, "/draft"},
		{"unknown top-level field", edit(func(d map[string]any) { d["customer"] = map[string]any{"id": "u1"} }), ""},
		{"unknown conversation field", edit(func(d map[string]any) { obj(d, "conversation")["sentiment"] = 0.2 }), "/conversation"},
		{"unknown agent field", edit(func(d map[string]any) { obj(d, "agent")["name"] = "小王" }), "/agent"},
		{"unknown tenant field", edit(func(d map[string]any) { obj(d, "tenant")["plan"] = "vip" }), "/tenant"},
		{"unknown finding field", edit(func(d map[string]any) { finding(d)["message"] = "手机号" }), "/findings/0"},
		{"severity outside the enum", edit(func(d map[string]any) { finding(d)["severity"] = "severe" }), "/findings/0/severity"},
		{"kind of another family", edit(func(d map[string]any) { finding(d)["kind"] = "rude" }), "/findings/0/kind"},
		{"kind outside the taxonomy", edit(func(d map[string]any) { finding(d)["kind"] = "sarcasm" }), "/findings/0/kind"},
		{"unknown detector", edit(func(d map[string]any) { finding(d)["detector"] = "sentiment" }), "/findings/0/detector"},
		{"role outside the enum", edit(func(d map[string]any) { obj(d, "draft")["role"] = "supervisor" }), "/draft/role"},
		{"empty role", edit(func(d map[string]any) { obj(d, "draft")["role"] = "" }), "/draft/role"},
		{"lang outside the enum", edit(func(d map[string]any) { obj(d, "draft")["lang"] = "fr" }), "/draft/lang"},
		{"empty text", edit(func(d map[string]any) { obj(d, "draft")["text"] = "" }), "/draft/text"},
		{"missing normalized", edit(func(d map[string]any) { delete(obj(d, "draft"), "normalized") }), "/draft"},
		{"missing evidence", edit(func(d map[string]any) { delete(finding(d), "evidence") }), "/findings/0"},
		{"empty rule", edit(func(d map[string]any) { finding(d)["rule"] = "" }), "/findings/0/rule"},
		{"score above 1", edit(func(d map[string]any) { finding(d)["score"] = 1.5 }), "/findings/0/score"},
		{"negative start", edit(func(d map[string]any) { finding(d)["start"] = -1 }), "/findings/0/start"},
		{"fractional end", edit(func(d map[string]any) { finding(d)["end"] = 18.5 }), "/findings/0/end"},
		{"turns as a string", edit(func(d map[string]any) { obj(d, "conversation")["turns"] = "2" }), "/conversation/turns"},
		{"zero turns", edit(func(d map[string]any) { obj(d, "conversation")["turns"] = 0 }), "/conversation/turns"},
		{"risk above 1", edit(func(d map[string]any) { obj(d, "conversation")["risk"] = 2 }), "/conversation/risk"},
		{"findings null", edit(func(d map[string]any) { d["findings"] = nil }), "/findings"},
		{"missing findings", edit(func(d map[string]any) { delete(d, "findings") }), ""},
		{"tenant id a number", edit(func(d map[string]any) { obj(d, "tenant")["id"] = 7 }), "/tenant/id"},
	}
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Check(b); err != nil {
		t.Fatalf("the base document must be valid: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.doc())
			if err != nil {
				t.Fatal(err)
			}
			err = sch.Check(b)
			if err == nil {
				t.Fatalf("accepted %s", b)
			}
			if want := fmt.Sprintf("%q (", tt.at); !strings.Contains(err.Error(), want) {
				t.Errorf("error does not blame %q: %v", tt.at, err)
			}
		})
	}
}
