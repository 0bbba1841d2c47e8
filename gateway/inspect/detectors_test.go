package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/commitment"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/detectors/diversion"
	"github.com/xunjian/xunjian/detectors/link"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/registry"
	"github.com/xunjian/xunjian/detectors/tone"
	"github.com/xunjian/xunjian/rules"
)

// TestLexiconVersionFromRegistry: the lexicon version is in cache keys and
// shown at /v1/policy, so it must not change with how the detectors are
// built. It is the versions of the default detectors joined with dots in
// the order privacy, tone, diversion, commitment, link, complaint, which
// is the registry's order; the families a model judges with (tone,
// complaint) add the model's version after a "+", so a new model, like a
// new lexicon, is a new version.
func TestLexiconVersionFromRegistry(t *testing.T) {
	in := defaultInspector(t)
	var parts []string
	for _, build := range []func() (detectors.Versioner, error){
		func() (detectors.Versioner, error) { return privacy.Default() },
		func() (detectors.Versioner, error) { return tone.Default() },
		func() (detectors.Versioner, error) { return diversion.Default() },
		func() (detectors.Versioner, error) { return commitment.Default() },
		func() (detectors.Versioner, error) { return link.Default() },
		func() (detectors.Versioner, error) { return complaint.Default() },
	} {
		d, err := build()
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, d.Version())
	}
	m, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	parts[1] += "+" + m.Version()
	parts[5] += "+" + m.Version()
	if got, want := in.LexiconVersion(), strings.Join(parts, "."); got != want {
		t.Errorf("LexiconVersion() = %s, want %s", got, want)
	}
	var order []string
	for _, fam := range registry.Families() {
		order = append(order, fam.Name)
	}
	if want := []string{"privacy", "tone", "diversion", "commitment", "link", "complaint"}; !slices.Equal(order, want) {
		t.Errorf("registry order %v, want %v: the lexicon version follows it", order, want)
	}
}

func detectorNames(ds []detectors.Detector) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name())
	}
	return out
}

// TestDetectorLists: agent drafts and customer messages run the detectors
// of their role in registry order, for every tenant (findings follow that
// order); a tenant with additions gets its own tone, diversion, commitment
// and link detectors around the one shared privacy and complaint detector.
func TestDetectorLists(t *testing.T) {
	p, err := rules.Load(context.Background(), bundleWith(t, map[string]string{"xunjian/tenants/acme/data.json": acmeData}))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	acme, ok := in.byTenant["acme"]
	if !ok {
		t.Fatal("tenant acme has no detectors of its own")
	}
	agent := []string{"privacy", "tone", "diversion", "commitment", "link"}
	customer := []string{"privacy", "tone", "diversion", "link", "complaint"}
	tests := []struct {
		name string
		got  []detectors.Detector
		want []string
	}{
		{"agent", in.agent, agent},
		{"customer", in.customer, customer},
		{"acme agent", acme[0], agent},
		{"acme customer", acme[1], customer},
	}
	for _, tt := range tests {
		if got := detectorNames(tt.got); !slices.Equal(got, tt.want) {
			t.Errorf("%s detectors %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, set := range [][]detectors.Detector{in.agent, in.customer, acme[0], acme[1]} {
		for _, d := range set {
			if d.Name() == "privacy" && d != detectors.Detector(in.privacy) || d.Name() == "complaint" && d != detectors.Detector(in.complaint) {
				t.Errorf("%s detector %p is not the shared one", d.Name(), d)
			}
		}
	}
	if acme[0][1] == in.agent[1] || acme[0][4] == in.agent[4] {
		t.Error("acme shares the tone or link detector of the other tenants despite its additions")
	}
}

// TestTenantConfigsFamilies: a tenant may extend the lexicons of the
// registry's tenant-extensible families only, and the error lists them.
func TestTenantConfigsFamilies(t *testing.T) {
	const only = "a tenant may extend only tone, diversion, commitment and link"
	tests := []struct {
		family string
		ok     bool
	}{
		{"tone", true}, {"diversion", true}, {"commitment", true}, {"link", true},
		{"privacy", false}, {"complaint", false}, {"shoes", false},
	}
	for _, tt := range tests {
		data := map[string]any{"xunjian": map[string]any{"tenants": map[string]any{
			"acme": map[string]any{"lexicons": map[string]any{tt.family: map[string]any{"allow": []any{"x"}}}},
		}}}
		got, err := tenantConfigs(data, registry.Families())
		if tt.ok {
			if _, ok := got["acme"].lexicons[tt.family]; err != nil || !ok {
				t.Errorf("%s: tenantConfigs = %v, %v; want acme's %s additions", tt.family, got, err, tt.family)
			}
			continue
		}
		if want := "data.xunjian.tenants.acme.lexicons." + tt.family + ": " + only; err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", tt.family, err, want)
		}
	}
}

func TestAndList(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "b"}, "a and b"},
		{[]string{"a", "b", "c"}, "a, b and c"},
	}
	for _, tt := range tests {
		if got := andList(tt.in); got != tt.want {
			t.Errorf("andList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkNew measures building an Inspector for the default policy:
// every detector from its embedded lexicon. It runs once per policy
// version, never per request.
func BenchmarkNew(b *testing.B) {
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTenantScanners: a tenant whose lexicons are the base's (a link
// allowlist of its own) matches them with the base's one-pass scanner; a
// tenant that extends a lexicon matches family by family (no scanner of
// its own: one is about 10 MB), and finds the same as with one.
func TestTenantScanners(t *testing.T) {
	p, err := rules.Load(context.Background(), bundleWith(t, map[string]string{
		"xunjian/tenants/acme/data.json": acmeData,
		"xunjian/tenants/beta/data.json": `{"link_allow": ["beta.example"]}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := in.tenantScan["beta"]; got != in.scan {
		t.Errorf("beta's scanners %p, want the base's %p", got, in.scan)
	}
	if got := in.tenantScan["acme"]; got[0] != nil {
		t.Errorf("acme (its own tone lexicon) has an agent scanner %p, want none", got[0])
	}
	var buf normalize.Buffer
	for _, text := range []string{"小宝贝你是不是傻，加我微信abc12345", "全网最低价，我保证今天发货"} {
		var one, own normalize.Text
		in.norm.NormalizeInto(&one, &buf, text)
		got := fmt.Sprint(in.detect(&one, "acme", RoleAgent, nil))
		in.norm.NormalizeInto(&own, &buf, text)
		var want []detectors.Finding
		for _, d := range in.byTenant["acme"][0] {
			want = d.Detect(&own, want)
		}
		if got != fmt.Sprint(want) {
			t.Errorf("acme %q: %s, want %v", text, got, want)
		}
	}
}
